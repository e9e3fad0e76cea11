import { Logger } from '@nestjs/common';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import type { ElectionState } from '../../leadership/election-state.js';
import { monotonicNow } from '../../leadership/monotonic-clock.js';
import { setSafeTimeout } from '../../leadership/timers.js';
import {
  EARLIER_PROCESS_HOLDS,
  HANDING_OVER,
  LEASE_API_PROBLEM,
  LEASE_API_RECOVERED,
  LEASE_COORDINATED,
  LEASE_NOT_OURS_TO_RELEASE,
  LEASE_NOT_RELEASED,
  LEASE_RELEASED,
  LEASE_RELEASE_FAILED,
  LEDGER_PROBLEM,
  SAME_IDENTITY_PROCESS,
} from '../../leader-election.messages.js';
import { LEDGER_ANNOTATION, type LedgerEntry } from '../../ledger/ledger-record.js';
import type { TickLedger } from '../../ledger/tick-ledger.interface.js';
import type { ResolvedLease } from '../../options/resolve-options.js';
import type { ElectionJobs, ElectorStatus, LeaderElector, StopOptions } from '../leader-elector.interface.js';
import { LeaseApiError, type LeaseVerb } from './lease-api.error.js';
import { LeaseLedger, type LedgerWrite } from './lease-ledger.js';
import type { LeaseLock } from './lease-lock.js';
import { LeaseLock as KubeLeaseLock } from './lease-lock.js';
import { LeaseObservation, isOlder, type OwnTerm } from './lease-observation.js';
import { incarnationOf, newLease, withRecord, type LeaderElectionRecord } from './lease-record.js';
import { LeaseWatchKeeper } from './lease-watch-keeper.js';
import type { LeaseEventType } from './lease-watch.js';

/** The two clocks the algorithm reads; injected so tests control time. */
export interface ElectorClock {
  /** Monotonic milliseconds: every deadline and expiry is judged on this clock. */
  now(): number;
  /** Wall-clock time, only to fill the Lease's acquireTime/renewTime for humans and client-go. */
  wallNow(): Date;
}

export const systemClock: ElectorClock = { now: monotonicNow, wallNow: () => new Date() };

/** client-go's JitterFactor: failed attempts are retried after retryPeriod x (1 + 1.2 x rand). */
const JITTER_FACTOR = 1.2;
/** After 401/403 the pod cannot win until RBAC changes: retry slowly. */
const AUTH_FAILURE_RETRY_FACTOR = 10;
/** A round sends at most this many requests (a write, a read, a write), each within the request timeout. */
const REQUESTS_PER_ROUND = 3;
/** A release that meets a conflict re-reads and tries again, at most this many writes in all. */
const RELEASE_ATTEMPTS = 3;

/** The ledger annotation a write carries, when it carries one. */
function withLedger(lease: V1Lease, { value }: LedgerWrite): V1Lease {
  if (value === undefined) return lease;
  return { ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [LEDGER_ANNOTATION]: value } } };
}

/** Jobs that never end while shutdown waits for them: the drain the elector may ask for. */
const NO_JOBS: ElectionJobs = { drain: async () => true };

export type StepOutcome = 'acquired' | 'renewed' | 'held-by-other' | 'conflict' | 'failed' | 'idle';

