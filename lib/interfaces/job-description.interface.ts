/** One run of a job, as `jobs()` lists it (newest first): times in ISO 8601. */
export interface JobRunSummary {
  fireTime: string;
  /** The pod (identity) that ran it. */
  pod: string;
  term: number | null;
  startedAt: string;
  /** Null while it runs, or when its leader stopped before recording the end. */
  endedAt: string | null;
  outcome: 'succeeded' | 'failed' | 'interrupted' | null;
  kind: 'scheduled' | 'catchUp' | 'rerun' | 'manual' | 'backfill';
}

/** A @LeaderOnly() job as `ClusterLeaderService.jobs()` describes it, from this pod's view of the Lease. */
export interface JobDescription {
  /** `ClassName.methodName`. */
  name: string;
  /** Its key in the Lease (its `@Cron({ name })`, else `name`): what pause(), runNow()... take. */
  key: string;
  /** The election that runs it: for an election split into shards, its shard's (`<election>-shard-<i>`). */
  election: string;
  /** For a job of an election split into shards: which election, which shard, and whether it was pinned. */
  shard: { election: string; index: number; of: number; pinned: boolean } | null;
  /** The pod that leads its election (or shard) as this pod sees it: where its ticks run; null if none is known. */
  leader: string | null;
  schedule:
    | { kind: 'cron'; cron: string; timeZone?: string; utcOffset?: number; disabled?: boolean }
    | { kind: 'interval'; everyMs: number }
    | { kind: 'timeout'; afterMs: number }
    | { kind: 'none' };
  /** The next fire times of a @Cron() job (ISO 8601); empty for the others. */
  nextFireTimes: string[];
  /** Whether it can be paused and run from any pod (its election uses the Lease backend). */
  controllable: boolean;
  /** The Lease annotation that pauses it (`kubectl annotate lease <name> <this>='why'`); null without a Lease. */
  pauseAnnotation: string | null;
  paused: { by: string | null; at: string | null; note: string } | null;
  /** Runs in progress here, and the pod a run in progress is on (as the Lease's history says). */
  running: { here: number; on: string | null; since: string | null };
  /** Its last runs on any pod, newest first (Lease backend). */
  lastRuns: JobRunSummary[];
  /** How often it ran, was skipped or failed in this process. */
  counters: { runs: number; skipped: number; failed: number };
}

/** How a run-now or backfill request ended, as the leader recorded it. */
export interface RequestOutcome {
  id: string;
  /** The job's key. */
  job: string;
  kind: 'run' | 'backfill';
  outcome: 'succeeded' | 'failed' | 'interrupted' | 'dropped';
  /** The pod and term that took it. */
  pod: string;
  term: number | null;
  /** The time it ran for (a run), or the last fire time taken (a backfill). */
  fireTime: string | null;
  startedAt: string;
  endedAt: string | null;
  /** A backfill: the fire times its range holds, and how many ran. */
  total?: number;
  done?: number;
  /** Why it was dropped or interrupted. */
  reason?: string;
}

export interface PauseOptions {
  /** Why, for whoever looks (jobs(), kubectl, the logs). @default '' */
  note?: string;
}

export interface ResumeOptions {
  /**
   * Do not catch up the ticks missed while it was paused: its fire times up to now count as done
   * (they are not run, whatever its `missedRuns`). @default false: `missedRuns` decides
   */
  skipMissed?: boolean;
}

export interface RunNowOptions {
  /** How long to wait for the run to end, in ms; past it the promise rejects, and the run may still happen. @default 60000 */
  timeoutMs?: number;
}

export interface BackfillOptions extends RunNowOptions {
  /** The first fire time to run (included): a Date, an ISO 8601 string or ms since the epoch. */
  from: Date | string | number;
  /** The last fire time to run (included). */
  to: Date | string | number;
}
