import { Logger } from '@nestjs/common';
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import type { ElectionState } from '../../leadership/election-state.js';
import { monotonicNow } from '../../leadership/monotonic-clock.js';
import {
  LEASE_API_PROBLEM,
  LEASE_API_RECOVERED,
  LEASE_RELEASED,
  LEASE_RELEASE_FAILED,
} from '../../leader-election.messages.js';
import type { ResolvedLease } from '../../options/resolve-options.js';
import type { LeaderElector } from '../leader-elector.interface.js';
import { LeaseApiError } from './lease-api.error.js';
import type { LeaseLock } from './lease-lock.js';
import { LeaseLock as KubeLeaseLock } from './lease-lock.js';
import { recordFromLeaseSpec, withRecord, type LeaderElectionRecord } from './lease-record.js';
import { LeaseWatch, type LeaseEventType } from './lease-watch.js';

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
/** A watch ends by itself after 5-10 min (like client-go's reflectors), spreading re-watches. */
const WATCH_TIMEOUT_SECONDS = { min: 300, spread: 300 };
/** After 401/403 the pod cannot win until RBAC changes: retry slowly. */
const AUTH_FAILURE_RETRY_FACTOR = 10;

export type StepOutcome = 'acquired' | 'renewed' | 'held-by-other' | 'conflict' | 'failed';

/**
 * client-go's leader election (tools/leaderelection) on a coordination.k8s.io/v1 Lease, made
 * watch-driven. What it guarantees, and what it does not:
 *
 * - Followers judge expiry on their own monotonic clock, from the moment they OBSERVED the Lease
 *   change (a new resourceVersion), never from the renewTime another machine wrote. Clock offsets
 *   between machines do not matter; clock RATES may differ by less than
 *   (leaseDuration - renewDeadline) / leaseDuration (a third, with the defaults).
 * - The leader believes it leads until the SEND time of its last successful write plus
 *   renewDeadline, which is earlier than any follower's expiry (they start counting only when
 *   they see that write, and wait the longer leaseDuration). So the leader steps down before any
 *   follower can take over, even when it is cut off from the API.
 * - Every write is conditional on the resourceVersion last read; a lost race is a 409, not a
 *   second leader.
 * - It does not fence by itself: a process that is paused (GC, SIGSTOP, a frozen VM) longer than
 *   its remaining lease can act after losing it. Jobs get the term (leaseTransitions) as a fencing
 *   token for the systems they write to.
 *
 * Where client-go polls every retryPeriod, followers here watch their one Lease: a release or a
 * new holder is seen within milliseconds, and a timer armed for the observed expiry replaces the
 * poll. That timer is also the safety net for a watch that stalls silently: a follower that sees
 * nothing for a whole lease duration re-checks with a conditional write, which fails with 409 if
 * its view was stale, and then re-reads and re-watches.
 */
export class LeaseElector implements LeaderElector {
  private readonly logger = new Logger('LeaderElection');

  /** The Lease as last read or written (client-go: observedRecord and observedRawRecord). */
  private observedLease: V1Lease | null = null;
  private observedRecord: LeaderElectionRecord | null = null;
  /** When (monotonic) the Lease was last seen to change (client-go: observedTime). */
  private observedTime = 0;
  /** True while this process holds the Lease: it acquired it and renewed it in time. */
  private holding = false;
  /** Send time of the last successful write + renewDeadline (monotonic). */
  private leadingUntil = 0;
  /** When the last round of tryAcquireOrRenew began: the leader renews one retry period later. */
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** A write lost a race (409): the cached Lease is outdated until a newer version is seen. */
  private cacheStale = false;
  /** The last attempt failed with this error (null: it succeeded or lost a race). */
  private lastFailure: LeaseApiError | null = null;
  /** The fault currently reported, so each is logged once per change, not once per attempt. */
  private problem: string | null = null;