/**
 * client-go's leader election (tools/leaderelection) on a coordination.k8s.io/v1 Lease, made
 * watch-driven. What it guarantees, and what it does not:
 *
 * - Followers judge expiry on their own monotonic clock, from the moment they OBSERVED the
 *   election record change, never from the renewTime another machine wrote. Clock offsets
 *   between machines do not matter; clock RATES may differ by less than
 *   (leaseDuration - renewDeadline) / leaseDuration (a third, with the defaults).
 * - The leader believes it leads until the SEND time of its last successful write plus
 *   renewDeadline, which is earlier than any follower's expiry (they start counting only when
 *   they see that write, and wait the longer leaseDuration). So the leader steps down before any
 *   follower can take over, even when it is cut off from the API. The deadline is checked again
 *   after every await of a round, so a late answer never extends it.
 * - Every write is conditional on the resourceVersion last read; a lost race is a 409, not a
 *   second leader.
 * - A process only ever renews a record it wrote itself in its current term (its identity, its
 *   incarnation: a random id per process, and its own acquireTime and leaseTransitions). A
 *   record naming its identity but written by another process (a restarted pod's predecessor,
 *   or a second live process with the same name) is someone else's, and is taken over only when
 *   it expires, as a new term. client-go resumes such a record; it assumes one process per name.
 * - It does not fence by itself: a process that is paused (GC, SIGSTOP, a frozen VM) longer than
 *   its remaining lease can act after losing it. Jobs get the term as a fencing token.
 *
 * Where client-go polls every retryPeriod, followers here watch their one Lease: a release or a
 * new holder is seen within milliseconds, and a timer armed for the observed expiry replaces the
 * poll. That timer is also the safety net for a watch that stalls silently: a follower that sees
 * nothing for a whole lease duration re-checks with a conditional write, which fails with 409 if
 * its view was stale, and then re-reads and re-watches.
 *
 * Load: a candidate starts at most one round (tryAcquireOrRenew) per retry period, whatever
 * happens, and a round sends at most three requests (a write, a read, a write); the watch is
 * opened at most once per retry period. Every timer delay is clamped (see timers.ts).
 */
export class LeaseElector implements LeaderElector {
  private readonly logger = new Logger('LeaderElection');
  /** This process's incarnation: written with every record it writes. */
  readonly incarnation = randomUUID();
  private readonly observation: LeaseObservation;
  private readonly watch: LeaseWatchKeeper;
  /** The job ledger this process reads from the Lease and writes with its records. */
  private readonly ledger = new LeaseLedger((problem) => this.logger.warn(LEDGER_PROBLEM(this.state.name, this.lock.describe(), problem)));
  /** Rounds and claims, one at a time: each write is conditional on what the one before left. */
  private lane: Promise<unknown> = Promise.resolve();

  /** True while this process holds the Lease: it acquired it and renewed it in time. */
  private holding = false;
  /** The acquisition of this process's current (or last) term, which its records must carry. */
  private ownTerm: OwnTerm | null = null;
  /**
   * The fencing token of the current term: the resourceVersion of the write that acquired it, an
   * etcd revision. Every later write anywhere in the cluster gets a higher one, so it grows with
   * every new term, across a deletion and re-creation of the Lease too (leaseTransitions does not).
   */
  private fencingToken: string | null = null;
  /** Send time of the last successful write + renewDeadline (monotonic). */
  private leadingUntil = 0;
  /** When the last round of tryAcquireOrRenew began: the next may begin a retry period later. */
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** A write lost a race (409): the cached Lease is outdated until a newer version is seen. */
  private cacheStale = false;
  /** The last attempt failed with this error (null: it succeeded or lost a race). */
  private lastFailure: LeaseApiError | null = null;
  /** The fault currently reported, so each is logged once per change, not once per attempt. */
  private problem: string | null = null;
  /** False once shutdown began: from then on this process never acquires, only renews. */
  private campaigning = true;
  /** Stepping down for a preferred holder: keep renewing while this election's jobs drain. */
  private handingOver = false;
  /** What has been said once already (foreign incarnations, coordinated Leases). */
  private readonly reported = new Set<string>();
  private everObserved = false;

  // For status() (health) and the observability events (issue 9).
  /** Send time of the last successful acquire or renew (monotonic). */
  private lastWriteAt: number | null = null;
  /** When the round in flight began; null between rounds. */
  private roundStartedAt: number | null = null;
  /** When the next round is due (monotonic); infinite while only the watch is awaited. */
  private stepDueAt = Number.POSITIVE_INFINITY;
  /** This round, the leader read the Lease before renewing: client-go's slow path. */
  private slowPath = false;
  private lastApiError: { error: LeaseApiError; at: number } | null = null;

