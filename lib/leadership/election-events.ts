import { Logger } from '@nestjs/common';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import { monotonicNow } from './monotonic-clock.js';
import type { RunKind } from '../control/control-record.js';

/**
 * The one seam between the core (elections, Lease elector, gate) and what observes it (metrics,
 * traces, the skipped-ticks summary). The core calls these methods synchronously; each returns at
 * once when nobody listens, and the gate's skip path allocates nothing either way. A listener
 * that throws is logged once and never disturbs the election or the job.
 *
 * One hub per application, created by ElectionRegistry (several Nest apps in one process, as in
 * tests, each observe their own elections).
 */

/** This pod's view of one election changed (who leads, whether it is this pod, the term). */
export interface LeadershipChangedEvent {
  readonly election: string;
  readonly identity: string;
  readonly isLeader: boolean;
  /** Whether this pod led before the change. */
  readonly wasLeader: boolean;
  readonly leader: string | null;
  readonly term: number | null;
  /** Why it changed, in words ("it acquired the Lease", "shutdown began", ...). */
  readonly reason: string;
}

export type LeaseRoundOutcome = 'acquired' | 'renewed' | 'held-by-other' | 'conflict' | 'failed';

/** One round of the Lease elector's tryAcquireOrRenew ended. */
export interface LeaseRoundEvent {
  readonly election: string;
  readonly outcome: LeaseRoundOutcome;
  /** Wall time of the round, monotonic milliseconds. */
  readonly durationMs: number;
  /** The leader had to read the Lease before renewing it: client-go's "slow path". */
  readonly slowPath: boolean;
}

/** A request to the Kubernetes API failed (including the 409 of a lost race). */
export interface ApiErrorEvent {
  readonly election: string;
  readonly verb: string;
  /** The HTTP status, or 0 when no answer came (refused, reset, timed out). */
  readonly code: number;
  readonly reason: string;
}

/** Why a tick of a @LeaderOnly() job did not run here. */
export type SkipReason = 'not-leader' | 'overlap' | 'claimed-elsewhere' | 'misfire' | 'paused';

/** What identifies a gated job: the gate's own description of it, passed as it is. */
export interface ObservedJob {
  /** `ClassName.methodName`. */
  readonly name: string;
  readonly election: string;
}

/** The ledger's view of a run (issue 8), when it has one: every field optional. */
export interface JobRunLedger {
  /** The fire time this run stands for (the tick's identity), wall-clock ms since the epoch. */
  scheduledTime?: number;
  /** The run catches up ticks missed during a failover. */
  catchUp?: boolean;
  /** The fire times (wall-clock ms) this run covers, when it stands for several. */
  coversFireTimes?: readonly number[];
  /** The fencing token the run's claim was written with. */
  fencingToken?: number | string;
  /** How the run came about: a scheduled tick, a catch-up, a rerun, a manual run, a backfill. */
  kind?: RunKind;
}

export type JobRunOutcome = 'succeeded' | 'failed';

/** One run of a gated job on the leader, from its start to its end. */
export class JobRun {
  readonly startedAt = monotonicNow();
  /** Wall-clock start, ms since the epoch, for spans. */
  readonly startedAtWall = Date.now();
  outcome: JobRunOutcome | undefined;
  durationMs = 0;
  error: unknown;

  constructor(
    readonly job: ObservedJob,
    readonly term: number | null,
    readonly ledger: JobRunLedger | undefined,
  ) {}
}

/** What a consumer may listen to; every method optional. */
export interface ElectionEventListener {
  leadershipChanged?(event: LeadershipChangedEvent): void;
  leaseRound?(event: LeaseRoundEvent): void;
  apiError?(event: ApiErrorEvent): void;
  /** A gated job starts running on the leader. */
  jobStarted?(run: JobRun): void;
  /**
   * Runs the job's body inside something of the listener's (tracing makes the run's span the
   * active one, so the job's own spans become its children). Must call `body` exactly once and
   * return its result.
   */
  runWithin?<T>(run: JobRun, body: () => T): T;
  /** The run ended; `run.outcome`, `run.durationMs` and `run.error` are set. */
  jobFinished?(run: JobRun): void;
  tickSkipped?(job: ObservedJob, reason: SkipReason): void;
  /** The ledger caught up `count` ticks that nobody ran (issue 8). */
  ticksCaughtUp?(job: ObservedJob, count: number): void;
  /** The ledger gave up on `count` ticks (misfire policy or deadline; issue 8). */
  ticksMissed?(job: ObservedJob, count: number): void;
  /** The job failed `pauseAfterFailures` times in a row and paused itself (issue 14). */
  jobPausedItself?(job: ObservedJob): void;
}