  private stepTimer: NodeJS.Timeout | undefined;
  private stepping: Promise<void> | undefined;
  private watch: LeaseWatch | undefined;
  private watchOpening = false;
  private watchHealthy = false;
  private watchOpenedAt = Number.NEGATIVE_INFINITY;
  private watchRetryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly state: ElectionState,
    private readonly options: ResolvedLease,
    private readonly lock: LeaseLock,
    private readonly clock: ElectorClock = systemClock,
    private readonly random: () => number = Math.random,
  ) {}

  /** @param kubeConfig loaded and checked at startup (see kube-config.ts) */
  static create(state: ElectionState, options: ResolvedLease, kubeConfig: KubeConfig): LeaseElector {
    const lock = new KubeLeaseLock(kubeConfig, options.namespace, options.name, options.requestTimeoutMs);
    return new LeaseElector(state, options, lock);
  }

  get identity(): string {
    return this.state.identity;
  }

  start(): void {
    this.scheduleStep(0);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.stepTimer);
    clearTimeout(this.watchRetryTimer);
    this.watch?.stop();
    this.watch = undefined;
    // A renew in flight would change the resourceVersion under the release: let it land first.
    await this.stepping;
    if (this.holding && this.options.releaseOnShutdown) await this.release();
    this.holding = false;
    this.lock.abortAll();
  }

  /**
   * One round of client-go's tryAcquireOrRenew, in numbered steps. Never throws: a failure is
   * logged once per change of state and reported as 'failed'.
   */
  async tryAcquireOrRenew(): Promise<StepOutcome> {
    this.lastAttemptAt = this.clock.now();
    // 1. A leadership that ran past its deadline is over, whatever happens next.
    if (this.holding && this.clock.now() >= this.leadingUntil) {
      this.loseHold('it could not renew the Lease before its renew deadline');
    }

    // 2. Write straight from the cached object when it can be trusted to be current: the leader
    //    renewing (client-go's fast path), or a follower whose live watch shows the Lease free.
    //    The leader that loses that race re-reads at once (3.); a follower waits for the watch to
    //    show the winner, and re-reads only if the watch stays silent (see step()).
    const trusted = this.observedLease !== null && !this.cacheStale;
    if (trusted && (this.holding || (this.watchHealthy && this.isFree()))) {
      const outcome = await this.write();
      if (outcome !== 'conflict' || !this.holding) return outcome;
    }

    // 3. Read the Lease; create it when it does not exist (409 AlreadyExists: someone else did).
    let lease: V1Lease | null;
    try {
      lease = await this.lock.get();
    } catch (error) {
      return this.failed(error);
    }
    if (lease === null) return this.create();
    this.observe(lease);

    // 4. Held by another candidate and not expired by our own observation: wait.
    if (!this.holding && !this.isFree()) {
      this.succeeded();
      this.publish();
      return 'held-by-other';
    }

    // 5. Free, expired, or ours: take it or renew it, conditionally on what we just read.
    return this.write();
  }

  /** The Lease is free to take: no holder, or no change observed for the holder's lease duration. */
  private isFree(): boolean {
    const record = this.observedRecord;
    if (record === null) return true;
    if (record.holderIdentity === '') return true;
    return this.clock.now() >= this.expiresAt();
  }

  private expiresAt(): number {
    return this.observedTime + (this.observedRecord?.leaseDurationSeconds ?? 0) * 1000;
  }

  private async write(): Promise<StepOutcome> {
    const lease = this.observedLease!;
    const previous = this.observedRecord!;
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
    const sentAt = this.clock.now();
    let written: V1Lease;
    try {
      written = await this.lock.update(withRecord(lease, record));
    } catch (error) {
      const apiError = LeaseApiError.from('update', error);
      if (apiError.status === 409) return this.conflict();
      if (apiError.status === 404) {
        // Deleted under us: forget it, so the next read creates it afresh.
        this.forgetLease('the Lease was deleted');
        return this.conflict();
      }
      return this.failed(apiError);
    }
    this.hold(sentAt);
    this.observe(written);
    this.succeeded();
    this.publish();
    return renewing ? 'renewed' : 'acquired';
  }

  private async create(): Promise<StepOutcome> {
    const wallNow = this.clock.wallNow();
    const record: LeaderElectionRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.options.leaseDurationMs / 1000,
      acquireTime: wallNow,
      renewTime: wallNow,
      leaseTransitions: 0,
    };
    const sentAt = this.clock.now();
    let created: V1Lease;
    try {
      created = await this.lock.create(record);
    } catch (error) {
      const apiError = LeaseApiError.from('create', error);
      if (apiError.status === 409) return this.conflict();
      return this.failed(apiError);
    }
    this.hold(sentAt);
    this.observe(created);
    this.succeeded();
    this.publish();
    return 'acquired';
  }

  /** client-go's release: holder "", leaseDurationSeconds 1, so followers take over at once. */
  private async release(): Promise<void> {
    const lease = this.observedLease;
    const previous = this.observedRecord;
    if (lease === null || previous === null) return;
    const wallNow = this.clock.wallNow();
    const record: LeaderElectionRecord = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: wallNow,
      renewTime: wallNow,
      leaseTransitions: previous.leaseTransitions,
    };
    try {
      await this.lock.update(withRecord(lease, record));
      this.logger.log(LEASE_RELEASED(this.state.name, this.lock.describe()));
    } catch (error) {
      // A 409 means the Lease changed since our last renew, so it is not ours to release.
      this.logger.warn(LEASE_RELEASE_FAILED(this.state.name, this.lock.describe(), LeaseApiError.from('update', error).message));
    }
  }

  private hold(sentAt: number): void {
    this.holding = true;
    this.leadingUntil = sentAt + this.options.renewDeadlineMs;
  }

  private loseHold(reason: string): void {
    if (!this.holding) return;
    this.holding = false;
    this.leadingUntil = 0;
    this.publish(reason);
  }

  /** Takes in a Lease read, written or watched; a new resourceVersion restarts the expiry clock. */
  private observe(lease: V1Lease): void {
    const version = lease.metadata?.resourceVersion;
    const known = this.observedLease?.metadata?.resourceVersion;
    if (this.observedLease !== null && isOlder(version, known)) return; // a late watch event
    if (version !== known || this.observedLease === null) {
      this.observedTime = this.clock.now();
      this.cacheStale = false;
    }
    this.observedLease = lease;
    this.observedRecord = recordFromLeaseSpec(lease.spec);
    if (this.holding && this.observedRecord.holderIdentity !== this.identity) {
      this.loseHold(`${this.observedRecord.holderIdentity || 'nobody'} now holds the Lease`);
    }
  }

  private forgetLease(reason: string): void {
    this.cacheStale = false;
    this.observedLease = null;
    this.observedRecord = null;
    this.observedTime = this.clock.now();
    this.loseHold(reason);
  }

  private publish(reason = 'another pod holds the Lease'): void {
    const holder = this.observedRecord?.holderIdentity;
    this.state.publish(
      {
        leader: holder ? holder : null,
        term: this.observedRecord?.leaseTransitions ?? null,
        leadingUntil: this.holding ? this.leadingUntil : 0,
      },
      reason,
    );
  }

  private conflict(): StepOutcome {
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

  private failed(error: unknown): StepOutcome {
    const apiError = LeaseApiError.from('get', error);
    this.lastFailure = apiError;
    this.report(apiError);
    this.publish(`the Kubernetes API failed (${apiError.message})`);
    return 'failed';
  }

  /** Logs a fault once per change of kind; the state machine itself never throws. */
  private report(error: LeaseApiError): void {
    // By kind of fault, not by verb: the watch and the reads usually fail alike, and one line
    // (which names every rule the pod needs) says all there is to say.
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

  // ---- scheduling -------------------------------------------------------------------------

  private scheduleStep(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.stepTimer);
    this.stepTimer = setTimeout(() => {
      this.stepTimer = undefined;
      this.stepping = this.step().finally(() => (this.stepping = undefined));
    }, Math.max(0, Math.ceil(delayMs)));
    this.stepTimer.unref();
  }

  private async step(): Promise<void> {
    // A write lost a race a retry period ago and the watch still has not shown the newer
    // version: the watch has stalled silently. Start it afresh; the read below catches up.
    if (this.cacheStale && this.watchHealthy && !this.holding) this.restartWatch(undefined);
    await this.tryAcquireOrRenew();
    if (this.stopped) return;
    this.ensureWatch();
    this.scheduleStep(this.nextStepDelay());
  }

  /** When to act next: renew on the retry period, else when the observed lease runs out. */
  private nextStepDelay(): number {
    const { retryPeriodMs } = this.options;
    const now = this.clock.now();
    // client-go's renew loop: one attempt per retry period, whether the last one worked or not.
    if (this.holding) return this.lastAttemptAt + retryPeriodMs - now;
    const failure = this.lastFailure;
    if (failure !== null && (failure.status === 401 || failure.status === 403)) {
      return retryPeriodMs * AUTH_FAILURE_RETRY_FACTOR;
    }
    // client-go's retry: retryPeriod x (1 + 1.2 x rand), 1.6 x retryPeriod on average.
    const retry = retryPeriodMs * (1 + JITTER_FACTOR * this.random());
    if (failure !== null || this.cacheStale) return retry;
    // Lightly spread the candidates that wake for the same expiry or release, so the conflicts
    // they cause each other stay few, without delaying the takeover noticeably.
    const untilFree = this.untilExpiry(now) + this.acquireJitter();
    // Without a live watch nobody tells us of changes: poll like client-go until it is back.
    return this.watchHealthy ? untilFree : Math.min(retry, untilFree);
  }

  private untilExpiry(now: number): number {
    if (this.observedRecord === null || this.observedRecord.holderIdentity === '') return 0;
    return Math.max(0, this.expiresAt() - now) + 1;
  }

  private acquireJitter(): number {
    return this.random() * Math.min(50, this.options.retryPeriodMs / 10);
  }

  /** A watch event may change what to do next; re-plan unless a step is running (it re-plans). */
  private replan(): void {
    if (this.stopped || this.stepping !== undefined) return;
    this.scheduleStep(this.nextStepDelay());
  }

  // ---- watch ------------------------------------------------------------------------------

  /**
   * Opens the watch unless one is open or pending. It resumes from the last resourceVersion seen,
   * or, with `undefined`, starts from the current state (the server sends it as ADDED).
   */
  private ensureWatch(resourceVersion = this.observedLease?.metadata?.resourceVersion): void {
    if (this.stopped || this.watch !== undefined || this.watchOpening || this.watchRetryTimer !== undefined) return;
    this.watchOpening = true;
    const timeoutSeconds = WATCH_TIMEOUT_SECONDS.min + Math.floor(this.random() * WATCH_TIMEOUT_SECONDS.spread);
    LeaseWatch.start(
      this.lock,
      { resourceVersion, timeoutSeconds, connectTimeoutMs: this.options.requestTimeoutMs },
      {
        onOpen: () => {
          this.watchOpenedAt = this.clock.now();
          this.watchHealthy = true;
          this.replan();
        },
        onEvent: (type, lease) => this.onWatchEvent(type, lease),
        onExpired: () => {
          // 410: our resourceVersion is too old; start over from the current state.
          this.watch = undefined;
          this.watchHealthy = false;
          this.restartWatch(undefined);
        },
        onEnd: (error) => this.onWatchEnd(error),
      },
    ).then(
      (watch) => {
        this.watchOpening = false;
        if (this.stopped) watch.stop();
        else this.watch = watch;
      },
      (error: unknown) => {
        this.watchOpening = false;
        this.onWatchEnd(LeaseApiError.from('watch', error));
      },
    );
  }

  private onWatchEvent(type: LeaseEventType, lease: V1Lease): void {
    if (this.stopped) return;
    if (type === 'DELETED') {
      if (this.observedLease !== null && isOlder(lease.metadata?.resourceVersion, this.observedLease.metadata?.resourceVersion)) return;
      this.forgetLease('the Lease was deleted');
      this.publish('the Lease was deleted');
    } else {
      this.observe(lease);
      this.publish();
    }
    this.replan();
  }

  private onWatchEnd(error: LeaseApiError | null): void {
    this.watch = undefined;
    this.watchHealthy = false;
    if (this.stopped) return;
    // A watch that ran its course (timeoutSeconds) resumes at once from the last resourceVersion.
    // One that ended almost as soon as it opened is treated as a failure, so that a proxy or a
    // server that keeps closing it cannot drive a tight reconnect loop.
    const ranItsCourse = error === null && this.clock.now() - this.watchOpenedAt >= this.options.retryPeriodMs;
    if (ranItsCourse) {
      this.ensureWatch();
    } else {
      if (error !== null) this.report(error);
      const unauthorized = error !== null && (error.status === 401 || error.status === 403);
      const delay = this.options.retryPeriodMs * (unauthorized ? AUTH_FAILURE_RETRY_FACTOR : 1 + JITTER_FACTOR * this.random());
      this.watchRetryTimer = setTimeout(() => {
        this.watchRetryTimer = undefined;
        this.ensureWatch();
      }, delay);
      this.watchRetryTimer.unref();
    }
    this.replan();
  }

  private restartWatch(resourceVersion: string | undefined): void {
    this.watch?.stop();
    this.watch = undefined;
    this.watchHealthy = false;
    this.ensureWatch(resourceVersion);
  }
}

/**
 * resourceVersions are opaque to clients by contract, but every apiserver issues etcd revisions:
 * decimal integers that grow. Compare them only when both look like that.
 */
function isOlder(version: string | undefined, than: string | undefined): boolean {
  if (version === undefined || than === undefined) return false;
  if (!/^\d+$/.test(version) || !/^\d+$/.test(than)) return false;
  return BigInt(version) < BigInt(than);
}
