/** What a running `@LeaderOnly()` job can learn about the leadership and the tick it runs under. */
export interface LeaderJobContext {
  election: string;
  /** The term the job started in (the Lease's `leaseTransitions`); null for backends without terms. */
  term: number | null;
  /**
   * The fencing token: a value that strictly grows with every new term and never repeats, even
   * when the Lease is deleted and re-created (the resourceVersion of the write that acquired the
   * term: an etcd revision, a decimal string; compare as integers, e.g. with a numeric column, or
   * `BigInt(fencingToken)` once it is known not to be null). Pass it with every write to the
   * systems the job changes, so they can reject a write from an older term. Null for backends
   * without one (sidecar, standalone): `BigInt(null)` throws, so handle null first. `term` is not
   * a fencing token: it restarts at 0 when the Lease is re-created.
   */
  fencingToken: string | null;
  /** Aborted as soon as this pod stops leading: stop work and do not write anything more. */
  signal: AbortSignal;
  /**
   * The fire time this run belongs to: the scheduled time of a `@Cron()` tick even when it fired
   * late (the one claimed in the ledger, for jobs that claim; otherwise computed from this pod's
   * clock and the job's schedule when first read), or the time an `@Interval()`/`@Timeout()` tick
   * fired. Null for a method without a schedule decorator, and for a tick so late (over a minute)
   * that it belongs to no fire time.
   */
  readonly scheduledAt: Date | null;
  /** True for a run that makes up for missed or interrupted ticks rather than the current one. */
  catchUp: boolean;
  /**
   * How the run came about: `'scheduled'` (its own tick, or a call by the app), `'catchUp'` (a
   * missed fire time), `'rerun'` (an interrupted one, `interruptedRun: 'rerun'`), `'manual'` (run
   * now, from any pod: `ClusterLeaderService.runNow()`), `'backfill'` (`backfill()`).
   */
  readonly kind: 'scheduled' | 'catchUp' | 'rerun' | 'manual' | 'backfill';
  /** The missed fire times this one run stands for (`missedRuns: 'runOnce'`), oldest first. */
  missedFireTimes: readonly Date[];
}
