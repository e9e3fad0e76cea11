/**
 * What a new leader does with the fire times of a job that nobody claimed since its last claimed
 * tick (a crash, a partition, an outage, no pod up), and with the ones cron itself dropped:
 * - `'skip'`: nothing; they are logged, and the job runs at its next fire time (today's behaviour).
 * - `'runOnce'`: one run now that stands for all of them (`currentLeaderJob()` lists them).
 * - `'runEach'`: one run per missed fire time, oldest first, at most `maxMissedRuns`.
 * Quartz calls these misfire instructions; Kubernetes CronJob always does `'runOnce'`.
 */
export type MissedRunsPolicy = 'skip' | 'runOnce' | 'runEach';

/**
 * A claimed tick whose leader died before recording that it finished:
 * - `'skip'`: at most once; logged, never run again.
 * - `'rerun'`: at least once; the new leader runs that fire time again. The job must be idempotent.
 */
export type InterruptedRunPolicy = 'skip' | 'rerun';

/**
 * A tick that comes while the job still runs on this pod: `'skip'` it (logged), `'allow'` both to
 * run at once (Kubernetes CronJob's `concurrencyPolicy: Forbid` and `Allow`), `'bufferOne'` keep
 * one and run it as soon as the current run ends (later ticks meanwhile are skipped), or
 * `'cancelOther'` abort the current run through its AbortSignal and run the new tick once it has
 * stopped (Kubernetes' `Replace`).
 */
export type OverlapPolicy = 'skip' | 'allow' | 'bufferOne' | 'cancelOther';

export interface LeaderOnlyOptions {
  /** The election this job belongs to. @default 'default' */
  election?: string;
  /**
   * For an election split into shards (its `shards` option): the shard (0 to shards - 1) that
   * runs this job, instead of the one its key hashes to. Keeps a job where it is when the number
   * of shards changes, or puts heavy jobs on different shards.
   * @default the shard of a stable hash of the job's key
   */
  shard?: number;
  /**
   * Record each tick in the election's Lease before it runs (one conditional write, which renews
   * the Lease too), so each scheduled fire time runs once across the cluster, even when pods'
   * clocks differ at a handover. A claim that fails means the tick does not run. `false`: no write
   * per tick (for jobs that tick too often to be worth one), at the price of a possible double or
   * lost run at a change of leader. Needs the `lease` backend; not for `@Timeout()` or unscheduled
   * methods.
   * @default true for `@Cron()`, and for `@Interval()` of 1000 ms or more, with the `lease`
   * backend; false otherwise
   */
  claim?: boolean;
  /**
   * What a new leader (or the next tick) does with fire times nobody claimed.
   * `'runEach'` is for `@Cron()` only. Needs claims.
   * @default 'skip'
   */
  missedRuns?: MissedRunsPolicy;
  /**
   * With `missedRuns: 'runEach'` or `'runOnce'`: the most missed fire times caught up (each run,
   * or listed for the one run), the most recent ones; older ones are dropped and logged.
   * A whole number from 1 to 1000.
   * @default 10
   */
  maxMissedRuns?: number;
  /**
   * A missed or late fire time older than this, in milliseconds, is dropped and logged rather than
   * run (Kubernetes CronJob's `startingDeadlineSeconds`): applies to missed fire times, to the
   * rerun of an interrupted tick, and to a tick that itself comes this late. Needs claims.
   * @default no deadline (only `maxMissedRuns` bounds a catch-up)
   */
  startingDeadlineMs?: number;
  /**
   * A claimed tick whose leader died before recording its end: `'skip'` (at most once) or
   * `'rerun'` (at least once). `'rerun'` is for `@Cron()` only. Needs claims.
   * @default 'skip'
   */
  interruptedRun?: InterruptedRunPolicy;
  /**
   * A tick that comes while the previous run of this job is still running on this pod.
   * Works with every backend.
   * @default 'skip' for scheduled jobs; 'allow' for a method without @Cron/@Interval/@Timeout
   */
  overlap?: OverlapPolicy;
  /**
   * After this many failed runs in a row, the job pauses itself on every pod (a note says why;
   * `ClusterLeaderService.resume()` or removing the Lease annotation resumes it), and the metrics
   * count it. Needs the `lease` backend. A whole number from 1 to 1000.
   * @default never
   */
  pauseAfterFailures?: number;
}
