import { Logger } from '@nestjs/common';
import type { V1Lease } from '@kubernetes/client-node';
import type { ElectionState } from '../../leadership/election-state.js';
import { EARLIER_PROCESS_HOLDS, LEASE_COORDINATED, SAME_IDENTITY_PROCESS } from '../../leader-election.messages.js';
import { LEDGER_ANNOTATION } from '../../ledger/ledger-record.js';
import type { ResolvedLease } from '../../options/resolve-options.js';
import { withAnnotations, type LeaseControl } from './lease-control.js';
import type { LeaseFaults } from './lease-faults.js';
import type { LeaseLedger, LedgerWrite } from './lease-ledger.js';
import type { LeaseObservation, OwnTerm } from './lease-observation.js';
import { LeaseApiError, type LeaseVerb } from './resourcelock/lease-api.error.js';
import type { LeaseLock } from './resourcelock/lease-lock.js';
import { incarnationOf, newLease, withRecord, type LeaderElectionRecord } from './resourcelock/lease-record.js';

/** The two clocks the algorithm reads; injected so tests control time. */
export interface ElectorClock {
  /** Monotonic milliseconds: every deadline and expiry is judged on this clock. */
  now(): number;
  /** Wall-clock time, only to fill the Lease's acquireTime/renewTime for humans and client-go. */
  wallNow(): Date;
}

export type StepOutcome = 'acquired' | 'renewed' | 'held-by-other' | 'conflict' | 'failed' | 'idle';

/** What the rounds need from the rest of the elector. */
export interface RoundsContext {
  readonly state: ElectionState;
  readonly options: ResolvedLease;
  readonly lock: LeaseLock;
  readonly clock: ElectorClock;
  readonly incarnation: string;
  readonly observation: LeaseObservation;
  readonly ledger: LeaseLedger;
  readonly control: LeaseControl;
  readonly faults: LeaseFaults;
  /** Whether the watch is open and delivering: the cached Lease can then be trusted to be current. */
  watchHealthy(): boolean;
  /** The Lease names another preferred holder (coordinated election): hand over. */
  preferredHolderNamed(preferred: string): void;
  /**
   * Fast failover: the container annotation to write with this process's record (which container
   * instance wrote it), or null (remove one a writer before left).
   */
  containerAnnotation(record: LeaderElectionRecord): string | null;
  /** A Lease was taken in: the holder's pod may need watching (fast failover), shards rebalanced. */
  observed(): void;
  /** Whether this pod may take the Lease when it is free: a shard beyond this pod's share may not. */
  mayTakeFree(): boolean;
}

/** The ledger annotation a write carries, when it carries one. */
export function withLedger(lease: V1Lease, { value }: LedgerWrite): V1Lease {
  if (value === undefined) return lease;
  return { ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [LEDGER_ANNOTATION]: value } } };
}

/**
 * client-go's tryAcquireOrRenew and the state it decides: whether this process holds the Lease,
 * in which term, with which fencing token, and until when it may act on it. Every write of the
 * elector that acquires or renews goes through here (a round, a claim, a flush), and so does every
 * Lease it takes in (read, written or watched). The loop that decides WHEN to run a round is
 * LeaseElector's; the release is LeaseRelease's.
 */
export class LeaseRounds {
  private readonly logger = new Logger('LeaderElection');

  /** True while this process holds the Lease: it acquired it and renewed it in time. */
  holding = false;
  /** The acquisition of this process's current (or last) term, which its records must carry. */
  ownTerm: OwnTerm | null = null;
  /**
   * The fencing token of the current term: the resourceVersion of the write that acquired it, an
   * etcd revision. Every later write anywhere in the cluster gets a higher one, so it grows with
   * every new term, across a deletion and re-creation of the Lease too (leaseTransitions does not).
   */
  private fencingToken: string | null = null;
  /** Send time of the last successful write + renewDeadline (monotonic). */
  private leadingUntil = 0;
  /** When the last round of tryAcquireOrRenew (or a claim's write) began: the next may begin a retry period later. */
  lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** A write lost a race (409): the cached Lease is outdated until a newer version is seen. */
  cacheStale = false;
  /** False once shutdown began: from then on this process never acquires, only renews. */
  campaigning = true;
  /** Stepping down for a preferred holder: keep renewing while this election's jobs drain. */
  handingOver = false;
  /** Stopped for good: a request that returns after this changes nothing. */
  stopped = false;
  /**
   * An acquisition's answer never came: the Lease may carry this process's record without this
   * process having seen it. Cleared by the next Lease taken in.
   */
  acquireUnconfirmed = false;
  /** Send time of the last successful acquire or renew (monotonic), for status(). */
  lastWriteAt: number | null = null;
  /** This round, the leader read the Lease before renewing: client-go's slow path. */
  slowPath = false;
  /** What has been said once already (foreign incarnations, coordinated Leases). */
  private readonly reported = new Set<string>();
  private everObserved = false;

