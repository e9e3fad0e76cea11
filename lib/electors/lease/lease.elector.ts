import { Logger } from '@nestjs/common';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { randomUUID } from 'node:crypto';
import type { ElectionState } from '../../leadership/election-state.js';
import { monotonicNow } from '../../leadership/monotonic-clock.js';
import { setSafeTimeout } from '../../leadership/timers.js';
import { LEASE_NOT_RELEASED, LEDGER_NEWER_FORMAT, LEDGER_PROBLEM } from '../../leader-election.messages.js';
import { LEDGER_VERSION } from '../../ledger/ledger-record.js';
import type { ResolvedLease } from '../../options/resolve-options.js';
import type { ElectionJobs, ElectorStatus, LeaderElector, StopOptions } from '../leader-elector.interface.js';
import { LeaseClaims, type ClaimsContext } from './lease-claims.js';
import { LeaseControl } from './lease-control.js';
import { FastFailover } from './fast-failover.js';
import { LeaseFaults } from './lease-faults.js';
import { LeaseLedger } from './lease-ledger.js';
import { LeaseObservation, isOlder } from './lease-observation.js';
import { LeaseRelease } from './lease-release.js';
import { LeaseRounds, type ElectorClock, type StepOutcome } from './lease-rounds.js';
import { LeaseWatchKeeper } from './lease-watch-keeper.js';
import { LeaseLock } from './resourcelock/lease-lock.js';
import type { LeaseEventType } from './resourcelock/lease-watch.js';
import { WriteLane } from './write-lane.js';
import { PendingWrites, type PendingWritesContext } from './pending-writes.js';
import { LeaseShardSeat } from './lease-shard-seat.js';

export type { ElectorClock, StepOutcome } from './lease-rounds.js';

export const systemClock: ElectorClock = { now: monotonicNow, wallNow: () => new Date() };

/** client-go's JitterFactor: failed attempts are retried after retryPeriod x (1 + 1.2 x rand). */
const JITTER_FACTOR = 1.2;
/** After 401/403 the pod cannot win until RBAC changes: retry slowly. */
const AUTH_FAILURE_RETRY_FACTOR = 10;
/** A round sends at most this many requests (a write, a read, a write), each within the request timeout. */
const REQUESTS_PER_ROUND = 3;

/**
 * Each write of the leader claims its jobs' fire times this many retry periods ahead (the next
 * renewal is due one retry period after it): a tick then runs without a write of its own.
 */
const CLAIM_AHEAD_RETRY_PERIODS = 2;

/** Jobs that never end while shutdown waits for them: the drain the elector may ask for. */
const NO_JOBS: ElectionJobs = { drain: async () => true };