export class ElectionEvents {
  private readonly logger = new Logger('LeaderElection');
  private listeners: ElectionEventListener[] = [];
  private readonly failedListeners = new Set<ElectionEventListener>();
  /** True while anyone listens to job runs: the gate checks it before creating a JobRun. */
  observesRuns = false;

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: ElectionEventListener): () => void {
    this.listeners = [...this.listeners, listener];
    this.refresh();
    return () => {
      this.listeners = this.listeners.filter((other) => other !== listener);
      this.refresh();
    };
  }

  leadershipChanged(event: LeadershipChangedEvent): void {
    for (const listener of this.listeners) {
      if (listener.leadershipChanged !== undefined) this.call(listener, () => listener.leadershipChanged!(event));
    }
  }

  leaseRound(event: LeaseRoundEvent): void {
    for (const listener of this.listeners) {
      if (listener.leaseRound !== undefined) this.call(listener, () => listener.leaseRound!(event));
    }
  }

  apiError(event: ApiErrorEvent): void {
    for (const listener of this.listeners) {
      if (listener.apiError !== undefined) this.call(listener, () => listener.apiError!(event));
    }
  }

  /** The hot path of a follower's tick: no allocation here, nor in the core's call. */
  tickSkipped(job: ObservedJob, reason: SkipReason): void {
    const listeners = this.listeners;
    for (let i = 0; i < listeners.length; i++) {
      const listener = listeners[i]!;
      if (listener.tickSkipped === undefined) continue;
      try {
        listener.tickSkipped(job, reason);
      } catch (error) {
        this.listenerFailed(listener, error);
      }
    }
  }

  ticksCaughtUp(job: ObservedJob, count: number): void {
    for (const listener of this.listeners) {
      if (listener.ticksCaughtUp !== undefined) this.call(listener, () => listener.ticksCaughtUp!(job, count));
    }
  }

  jobPausedItself(job: ObservedJob): void {
    for (const listener of this.listeners) {
      if (listener.jobPausedItself !== undefined) this.call(listener, () => listener.jobPausedItself!(job));
    }
  }

  ticksMissed(job: ObservedJob, count: number): void {
    for (const listener of this.listeners) {
      if (listener.ticksMissed !== undefined) this.call(listener, () => listener.ticksMissed!(job, count));
    }
  }

  /**
   * A gated job starts: undefined when nobody observes runs (the gate then runs it as before).
   * `context` is the job's leadership context; `ledger` what the ledger knows of the run.
   */
  jobStarted(job: ObservedJob, context: LeaderJobContext, ledger?: JobRunLedger): JobRun | undefined {
    if (!this.observesRuns) return undefined;
    const run = new JobRun(job, context.term, ledger);
    for (const listener of this.listeners) {
      if (listener.jobStarted !== undefined) this.call(listener, () => listener.jobStarted!(run));
    }
    return run;
  }

  /** Runs `body` inside every listener's runWithin (outermost first). */
  runJob<T>(run: JobRun, body: () => T): T {
    let wrapped = body;
    for (const listener of this.listeners) {
      if (listener.runWithin === undefined || this.failedListeners.has(listener)) continue;
      const inner = wrapped;
      wrapped = () => listener.runWithin!(run, inner);
    }
    return wrapped();
  }

  jobFinished(run: JobRun, outcome: JobRunOutcome, error?: unknown): void {
    run.outcome = outcome;
    run.durationMs = monotonicNow() - run.startedAt;
    run.error = error;
    for (const listener of this.listeners) {
      if (listener.jobFinished !== undefined) this.call(listener, () => listener.jobFinished!(run));
    }
  }

  private call(listener: ElectionEventListener, deliver: () => void): void {
    try {
      deliver();
    } catch (error) {
      this.listenerFailed(listener, error);
    }
  }

  /** Logged once per listener: a broken metric must not flood the log on every tick. */
  private listenerFailed(listener: ElectionEventListener, error: unknown): void {
    if (this.failedListeners.has(listener)) return;
    this.failedListeners.add(listener);
    const name = listener.constructor?.name ?? 'listener';
    this.logger.warn(
      `An observer of the elections (${name}) failed: ${error instanceof Error ? error.message : String(error)}. ` +
        `Elections and jobs go on; its later failures are not logged, and it no longer wraps job runs. ` +
        `This is a bug in nestjs-cluster-leader; please report it.`,
    );
  }

  private refresh(): void {
    this.observesRuns = this.listeners.some(
      (listener) => listener.jobStarted !== undefined || listener.jobFinished !== undefined || listener.runWithin !== undefined,
    );
  }
}
