import type { LeaderOnlyOptions } from '../interfaces/leader-only-options.interface.js';
import type { CronFireTimes } from '../ledger/fire-times.js';
import type { JobPolicy } from '../ledger/job-policy.js';

/** A @LeaderOnly() method, as the decorator describes it to the gate. */
export interface GatedJob {
  /** `ClassName.methodName`, for logs and counters. */
  readonly name: string;
  readonly election: string;
  readonly method: (...args: unknown[]) => unknown;
  /** The decorator's options, checked at startup (see resolveJobPolicy). */
  readonly options: LeaderOnlyOptions;
}

/** How often each job ran, was skipped, or failed, in this process. */
export interface JobCounters {
  runs: number;
  /** Ticks that did not run here: not the leader, still running (overlap), or claimed elsewhere. */
  skipped: number;
  failed: number;
}

/** A tick kept to run once the job's runs in progress end (`overlap: 'bufferOne'` or `'cancelOther'`). */
export interface KeptTick {
  readonly self: unknown;
  readonly args: unknown[];
  /** When it came (wall-clock ms): it runs for that time's fire time. */
  readonly firedAt: number;
}

/** A job of this application, as the explorer registered it at startup. */
export interface RegisteredJob {
  readonly job: GatedJob;
  readonly policy: JobPolicy;
  /** Its ticks are claimed in the election's ledger (the Lease backend, `claim` not off). */
  readonly claims: boolean;
  /** The provider instance the method belongs to, for runs the gate starts itself (catch-up). */
  readonly instance: object;
  /** Runs in progress in this process (a claimed tick counts from its claim on). */
  running: number;
  /** An overlapping tick was logged while the current runs go on (reset when none runs). */
  overlapLogged: boolean;
  counters: JobCounters;
  /** A @Cron() job's fire times, to tell an unclaimed run its scheduled time when it asks. */
  readonly fireTimes: CronFireTimes | undefined;
  /** Its election's running count, looked up once here rather than on every run. */
  readonly electionRunning: { count: number };
  /**
   * The latest fire time a plan of this process has taken on, and in which term: the next plan of
   * that term starts after it, though its claims are still to be written (overlapping plans,
   * `overlap: 'allow'`, must not take on the same fire time twice).
   */
  planned: { term: number; fireTime: number } | undefined;
  /**
   * Whether its scheduler still runs it (a named @Cron() stopped or deleted at run time through
   * SchedulerRegistry is not caught up behind the app's back); undefined when that cannot be known.
   */
  readonly scheduled: (() => boolean) | undefined;
  /** The tick kept for when the runs in progress end (see OverlappingTicks). */
  kept: KeptTick | undefined;
  /** `overlap: 'cancelOther'`: what aborts each run in progress. */
  readonly cancellers: Set<AbortController>;
  /** Failed runs in a row (`pauseAfterFailures`). */
  failuresInARow: number;
}