  constructor(private readonly context: RoundsContext) {}

  private get identity(): string {
    return this.context.state.identity;
  }

  /**
   * One round of client-go's tryAcquireOrRenew, in numbered steps. Never throws: a failure is
   * logged once per change of state and reported as 'failed'.
   */
  async round(): Promise<StepOutcome> {
    const { observation, lock } = this.context;
    this.lastAttemptAt = this.context.clock.now();
    // 1. A leadership that ran past its deadline is over, whatever happens next.
    this.checkDeadline();
    if (!this.holding && !this.campaigning) return 'idle';

    // 2. Write straight from the cached object when it can be trusted to be current: the leader
    //    renewing (client-go's fast path), or a follower whose live watch shows the Lease free.
    //    The leader that loses that race re-reads at once (3.); a follower waits for the watch to
    //    show the winner, and re-reads only if the watch stays silent (see LeaseElector.step()).
    const trusted = observation.lease !== null && !this.cacheStale;
    if (trusted && (this.holding || (this.context.watchHealthy() && this.mayAcquire()))) {
      const outcome = await this.write();
      this.checkDeadline();
      if (outcome !== 'conflict' || !this.holding || this.stopped) return outcome;
    }

    // 3. Read the Lease; create it when it does not exist (409 AlreadyExists: someone else did),
    //    unless a holder was seen before the deletion and its lease may still be running.
    let lease: V1Lease | null;
    try {
      lease = await lock.get();
    } catch (error) {
      return this.failed('get', error);
    }
    this.checkDeadline();
    if (this.stopped) return 'idle';
    if (lease === null) {
      this.leaseGone('the Lease was deleted');
      if (!this.mayAcquire()) {
        this.context.faults.succeeded();
        this.publish();
        return this.campaigning ? 'held-by-other' : 'idle';
      }
      return this.create();
    }
    this.observe(lease);

    // 4. Held by someone else and not expired by our own observation (or we may not acquire): wait.
    if (!this.holding && !this.mayAcquire()) {
      this.context.faults.succeeded();
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
  mayAcquire(): boolean {
    const { observation } = this.context;
    if (!this.campaigning || observation.strategy !== undefined) return false;
    const preferred = observation.preferredHolder;
    if (preferred !== undefined && preferred !== this.identity) return false;
    return observation.isOurs(this.ownTerm) || (observation.isFree() && this.context.mayTakeFree());
  }

  /** A leadership that ran past its deadline is over. */
  checkDeadline(): void {
    if (this.holding && this.context.clock.now() >= this.leadingUntil) {
      this.loseHold('it could not renew the Lease before its renew deadline');
    }
  }

  /**
   * One conditional write from the cached Lease: a renew while holding it, else an acquisition
   * (a new term). It carries the job ledger. Settles the outcome as a round reports it.
   */
  async write(): Promise<StepOutcome> {
    const { observation, ledger, control, clock, options, lock, incarnation } = this.context;
    const lease = observation.lease!;
    const previous = observation.record!;
    const renewing = this.holding;
    const wallNow = clock.wallNow();
    const leaseDurationSeconds = options.leaseDurationMs / 1000;
    const record: LeaderElectionRecord = renewing
      ? { ...previous, holderIdentity: this.identity, leaseDurationSeconds, renewTime: wallNow }
      : {
          holderIdentity: this.identity,
          leaseDurationSeconds,
          acquireTime: wallNow,
          renewTime: wallNow,
          leaseTransitions: previous.leaseTransitions + 1,
        };
    // A new term: claims (and takes of requests) of an earlier one can no longer be made good.
    if (!renewing) {
      ledger.endTerm();
      control.endTerm();
    }
    const ledgerWrite = ledger.prepare(lease);
    const controlWrite = control.prepare(lease, { leading: renewing });
    const sentAt = clock.now();
    let written: V1Lease;
    try {
      written = await lock.update(withAnnotations(withLedger(withRecord(lease, record, { incarnation, keepCoordination: renewing, container: this.context.containerAnnotation(record) }), ledgerWrite), controlWrite.edits));
    } catch (error) {
      const apiError = LeaseApiError.from('update', error);
      if (apiError.status === 409) return this.conflict(apiError);
      if (apiError.status === 404) {
        this.leaseGone('the Lease was deleted');
        return this.conflict(apiError);
      }
      if (!renewing) this.attempted(record, apiError);
      return this.failed('update', apiError);
    }
    if (this.stopped) return 'idle';
    ledger.written(ledgerWrite);
    control.written(controlWrite);
    return this.took(written, record, sentAt, renewing ? 'renewed' : 'acquired');
  }

  private async create(): Promise<StepOutcome> {
    const { observation, ledger, control, clock, options, lock, incarnation } = this.context;
    const wallNow = clock.wallNow();
    const record: LeaderElectionRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: options.leaseDurationMs / 1000,
      acquireTime: wallNow,
      renewTime: wallNow,
      // A re-created Lease continues the count we saw, so the term does not go back to 0.
      leaseTransitions: observation.highestTransitions === null ? 0 : observation.highestTransitions + 1,
    };
    const sentAt = clock.now();
    let created: V1Lease;
    ledger.endTerm();
    control.endTerm();
    // Every entry this process knows goes on in the new Lease: deleting it forgets no claim; and
    // so does the control state it last saw (pauses, requests, results, history).
    const ledgerWrite = ledger.prepare(null);
    const controlWrite = control.prepare(null, { leading: false });
    try {
      created = await lock.create(withAnnotations(withLedger(newLease(record, incarnation, this.context.containerAnnotation(record)), ledgerWrite), { ...control.carriedOver(), ...controlWrite.edits }));
    } catch (error) {
      const apiError = LeaseApiError.from('create', error);
      if (apiError.status === 409) return this.conflict(apiError);
      this.attempted(record, apiError);
      return this.failed('create', apiError);
    }
    if (this.stopped) return 'idle';
    control.written(controlWrite);
    return this.took(created, record, sentAt, 'acquired');
  }

  /**
   * An acquisition whose answer never came (a timeout, a reset, a 5xx) may have been applied. Its
   * record carries this process's incarnation and acquireTime, so if it was, the Lease is
   * recognisably ours (isOurs): it is released on shutdown, and taken back at once (as a new term,
   * with a conditional write) rather than waited out. This process does not lead on it: it never
   * learned when the write was applied.
   */
  private attempted(record: LeaderElectionRecord, error: LeaseApiError): void {
    const rejected = error.status >= 400 && error.status < 500;
    if (rejected) return;
    this.ownTerm = { acquireTimeMs: record.acquireTime!.getTime(), leaseTransitions: record.leaseTransitions };
    this.acquireUnconfirmed = true;
  }

  /** A write of ours succeeded: this process holds the Lease until sentAt + renewDeadline. */
  private took(written: V1Lease, record: LeaderElectionRecord, sentAt: number, outcome: 'acquired' | 'renewed'): StepOutcome {
    if (outcome === 'acquired') {
      this.ownTerm = { acquireTimeMs: record.acquireTime!.getTime(), leaseTransitions: record.leaseTransitions };
      this.fencingToken = written.metadata?.resourceVersion ?? null;
    }
    this.holding = true;
    this.leadingUntil = sentAt + this.context.options.renewDeadlineMs;
    this.lastWriteAt = sentAt;
    this.observe(written);
    this.context.faults.succeeded();
    this.publish(undefined, outcome === 'acquired' ? 'it acquired the Lease' : 'it holds the Lease');
    // A late answer never extends leadership, nor makes good the claims (or takes) it carried.
    this.checkDeadline();
    if (this.holding && !this.handingOver && this.context.state.isLeader()) {
      this.context.ledger.confirm();
      this.context.control.confirm();
    } else {
      this.context.ledger.endTerm();
      this.context.control.endTerm();
    }
    return outcome;
  }

  /** This process stops holding the Lease, and says why. */
  loseHold(reason: string): void {
    if (!this.holding) return;
    this.holding = false;
    this.leadingUntil = 0;
    this.context.ledger.endTerm();
    this.context.control.endTerm();
    this.publish(reason);
  }

  /** Takes in a Lease read, written or watched, and acts on what changed. */
  observe(lease: V1Lease): void {
    const { observation, ledger, control } = this.context;
    const change = observation.observe(lease);
    if (change.ignored) return;
    this.acquireUnconfirmed = false;
    ledger.seen(lease);
    control.seen(lease);
    if (change.versionChanged) this.cacheStale = false;
    const firstLook = !this.everObserved;
    this.everObserved = true;
    const ours = observation.isOurs(this.ownTerm);
    if (this.holding && !ours) {
      const holder = observation.holder;
      this.loseHold(
        holder === this.identity
          ? `another process with this identity (${holder}) holds the Lease`
          : `${holder ?? 'nobody'} now holds the Lease`,
      );
    }
    if (!ours && observation.namesUsFromAnotherProcess()) this.noteOtherProcess(firstLook, change.recordChanged);
    const strategy = observation.strategy;
    if (strategy !== undefined) this.once(`strategy:${strategy}`, () => this.logger.warn(LEASE_COORDINATED(this.context.state.name, this.context.lock.describe(), strategy)));
    const preferred = observation.preferredHolder;
    if (this.holding && !this.handingOver && preferred !== undefined && preferred !== this.identity) this.context.preferredHolderNamed(preferred);
    this.context.observed();
  }

  /** The Lease is gone: step down if we held it; its last holder's lease is remembered. */
  leaseGone(reason: string): void {
    this.cacheStale = false;
    this.context.observation.deleted(this.ownTerm);
    this.loseHold(reason);
  }

  /** Tells the election state what this candidate now knows. */
  publish(reason = 'another pod holds the Lease', leadingBecause?: string): void {
    const { observation, state } = this.context;
    const record = observation.record;
    state.publish(
      {
        leader: observation.holder,
        term: record?.leaseTransitions ?? null,
        fencingToken: this.holding ? this.fencingToken : null,
        leadingUntil: this.holding && !this.handingOver ? this.leadingUntil : 0,
        leadingBecause,
      },
      reason,
    );
  }

  /** Whether the Lease as last seen (or `lease`) still carries this process's current term. */
  isOurs(lease?: V1Lease | null): boolean {
    return this.context.observation.isOurs(this.ownTerm, lease);
  }

  /** A lost race (409) or a Lease gone (404): normal outcomes, counted as API errors by code. */
  conflict(error: LeaseApiError): StepOutcome {
    this.context.faults.conflict(error);
    this.cacheStale = true;
    return 'conflict';
  }

  failed(verb: LeaseVerb, error: unknown): StepOutcome {
    const apiError = LeaseApiError.from(verb, error);
    if (this.stopped) {
      this.context.faults.failedQuietly(apiError); // stop() aborted it: not a fault worth a line
      return 'failed';
    }
    this.context.faults.failed(apiError);
    this.publish(`the Kubernetes API failed (${apiError.message})`);
    return 'failed';
  }

  /** The record names us but another process wrote it: a predecessor, or a twin that is alive. */
  private noteOtherProcess(firstLook: boolean, recordChanged: boolean): void {
    const { state, lock, observation } = this.context;
    const other = incarnationOf(observation.lease) ?? 'none';
    if (firstLook) {
      this.once(`earlier:${other}`, () => this.logger.log(EARLIER_PROCESS_HOLDS(state.name, lock.describe(), this.identity, this.context.options.fastFailover !== undefined)));
    } else if (recordChanged) {
      // It was written again after we first saw it: that process is alive and renewing.
      this.once(`twin:${other}`, () => this.logger.warn(SAME_IDENTITY_PROCESS(state.name, lock.describe(), this.identity)));
    }
  }

  private once(key: string, say: () => void): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    say();
  }
}