  private stepTimer: NodeJS.Timeout | undefined;
  /** The watch showed the holder releasing the Lease: the next round need not wait its spacing. */
  private releaseSeen = false;
  private stepping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly state: ElectionState,
    private readonly options: ResolvedLease,
    private readonly lock: LeaseLock,
    private readonly clock: ElectorClock = systemClock,
    private readonly random: () => number = Math.random,
    private readonly jobs: ElectionJobs = NO_JOBS,
  ) {
    this.observation = new LeaseObservation(state.identity, this.incarnation, options.leaseDurationMs, clock.now);
    this.watch = new LeaseWatchKeeper(
      lock,
      {
        retryPeriodMs: options.retryPeriodMs,
        requestTimeoutMs: options.requestTimeoutMs,
        now: clock.now,
        random,
        resumeFrom: () => this.observation.resourceVersion,
      },
      {
        opened: () => this.replan(),
        changed: (type, lease) => this.onWatchEvent(type, lease),
        lost: (error) => {
          if (error !== null && !this.stopped) {
            this.noteApiError(error);
            this.report(error);
          }
          this.replan();
        },
      },
    );
    const ledger: TickLedger = {
      entry: (key) => this.ledger.entry(this.observation.lease, key),
      claim: (key, entry) => this.exclusive(() => this.claim(key, entry)),
      complete: (key, entry) => {
        // How a run of ours ended is a fact even after the term ended: it is written with our next
        // write, if there is one, and never over a later claim (see LeaseLedger.effective()).
        if (entry.term === this.ownTerm?.leaseTransitions) this.ledger.update(key, entry);
      },
    };
    state.useLedger(ledger);
  }

  /** @param kubeConfig loaded and checked at startup (see kube-config.ts) */
  static create(state: ElectionState, options: ResolvedLease, kubeConfig: KubeConfig, jobs: ElectionJobs = NO_JOBS): LeaseElector {
    const lock = new KubeLeaseLock(kubeConfig, options.namespace, options.name, options.requestTimeoutMs);
    return new LeaseElector(state, options, lock, systemClock, Math.random, jobs);
  }

  get identity(): string {
    return this.state.identity;
  }

  start(): void {
    this.scheduleStep(0);
  }

  /** Shutdown began: never acquire from now on; a Lease held is renewed until stop() releases it. */
  stopCampaigning(): void {
    this.campaigning = false;
  }

  /**
   * Stops for good. The round in flight is aborted (so shutdown never waits for a slow request),
   * then, with `release`, a Lease this process wrote is released within one request timeout in
   * all; without it (its jobs are still running) the Lease is left to expire.
   */
  async stop({ release = true }: StopOptions = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.campaigning = false;
    clearTimeout(this.stepTimer);
    this.watch.stop();
    this.lock.abortInFlight();
    await this.lane;
    const ours = this.observation.isOurs(this.ownTerm);
    if (ours && !release) {
      this.logger.warn(LEASE_NOT_RELEASED(this.state.name, this.lock.describe(), this.observation.leaseDurationMs));
    } else if (ours && this.options.releaseOnShutdown) {
      await this.release(this.options.requestTimeoutMs);
    }
    this.holding = false;
    this.lock.abortAll();
  }

  /** The elector's loop as health checks see it (see ElectorStatus). */
  status(): ElectorStatus {
    const now = this.clock.now();
    let loopLateMs = 0;
    if (!this.stopped) {
      loopLateMs = this.roundStartedAt !== null
        ? now - this.roundStartedAt - REQUESTS_PER_ROUND * this.options.requestTimeoutMs
        : now - this.stepDueAt;
    }
    const failure = this.lastApiError;
    return {
      believesLeading: this.holding && !this.stopped,
      lastRenewAgoMs: this.lastWriteAt === null ? null : now - this.lastWriteAt,
      loopLateMs: Math.max(0, loopLateMs),
      lastApiError: failure === null
        ? null
        : { verb: failure.error.verb, code: failure.error.status, reason: failure.error.reason, message: failure.error.message, agoMs: now - failure.at },
      leaseDurationMs: this.options.leaseDurationMs,
      retryPeriodMs: this.options.retryPeriodMs,
    };
  }

  /**
   * One round of client-go's tryAcquireOrRenew (see round()), reported to the observability
   * events with its outcome, duration and whether it took client-go's slow path.
   */
  async tryAcquireOrRenew(): Promise<StepOutcome> {
    const startedAt = this.clock.now();
    this.roundStartedAt = startedAt;
    this.slowPath = false;
    let outcome: StepOutcome;
    try {
      outcome = await this.round();
    } finally {
      this.roundStartedAt = null;
    }
    if (outcome !== 'idle') {
      this.state.events.leaseRound({ election: this.state.name, outcome, durationMs: this.clock.now() - startedAt, slowPath: this.slowPath });
    }
    return outcome;
  }

  /**
   * One round of client-go's tryAcquireOrRenew, in numbered steps. Never throws: a failure is
   * logged once per change of state and reported as 'failed'.
   */
  private async round(): Promise<StepOutcome> {
    this.lastAttemptAt = this.clock.now();
    // 1. A leadership that ran past its deadline is over, whatever happens next.
    this.checkDeadline();
    if (!this.holding && !this.campaigning) return 'idle';

    // 2. Write straight from the cached object when it can be trusted to be current: the leader
    //    renewing (client-go's fast path), or a follower whose live watch shows the Lease free.
    //    The leader that loses that race re-reads at once (3.); a follower waits for the watch to
    //    show the winner, and re-reads only if the watch stays silent (see step()).
    const trusted = this.observation.lease !== null && !this.cacheStale;
    if (trusted && (this.holding || (this.watch.healthy && this.mayAcquire()))) {
      const outcome = await this.write();
      this.checkDeadline();
      if (outcome !== 'conflict' || !this.holding || this.stopped) return outcome;
    }

    // 3. Read the Lease; create it when it does not exist (409 AlreadyExists: someone else did),
    //    unless a holder was seen before the deletion and its lease may still be running.
    let lease: V1Lease | null;
    try {
      lease = await this.lock.get();
    } catch (error) {
      return this.failed('get', error);
    }
    this.checkDeadline();
    if (this.stopped) return 'idle';
    if (lease === null) {
      this.leaseGone('the Lease was deleted');
      if (!this.mayAcquire()) {
        this.succeeded();
        this.publish();
        return this.campaigning ? 'held-by-other' : 'idle';
      }
      return this.create();
    }
    this.observe(lease);

    // 4. Held by someone else and not expired by our own observation (or we may not acquire): wait.
    if (!this.holding && !this.mayAcquire()) {
      this.succeeded();
      this.publish();
      return this.campaigning ? 'held-by-other' : 'idle';
    }

    // 5. Free, expired, or ours: take it or renew it, conditionally on what we just read.
    if (this.holding) this.slowPath = true;
    const outcome = await this.write();
    this.checkDeadline();
    return outcome;
  }

  /**
   * May this process take the Lease now: it is campaigning, the Lease is not coordinated, and it
   * is free by our observation, or it still carries this process's own record (no one has
   * written since: taking it back is a new term, and the write is conditional).
   */
  private mayAcquire(): boolean {
    if (!this.campaigning || this.observation.strategy !== undefined) return false;
    const preferred = this.observation.preferredHolder;
    if (preferred !== undefined && preferred !== this.identity) return false;
    return this.observation.isFree() || this.observation.isOurs(this.ownTerm);
  }

  private checkDeadline(): void {
    if (this.holding && this.clock.now() >= this.leadingUntil) {
      this.loseHold('it could not renew the Lease before its renew deadline');
    }
  }

  private async write(): Promise<StepOutcome> {
    const lease = this.observation.lease!;
    const previous = this.observation.record!;
    const renewing = this.holding;
    const wallNow = this.clock.wallNow();
    const leaseDurationSeconds = this.options.leaseDurationMs / 1000;
    const record: LeaderElectionRecord = renewing
      ? { ...previous, holderIdentity: this.identity, leaseDurationSeconds, renewTime: wallNow }
      : {
          holderIdentity: this.identity,
          leaseDurationSeconds,
          acquireTime: wallNow,
          renewTime: wallNow,
          leaseTransitions: previous.leaseTransitions + 1,
        };
    // A new term: the rollbacks of an earlier one are dropped; its completions are still written.
    if (!renewing) this.ledger.newTerm();
    const ledgerWrite = this.ledger.prepare(lease);
    const sentAt = this.clock.now();
    let written: V1Lease;
    try {
      written = await this.lock.update(withLedger(withRecord(lease, record, { incarnation: this.incarnation, keepCoordination: renewing }), ledgerWrite));
    } catch (error) {
      const apiError = LeaseApiError.from('update', error);
      if (apiError.status === 409) return this.conflict(apiError);
      if (apiError.status === 404) {
        this.leaseGone('the Lease was deleted');
        return this.conflict(apiError);
      }
      return this.failed('update', apiError);
    }
    if (this.stopped) return 'idle';
    this.ledger.written(ledgerWrite);
    return this.took(written, record, sentAt, renewing ? 'renewed' : 'acquired');
  }

  private async create(): Promise<StepOutcome> {
    const wallNow = this.clock.wallNow();
    const record: LeaderElectionRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.options.leaseDurationMs / 1000,
      acquireTime: wallNow,
      renewTime: wallNow,
      // A re-created Lease continues the count we saw, so the term does not go back to 0.
      leaseTransitions: this.observation.highestTransitions === null ? 0 : this.observation.highestTransitions + 1,
    };
    const sentAt = this.clock.now();
    let created: V1Lease;
    this.ledger.newTerm();
    // The ledger of the Lease seen before its deletion, if any, goes on in the new one.
    const ledgerWrite = this.ledger.prepare(null);
    try {
      created = await this.lock.create(withLedger(newLease(record, this.incarnation), ledgerWrite));
    } catch (error) {
      const apiError = LeaseApiError.from('create', error);
      if (apiError.status === 409) return this.conflict(apiError);
      return this.failed('create', apiError);
    }
    if (this.stopped) return 'idle';
    return this.took(created, record, sentAt, 'acquired');
  }

  /** A write of ours succeeded: this process holds the Lease until sentAt + renewDeadline. */
  private took(written: V1Lease, record: LeaderElectionRecord, sentAt: number, outcome: 'acquired' | 'renewed'): StepOutcome {
    if (outcome === 'acquired') {
      this.ownTerm = { acquireTimeMs: record.acquireTime!.getTime(), leaseTransitions: record.leaseTransitions };
      this.fencingToken = written.metadata?.resourceVersion ?? null;
    }
    this.holding = true;
    this.leadingUntil = sentAt + this.options.renewDeadlineMs;
    this.lastWriteAt = sentAt;
    this.observe(written);
    this.succeeded();
    this.publish(undefined, outcome === 'acquired' ? 'it acquired the Lease' : 'it holds the Lease');
    return outcome;
  }

  /**
   * client-go's tryRelease: holder "", leaseDurationSeconds 1, so followers take over at once.
   * A 409 means our cached object is older than the server's (a renew whose answer was lost, or
   * one aborted by stop()): re-read, and release if the record is still this process's. All of it
   * within `budgetMs`, so shutdown time stays bounded.
   */
  private async release(budgetMs: number): Promise<void> {
    const deadline = this.clock.now() + budgetMs;
    let lease = this.observation.lease;
    let problem = 'no time left';
    for (let attempt = 0; attempt < RELEASE_ATTEMPTS; attempt++) {
      if (lease === null || !this.observation.isOurs(this.ownTerm, lease)) {
        const holder = lease?.spec?.holderIdentity || null;
        this.logger.log(LEASE_NOT_OURS_TO_RELEASE(this.state.name, this.lock.describe(), holder));
        return;
      }
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) break;
      const wallNow = this.clock.wallNow();
      const record: LeaderElectionRecord = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: wallNow,
        renewTime: wallNow,
        leaseTransitions: this.ownTerm!.leaseTransitions,
      };
      // The release carries the ledger too: how the last claimed runs ended.
      const ledgerWrite = this.ledger.prepare(lease);
      try {
        await this.lock.update(withLedger(withRecord(lease, record, { incarnation: this.incarnation, keepCoordination: true }), ledgerWrite), remaining);
        this.ledger.written(ledgerWrite);
        this.logger.log(LEASE_RELEASED(this.state.name, this.lock.describe()));
        return;
      } catch (error) {
        const apiError = LeaseApiError.from('update', error);
        problem = apiError.message;
        if (apiError.status === 404) return;
        if (apiError.status !== 409) break;
      }
      const left = deadline - this.clock.now();
      if (left <= 0) break;
      try {
        lease = await this.lock.get(left);
      } catch (error) {
        problem = LeaseApiError.from('get', error).message;
        break;
      }
    }
    this.logger.warn(LEASE_RELEASE_FAILED(this.state.name, this.lock.describe(), problem));
  }

  private loseHold(reason: string): void {
    if (!this.holding) return;
    this.holding = false;
    this.leadingUntil = 0;
    this.publish(reason);
  }

  /** Takes in a Lease read, written or watched, and acts on what changed. */
  private observe(lease: V1Lease): void {
    const change = this.observation.observe(lease);
    if (change.ignored) return;
    this.ledger.seen(lease);
    if (change.versionChanged) this.cacheStale = false;
    const firstLook = !this.everObserved;
    this.everObserved = true;
    const ours = this.observation.isOurs(this.ownTerm);
    if (this.holding && !ours) {
      const holder = this.observation.holder;
      this.loseHold(
        holder === this.identity
          ? `another process with this identity (${holder}) holds the Lease`
          : `${holder ?? 'nobody'} now holds the Lease`,
      );
    }
    if (!ours && this.observation.namesUsFromAnotherProcess()) this.noteOtherProcess(firstLook, change.recordChanged);
    const strategy = this.observation.strategy;
    if (strategy !== undefined) this.once(`strategy:${strategy}`, () => this.logger.warn(LEASE_COORDINATED(this.state.name, this.lock.describe(), strategy)));
    const preferred = this.observation.preferredHolder;
    if (this.holding && !this.handingOver && preferred !== undefined && preferred !== this.identity) this.handOver(preferred);
  }

  /** The record names us but another process wrote it: a predecessor, or a twin that is alive. */
  private noteOtherProcess(firstLook: boolean, recordChanged: boolean): void {
    const other = incarnationOf(this.observation.lease) ?? 'none';
    if (firstLook) {
      this.once(`earlier:${other}`, () => this.logger.log(EARLIER_PROCESS_HOLDS(this.state.name, this.lock.describe(), this.identity)));
    } else if (recordChanged) {
      // It was written again after we first saw it: that process is alive and renewing.
      this.once(`twin:${other}`, () => this.logger.warn(SAME_IDENTITY_PROCESS(this.state.name, this.lock.describe(), this.identity)));
    }
  }

  /**
   * Coordinated election's "end of term" names another holder: step down now, keep renewing
   * while this election's running jobs finish, then release (client-go only stops renewing and
   * lets the Lease expire; releasing after the drain hands over without that wait). If the jobs
   * do not finish in time, the Lease is left to expire instead, as on shutdown.
   */
  private handOver(preferred: string): void {
    this.handingOver = true;
    this.logger.log(HANDING_OVER(this.state.name, this.lock.describe(), preferred));
    this.publish(`the Lease names ${preferred} as its preferred holder`);
    void this.jobs.drain().then(async (drained) => {
      if (this.stopped || !this.holding) return;
      if (!drained) {
        this.logger.warn(LEASE_NOT_RELEASED(this.state.name, this.lock.describe(), this.observation.leaseDurationMs));
        this.holding = false;
        return;
      }
      await this.stepping;
      if (!this.stopped && this.observation.isOurs(this.ownTerm)) await this.release(this.options.requestTimeoutMs);
      this.holding = false;
      this.handingOver = false;
      this.replan();
    });
  }

  /** The Lease is gone: step down if we held it; its last holder's lease is remembered. */
  private leaseGone(reason: string): void {
    this.cacheStale = false;
    this.observation.deleted(this.ownTerm);
    this.loseHold(reason);
  }

  private publish(reason = 'another pod holds the Lease', leadingBecause?: string): void {
    const record = this.observation.record;
    this.state.publish(
      {
        leader: this.observation.holder,
        term: record?.leaseTransitions ?? null,
        fencingToken: this.holding ? this.fencingToken : null,
        leadingUntil: this.holding && !this.handingOver ? this.leadingUntil : 0,
        leadingBecause,
      },
      reason,
    );
  }

  /** A lost race (409) or a Lease gone (404): normal outcomes, counted as API errors by code. */
  private conflict(error: LeaseApiError): StepOutcome {
    this.emitApiError(error);
    this.lastFailure = null;
    this.cacheStale = true;
    return 'conflict';
  }

  private succeeded(): void {
    this.lastFailure = null;
    if (this.problem !== null) {
      this.problem = null;
      this.logger.log(LEASE_API_RECOVERED(this.state.name, this.lock.describe()));
    }
  }

  private failed(verb: LeaseVerb, error: unknown): StepOutcome {
    const apiError = LeaseApiError.from(verb, error);
    this.lastFailure = apiError;
    if (this.stopped) return 'failed'; // stop() aborted it: not a fault worth a line
    this.noteApiError(apiError);
    this.report(apiError);
    this.publish(`the Kubernetes API failed (${apiError.message})`);
    return 'failed';
  }

  /** A real fault (not a lost race): kept for status() and reported to the observability events. */
  private noteApiError(error: LeaseApiError): void {
    this.lastApiError = { error, at: this.clock.now() };
    this.emitApiError(error);
  }

  private emitApiError(error: LeaseApiError): void {
    this.state.events.apiError({ election: this.state.name, verb: error.verb, code: error.status, reason: error.reason });
  }

  /** Logs a fault once per change of kind; the state machine itself never throws. */
  private report(error: LeaseApiError): void {
    // By kind of fault, not by verb: the watch and the reads usually fail alike, and one line
    // (which names every rule the pod needs, and the verb that failed first) says all there is.
    const kind = `${error.status}:${error.reason}`;
    if (kind === this.problem) return;
    this.problem = kind;
    const message = LEASE_API_PROBLEM(this.state.name, this.lock.describe(), error);
    if (error.status === 401 || error.status === 403 || error.status === 400 || error.status === 422) {
      this.logger.error(message);
    } else {
      this.logger.warn(message);
    }
  }

  private once(key: string, say: () => void): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    say();
  }

  // ---- scheduling -------------------------------------------------------------------------

  /** Arms the next round, never sooner than one retry period after the last one began. */
  private scheduleStep(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.stepTimer);
    const now = this.clock.now();
    // One round per retry period, except the first after a release was seen: a release needs an
    // acquisition before it, by someone, so these rounds are bounded by the others' writes, and
    // a graceful handover then costs a watch event and one write, not a wait.
    const spacing = this.releaseSeen ? 0 : this.lastAttemptAt + this.options.retryPeriodMs - now;
    this.stepDueAt = now + Math.max(delayMs, spacing);
    this.stepTimer = setSafeTimeout(() => {
      this.stepTimer = undefined;
      this.releaseSeen = false;
      this.stepping = this.exclusive(() => this.step()).finally(() => (this.stepping = undefined));
    }, Math.max(delayMs, spacing));
  }

  /** Runs `work` after every round or claim before it has finished, never beside one. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work, work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  /**
   * A claim of a tick: one conditional write of the ledger that renews the Lease too, within this
   * process's current term. A conflict re-reads and tries once more if the Lease is still ours;
   * any other failure, a change of term, or the renew deadline passing means the tick does not
   * run. The next renew is due a retry period after the claim, which renewed the Lease already.
   */
  private async claim(key: string, entry: LedgerEntry): Promise<boolean> {
    const term = this.ownTerm?.leaseTransitions;
    if (this.stopped || !this.holding || this.handingOver || entry.term !== term || !this.state.isLeader()) return false;
    if (!this.ledger.writable(this.observation.lease)) return false;
    // The API failed less than a retry period ago: the claim fails closed without a request, so
    // a job that ticks often cannot flood an API that is already down.
    if (this.lastFailure !== null && this.clock.now() - this.lastAttemptAt < this.options.retryPeriodMs) return false;
    const previous = this.ledger.entry(this.observation.lease, key);
    this.ledger.update(key, entry);
    this.lastAttemptAt = this.clock.now();
    let outcome = await this.write();
    this.checkDeadline();
    if (outcome === 'conflict' && this.holding && !this.stopped) {
      let lease: V1Lease | null = null;
      try {
        lease = await this.lock.get();
      } catch (error) {
        outcome = this.failed('get', error);
      }
      this.checkDeadline();
      if (lease === null && outcome === 'conflict') this.leaseGone('the Lease was deleted');
      if (lease !== null) {
        this.observe(lease);
        if (this.holding && !this.stopped) outcome = await this.write();
        this.checkDeadline();
      }
    }
    const claimed = outcome === 'renewed' && this.holding && this.ownTerm?.leaseTransitions === term && this.state.isLeader();
    if (!claimed) {
      this.ledger.forget(key, entry);
      // A write whose answer was lost may have been applied: the Lease would then say this tick
      // is claimed, though it never ran. While this process still holds the Lease, its next write
      // puts the job's entry back as it was, so the tick counts as missed, not as interrupted.
      if (previous !== undefined && this.holding) this.ledger.rollback(key, previous);
    }
    this.replan();
    return claimed;
  }

  private async step(): Promise<void> {
    // A write lost a race a retry period ago and the watch still has not shown the newer
    // version: the watch has stalled silently. Start it afresh; the read below catches up.
    if (this.cacheStale && this.watch.healthy && !this.holding) this.watch.restart();
    await this.tryAcquireOrRenew();
    if (this.stopped) return;
    this.watch.ensure();
    this.scheduleStep(this.nextStepDelay());
  }

  /** When to act next: renew on the retry period, else when the observed lease runs out. */
  private nextStepDelay(): number {
    const { retryPeriodMs, leaseDurationMs } = this.options;
    const now = this.clock.now();
    const failure = this.lastFailure;
    // 429 Too Many Requests: wait as long as the server asks, up to one lease duration.
    const backoff = failure?.status === 429 ? Math.min(failure.retryAfterMs ?? retryPeriodMs, leaseDurationMs) : 0;
    // client-go's renew loop: one attempt per retry period, whether the last one worked or not.
    if (this.holding) return Math.max(this.lastAttemptAt + retryPeriodMs - now, backoff);
    if (!this.campaigning) return Number.POSITIVE_INFINITY;
    if (failure !== null && (failure.status === 401 || failure.status === 403)) {
      return retryPeriodMs * AUTH_FAILURE_RETRY_FACTOR;
    }
    // client-go's retry: retryPeriod x (1 + 1.2 x rand), 1.6 x retryPeriod on average.
    const retry = Math.max(retryPeriodMs * (1 + JITTER_FACTOR * this.random()), backoff);
    if (failure !== null || this.cacheStale) return retry;
    // A coordinated Lease is never taken by expiry: only watch it (and poll while the watch is down).
    if (this.observation.strategy !== undefined) return this.watch.healthy ? Number.POSITIVE_INFINITY : retry;
    // Lightly spread the candidates that wake for the same expiry or release, so the conflicts
    // they cause each other stay few, without delaying the takeover noticeably.
    const untilFree = this.untilExpiry(now) + this.acquireJitter();
    // Without a live watch nobody tells us of changes: poll like client-go until it is back.
    return this.watch.healthy ? untilFree : Math.min(retry, untilFree);
  }

  private untilExpiry(now: number): number {
    if (this.observation.holder === null || this.observation.isOurs(this.ownTerm)) return 0;
    return Math.max(0, this.observation.expiresAt - now) + 1;
  }

  private acquireJitter(): number {
    return this.random() * Math.min(50, this.options.retryPeriodMs / 10);
  }

  /** A watch event may change what to do next; re-plan unless a step is running (it re-plans). */
  private replan(): void {
    if (this.stopped || this.stepping !== undefined) return;
    this.scheduleStep(this.nextStepDelay());
  }

  private onWatchEvent(type: LeaseEventType, lease: V1Lease): void {
    if (this.stopped) return;
    if (type === 'DELETED') {
      // A late event from before the Lease was re-created says nothing about the new one.
      if (this.observation.lease === null || isOlder(lease.metadata?.resourceVersion, this.observation.resourceVersion)) return;
      this.leaseGone('the Lease was deleted');
      this.publish('the Lease was deleted');
    } else {
      const heldBefore = this.observation.holder !== null;
      this.observe(lease);
      if (heldBefore && this.observation.lease === lease && this.observation.holder === null) this.releaseSeen = true;
      this.publish();
    }
    this.replan();
  }
}