/**
 * client-go's leader election (tools/leaderelection) on a coordination.k8s.io/v1 Lease, made
 * watch-driven. This file is the loop (client-go's leaderelection.go: when to try, what to do
 * with what the watch shows, start and stop); the round itself is LeaseRounds
 * (tryAcquireOrRenew), claims of ticks are LeaseClaims, giving the Lease up is LeaseRelease, and
 * the storage is resourcelock/ (one Lease, read, written and watched through client-node).
 *
 * The safety model: what it guarantees, and what it does not.
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
  private readonly faults: LeaseFaults;
  private readonly watch: LeaseWatchKeeper;
  private readonly rounds: LeaseRounds;
  private readonly releases: LeaseRelease;
  private readonly writes: PendingWrites;
  private readonly ledger: LeaseLedger;
  private readonly control: LeaseControl;
  private readonly fastFailover: FastFailover | undefined;
  /** Rounds, claims and the release, one at a time: each write is conditional on what the one before left. */
  private readonly lane: WriteLane;

  /** When the next round is due (monotonic); infinite while only the watch is awaited. */
  private stepDueAt = Number.POSITIVE_INFINITY;
  private stepTimer: NodeJS.Timeout | undefined;
  /** The watch showed the holder releasing the Lease: the next round need not wait its spacing. */
  private releaseSeen = false;
  private stepping: Promise<void> | undefined;
  /** This election as one shard of a split one, for its balancer (shard-balancer.ts). */
  readonly seat: LeaseShardSeat;

  constructor(
    private readonly state: ElectionState,
    private readonly options: ResolvedLease,
    private readonly lock: LeaseLock,
    private readonly clock: ElectorClock = systemClock,
    private readonly random: () => number = Math.random,
    jobs: ElectionJobs = NO_JOBS,
  ) {
    this.lane = new WriteLane(clock.now);
    this.observation = new LeaseObservation(state.identity, this.incarnation, options.leaseDurationMs, clock.now);
    this.faults = new LeaseFaults(state, lock.describe(), clock.now, options);
    // The job ledger this process reads from the Lease and writes with its records.
    const ledger = new LeaseLedger((problem, readOnlyVersion) => {
      if (readOnlyVersion === undefined) this.logger.warn(LEDGER_PROBLEM(state.name, lock.describe(), problem));
      else this.logger.error(LEDGER_NEWER_FORMAT(state.name, lock.describe(), readOnlyVersion, LEDGER_VERSION));
    }, clock.now, CLAIM_AHEAD_RETRY_PERIODS * options.retryPeriodMs, () => clock.wallNow().getTime());
    this.ledger = ledger;
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
          if (error !== null && !this.rounds.stopped) this.faults.watchFailed(error);
          this.replan();
        },
      },
    );
    // The control state of the election's jobs (pauses, requests, results, history), in the Lease too.
    const control = new LeaseControl(() => this.writes.request());
    const context: ClaimsContext & PendingWritesContext & ConstructorParameters<typeof LeaseRelease>[0] = {
      state, options, lock, clock, jobs,
      incarnation: this.incarnation,
      observation: this.observation,
      ledger,
      control,
      faults: this.faults,
      watchHealthy: () => this.watch.healthy,
      containerAnnotation: (record) => this.fastFailover?.containerAnnotation(record) ?? null,
      observed: () => {
        this.fastFailover?.observed();
        this.seat.observed();
      },
      mayTakeFree: () => this.seat.mayTake?.() ?? true,
      preferredHolderNamed: (preferred) => this.releases.handOver(preferred),
      get rounds() {
        return rounds;
      },
      get writes() {
        return writes;
      },
      exclusive: (work) => this.lane.run(work),
      writeAllowedAt: () => this.writeAllowedAt(),
      roundEnded: async () => {
        await this.stepping;
      },
      replan: () => this.replan(),
    };
    const rounds = new LeaseRounds(context);
    this.rounds = rounds;
    const writes = new PendingWrites(context);
    this.writes = writes;
    this.releases = new LeaseRelease(context);
    this.control = control;
    // Opt-in: the holder's pod proves a crash in about a second (see fast-failover.ts).
    this.fastFailover = options.fastFailover === undefined
      ? undefined
      : new FastFailover({ state, options, lock, observation: this.observation, incarnation: this.incarnation, isOurs: () => this.rounds.isOurs(), replan: () => this.replan() });
    state.useLedger(new LeaseClaims(context));
    this.seat = new LeaseShardSeat({ identity: state.identity, rounds, observation: this.observation, releases: this.releases, control, replan: () => this.replan() });
    state.useControl(control);
  }

  /** @param kubeConfig loaded and checked at startup (see resourcelock/kube-config.ts) */
  static create(state: ElectionState, options: ResolvedLease, kubeConfig: KubeConfig, jobs: ElectionJobs = NO_JOBS): LeaseElector {
    const lock = new LeaseLock(kubeConfig, options.namespace, options.name, options.requestTimeoutMs);
    return new LeaseElector(state, options, lock, systemClock, Math.random, jobs);
  }

  get identity(): string {
    return this.state.identity;
  }

  start(): void {
    this.fastFailover?.start();
    this.scheduleStep(0);
  }

  /** Shutdown began: never acquire from now on; a Lease held is renewed until stop() releases it. */
  stopCampaigning(): void {
    this.rounds.campaigning = false;
    // Leading ends now: no claim (nor take of a request) may be made good by a later write of the term.
    this.ledger.endTerm();
    this.control.endTerm();
  }

  /**
   * Stops for good. The round in flight is aborted (so shutdown never waits for a slow request),
   * then, with `release`, a Lease this process wrote is released within one request timeout in
   * all; without it (its jobs are still running), or with `releaseOnShutdown: false`, the Lease is
   * left to expire, after one last renew that records how the finished runs ended, if any did
   * since the last write (else the next leader would take them for interrupted).
   */
  async stop({ release = true }: StopOptions = {}): Promise<void> {
    const { rounds } = this;
    if (rounds.stopped) return;
    rounds.stopped = true;
    rounds.campaigning = false;
    clearTimeout(this.stepTimer);
    this.watch.stop();
    this.writes.stop();
    this.fastFailover?.stop();
    this.lock.abortInFlight();
    await this.lane.idle();
    this.ledger.endTerm();
    this.control.endTerm();
    this.control.failChanges(new Error('this pod is shutting down'));
    // An acquisition whose answer never came may have made the Lease ours: look before leaving.
    if (rounds.acquireUnconfirmed) await this.lookAtLease();
    const ours = rounds.isOurs();
    if (ours && release && this.options.releaseOnShutdown) {
      await this.releases.release(this.options.requestTimeoutMs);
    } else if (ours) {
      await this.recordFinishedRuns();
      if (!release) this.logger.warn(LEASE_NOT_RELEASED(this.state.name, this.lock.describe(), this.observation.leaseDurationMs));
    }
    rounds.holding = false;
    this.lock.abortAll();
  }

  /**
   * The elector's loop as health checks see it (see ElectorStatus). It is late when a write has
   * run longer than its requests' timeouts allow, or when nothing runs and the next round is
   * overdue; a round waiting behind writes that keep within their timeouts is not (a slow or
   * unreachable API is no reason to restart the pod).
   */
  status(): ElectorStatus {
    const now = this.clock.now();
    let loopLateMs = 0;
    if (!this.rounds.stopped) {
      const busySince = this.lane.busySince;
      loopLateMs = busySince !== null
        ? now - busySince - REQUESTS_PER_ROUND * this.options.requestTimeoutMs
        : now - this.stepDueAt;
    }
    const { lastWriteAt } = this.rounds;
    return {
      believesLeading: this.rounds.holding && !this.rounds.stopped,
      lastRenewAgoMs: lastWriteAt === null ? null : now - lastWriteAt,
      loopLateMs: Math.max(0, loopLateMs),
      lastApiError: this.faults.lastError(),
      leaseDurationMs: this.options.leaseDurationMs,
      retryPeriodMs: this.options.retryPeriodMs,
    };
  }

  /**
   * One round of client-go's tryAcquireOrRenew (see LeaseRounds.round()), reported to the
   * observability events with its outcome, duration and whether it took client-go's slow path.
   */
  async tryAcquireOrRenew(): Promise<StepOutcome> {
    const startedAt = this.clock.now();
    this.rounds.slowPath = false;
    const outcome = await this.rounds.round();
    if (outcome !== 'idle') {
      this.state.events.leaseRound({ election: this.state.name, outcome, durationMs: this.clock.now() - startedAt, slowPath: this.rounds.slowPath });
    }
    return outcome;
  }

  /** Arms the next round, never sooner than one retry period after the last one began. */
  private scheduleStep(delayMs: number): void {
    if (this.rounds.stopped) return;
    clearTimeout(this.stepTimer);
    const now = this.clock.now();
    // One round per retry period, except the first after a release was seen: a release needs an
    // acquisition before it, by someone, so these rounds are bounded by the others' writes, and
    // a graceful handover then costs a watch event and one write, not a wait.
    const spacing = this.releaseSeen ? 0 : this.rounds.lastAttemptAt + this.options.retryPeriodMs - now;
    this.stepDueAt = now + Math.max(delayMs, spacing);
    this.stepTimer = setSafeTimeout(() => {
      this.stepTimer = undefined;
      this.releaseSeen = false;
      this.stepping = this.lane.run(() => this.step()).finally(() => (this.stepping = undefined));
    }, Math.max(delayMs, spacing));
  }

  private async step(): Promise<void> {
    const { rounds } = this;
    const now = this.clock.now();
    // A claim's write renewed the Lease since this round was armed (the next renew is due a retry
    // period after it), or the server asked for a pause since (Retry-After): not now.
    const renewedSince = rounds.holding && this.faults.lastFailure === null && now < rounds.lastAttemptAt + this.options.retryPeriodMs;
    if (renewedSince || now < this.faults.pausedUntil) {
      this.scheduleStep(this.nextStepDelay());
      return;
    }
    // A write lost a race a retry period ago and the watch still has not shown the newer
    // version: the watch has stalled silently. Start it afresh; the read below catches up.
    if (this.rounds.cacheStale && this.watch.healthy && !this.rounds.holding) this.watch.restart();
    await this.tryAcquireOrRenew();
    if (this.rounds.stopped) return;
    this.watch.ensure();
    this.scheduleStep(this.nextStepDelay());
  }

  /** When to act next: renew on the retry period, else when the observed lease runs out. */
  private nextStepDelay(): number {
    const { retryPeriodMs } = this.options;
    const { rounds, observation } = this;
    const now = this.clock.now();
    const failure = this.faults.lastFailure;
    // 429 Too Many Requests: wait as long as the server asks, up to one lease duration.
    const backoff = Math.max(0, this.faults.pausedUntil - now);
    // client-go's renew loop: one attempt per retry period, whether the last one worked or not.
    if (rounds.holding) return Math.max(rounds.lastAttemptAt + retryPeriodMs - now, backoff);
    if (!rounds.campaigning) return Number.POSITIVE_INFINITY;
    if (failure !== null && (failure.status === 401 || failure.status === 403)) {
      return retryPeriodMs * AUTH_FAILURE_RETRY_FACTOR;
    }
    // client-go's retry: retryPeriod x (1 + 1.2 x rand), 1.6 x retryPeriod on average.
    const retry = Math.max(retryPeriodMs * (1 + JITTER_FACTOR * this.random()), backoff);
    if (failure !== null || rounds.cacheStale) return retry;
    // A coordinated Lease is never taken by expiry: only watch it (and poll while the watch is down).
    if (observation.strategy !== undefined) return this.watch.healthy ? Number.POSITIVE_INFINITY : retry;
    // A shard this pod may not take now (its share is full, or another pod asked for it): only
    // watch it; the balancer re-plans when that changes (reconsider()).
    if (this.seat.mayTake?.() === false && !rounds.isOurs()) return this.watch.healthy ? Number.POSITIVE_INFINITY : retry;
    // Lightly spread the candidates that wake for the same expiry or release, so the conflicts
    // they cause each other stay few, without delaying the takeover noticeably.
    const untilFree = this.untilExpiry(now) + this.acquireJitter();
    // Without a live watch nobody tells us of changes: poll like client-go until it is back.
    return this.watch.healthy ? untilFree : Math.min(retry, untilFree);
  }

  /** After a failure, the next write waits a retry period, or as long as a 429 asked, whoever sends it. */
  private writeAllowedAt(): number {
    if (this.faults.lastFailure === null) return Number.NEGATIVE_INFINITY;
    return Math.max(this.rounds.lastAttemptAt + this.options.retryPeriodMs, this.faults.pausedUntil);
  }

  private async lookAtLease(): Promise<void> {
    try {
      const lease = await this.lock.get();
      if (lease === null) this.rounds.leaseGone('the Lease was deleted');
      else this.rounds.observe(lease);
    } catch {
      // Nothing more to learn: the Lease, if ours, expires.
    }
  }

  /** One last renew at shutdown, within the term, when the Lease lacks what this process recorded since. */
  private async recordFinishedRuns(): Promise<void> {
    const { rounds, observation } = this;
    rounds.checkDeadline();
    if (!rounds.holding || observation.lease === null || !this.ledger.hasNewsFor(observation.lease)) return;
    await rounds.write();
  }

  private untilExpiry(now: number): number {
    // Free already: released, ours, or its writer proved gone by its pod (fast failover).
    if (this.observation.holder === null || this.rounds.isOurs() || this.observation.isFree()) return 0;
    return Math.max(0, this.observation.expiresAt - now) + 1;
  }

  private acquireJitter(): number {
    return this.random() * Math.min(50, this.options.retryPeriodMs / 10);
  }

  /** A watch event may change what to do next; re-plan unless a step is running (it re-plans). */
  private replan(): void {
    if (this.rounds.stopped || this.stepping !== undefined) return;
    this.scheduleStep(this.nextStepDelay());
  }

  private onWatchEvent(type: LeaseEventType, lease: V1Lease): void {
    if (this.rounds.stopped) return;
    if (type === 'DELETED') {
      // A late event from before the Lease was re-created says nothing about the new one.
      if (this.observation.lease === null || isOlder(lease.metadata?.resourceVersion, this.observation.resourceVersion)) return;
      this.rounds.leaseGone('the Lease was deleted');
      this.rounds.publish('the Lease was deleted');
    } else {
      const heldBefore = this.observation.holder !== null;
      this.rounds.observe(lease);
      if (heldBefore && this.observation.lease === lease && this.observation.holder === null) this.releaseSeen = true;
      this.rounds.publish();
    }
    this.replan();
  }
}
