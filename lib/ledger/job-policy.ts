import { LeaderOnlySetupError } from '../errors/leader-only-setup.error.js';
import type { LeaderElectionBackend } from '../interfaces/leader-election-options.interface.js';
import type {
  InterruptedRunPolicy,
  LeaderOnlyOptions,
  MissedRunsPolicy,
  OverlapPolicy,
} from '../interfaces/leader-only-options.interface.js';
import { CronFireTimes } from './fire-times.js';
import type { JobSchedule } from './job-schedule.js';
import { MAX_LEDGER_KEY_LENGTH } from './ledger-record.js';
import {
  DUPLICATE_LEDGER_KEY,
  POLICY_INVALID_CRON,
  POLICY_NEEDS_CLAIM,
  POLICY_NO_SCHEDULE_FOR_CLAIMS,
  POLICY_NOT_FOR_INTERVAL,
  POLICY_OPTION_INVALID,
  POLICY_UNKNOWN_OPTION,
} from './ledger.messages.js';

export const JOB_POLICY_DEFAULTS = {
  missedRuns: 'skip',
  maxMissedRuns: 10,
  interruptedRun: 'skip',
  overlap: 'skip',
} as const satisfies Partial<LeaderOnlyOptions>;

/** Intervals shorter than this (ms) do not claim their ticks unless asked to. */
export const MIN_DEFAULT_CLAIM_INTERVAL_MS = 1_000;

/** The most `maxMissedRuns` accepts: a catch-up is a burst of runs, not a replay of history. */
export const MAX_MISSED_RUNS_LIMIT = 1_000;

/** A job's options, checked and completed with defaults, as the gate and the ledger use them. */
export interface JobPolicy {
  /** `ClassName.methodName`, for logs. */
  readonly job: string;
  /** The job's key in the ledger: its `@Cron({ name })` / `@Interval(name, ms)` if any, else `job`. */
  readonly ledgerKey: string;
  readonly schedule: JobSchedule;
  /** Whether ticks are claimed on the `lease` backend (never on the others: see `claimsTicks`). */
  readonly claim: boolean;
  readonly missedRuns: MissedRunsPolicy;
  readonly maxMissedRuns: number;
  /** In ms; undefined: no deadline. */
  readonly startingDeadlineMs: number | undefined;
  readonly interruptedRun: InterruptedRunPolicy;
  readonly overlap: OverlapPolicy;
  /** Failures in a row after which the job pauses itself (Lease backend); undefined: never. */
  readonly pauseAfterFailures: number | undefined;
  /** The job's fire times when it claims `@Cron()` ticks. */
  readonly fireTimes: CronFireTimes | undefined;
  /**
   * The options given that only the `lease` backend honours, each with its value as written
   * (`missedRuns: 'runOnce'`), for the warning that says they are not in force on another backend.
   */
  readonly leaseOnlyOptions: readonly string[];
}

const KNOWN_OPTIONS = ['election', 'shard', 'claim', 'missedRuns', 'maxMissedRuns', 'startingDeadlineMs', 'interruptedRun', 'overlap', 'pauseAfterFailures'] as const;
/** The options that act on claimed ticks: meaningless without claims, impossible without a Lease. */
const CLAIM_OPTIONS = ['missedRuns', 'maxMissedRuns', 'startingDeadlineMs', 'interruptedRun'] as const;

/**
 * Checks a job's `@LeaderOnly()` options against its schedule and completes them with defaults.
 * Throws LeaderOnlySetupError naming the job, the option, the value and the fix. The rules:
 *
 * - `@Cron()`: everything applies; a tick is (job, scheduled fire time).
 * - `@Interval(ms)`: each pod's setInterval starts at its own bootstrap, so the cluster has no
 *   common fire times; a tick's identity is the time the leader's timer fired, and its ticks are
 *   counted from the last claimed run cluster-wide: a tick runs only when 90% of the interval (at
 *   most the interval less 1 s) has passed since the last claimed run on any pod. A new leader does
 *   not start a second cadence next to the old one's. `missedRuns: 'runOnce'` runs at once when a
 *   pod starts leading and an interval or more has passed; `'runEach'` is rejected (an interval has
 *   no missed fire times to replay) and so is `interruptedRun: 'rerun'` (the next run is one
 *   interval away anyway).
 * - `@Timeout(ms)`: fires once per process, at each pod's own time after its start. "Once per
 *   cluster start" cannot be told apart from "once per rolling update" or "once ever" with what a
 *   Lease holds (it outlives deployments), so claims and misfire options are rejected rather than
 *   given a meaning that would surprise; the job keeps today's behaviour (runs on each pod that
 *   leads when its own timeout fires). Use `onStartedLeading` for work once per leadership.
 * - No schedule (a method the app calls itself): no fire times, so no claims; `overlap` applies.
 */
export function resolveJobPolicy(job: string, options: LeaderOnlyOptions, schedule: JobSchedule): JobPolicy {
  if (typeof options !== 'object' || options === null) {
    throw new LeaderOnlySetupError(POLICY_OPTION_INVALID(job, 'options', options, 'Pass an object, or nothing.'));
  }
  rejectUnknownOptions(job, options);
  // Overlap is about ticks: a method the app calls itself keeps running every call it gets.
  const overlap = oneOf(job, 'overlap', options.overlap, ['skip', 'allow', 'bufferOne', 'cancelOther'], schedule.kind === 'none' ? 'allow' : JOB_POLICY_DEFAULTS.overlap);
  // Pauses itself cluster-wide: the pause lives in the Lease (not in force on other backends).
  const pauseAfterFailures = wholeNumber(job, 'pauseAfterFailures', options.pauseAfterFailures, 1, 1_000);
  if (options.claim !== undefined && typeof options.claim !== 'boolean') {
    throw new LeaderOnlySetupError(POLICY_OPTION_INVALID(job, 'claim', options.claim, 'Use true or false.'));
  }
  const given = CLAIM_OPTIONS.filter((option) => options[option] !== undefined);
  const claimable = schedule.kind === 'cron' || schedule.kind === 'interval';
  if (!claimable) {
    const why = schedule.kind === 'timeout'
      ? 'an @Timeout() fires once per process, each pod at its own time after it started, so the cluster has no fire time to claim (use onStartedLeading for work once per leadership, or @Cron() for a fixed time)'
      : 'no @Cron() or @Interval() schedules this method (check that @LeaderOnly() sits on the scheduled method)';
    if (options.claim === true) throw new LeaderOnlySetupError(POLICY_NO_SCHEDULE_FOR_CLAIMS(job, 'claim: true', why));
    if (given[0] !== undefined) throw new LeaderOnlySetupError(POLICY_NO_SCHEDULE_FOR_CLAIMS(job, given[0], why));
  }
  if (options.claim === false && given[0] !== undefined) throw new LeaderOnlySetupError(POLICY_NEEDS_CLAIM(job, given[0]));
  // An @Interval() faster than a second would cost a Lease write per tick, several a second: it
  // claims only when asked to (claim: true, or an option that needs claims).
  const frequent = schedule.kind === 'interval' && schedule.ms < MIN_DEFAULT_CLAIM_INTERVAL_MS;
  const claim = claimable && options.claim !== false && (!frequent || options.claim === true || given.length > 0);

  const missedRuns = oneOf(job, 'missedRuns', options.missedRuns, ['skip', 'runOnce', 'runEach'], JOB_POLICY_DEFAULTS.missedRuns);
  const interruptedRun = oneOf(job, 'interruptedRun', options.interruptedRun, ['skip', 'rerun'], JOB_POLICY_DEFAULTS.interruptedRun);
  const maxMissedRuns = wholeNumber(job, 'maxMissedRuns', options.maxMissedRuns, 1, MAX_MISSED_RUNS_LIMIT) ?? JOB_POLICY_DEFAULTS.maxMissedRuns;
  if (options.maxMissedRuns !== undefined && missedRuns === 'skip') {
    throw new LeaderOnlySetupError(POLICY_OPTION_INVALID(job, 'maxMissedRuns', options.maxMissedRuns,
      `It bounds a catch-up, and missedRuns is 'skip' (no catch-up). Set missedRuns to 'runOnce' or 'runEach', or remove maxMissedRuns.`));
  }
  const startingDeadlineMs = wholeNumber(job, 'startingDeadlineMs', options.startingDeadlineMs, 1, Number.MAX_SAFE_INTEGER);
  if (schedule.kind === 'interval') {
    if (missedRuns === 'runEach') {
      throw new LeaderOnlySetupError(POLICY_NOT_FOR_INTERVAL(job, 'missedRuns', missedRuns,
        `an interval has no fixed fire times to replay one by one. Use 'runOnce' (run at once when a pod starts leading and an interval has passed) or @Cron().`));
    }
    if (interruptedRun === 'rerun') {
      throw new LeaderOnlySetupError(POLICY_NOT_FOR_INTERVAL(job, 'interruptedRun', interruptedRun,
        `its next run comes one interval after the last claimed one anyway. Remove it, or use @Cron() for fire times that are rerun.`));
    }
  }

  const ledgerKey = ('name' in schedule && schedule.name !== undefined ? schedule.name : undefined) ?? job;
  if (claim && ledgerKey.length > MAX_LEDGER_KEY_LENGTH) {
    throw new LeaderOnlySetupError(POLICY_OPTION_INVALID(job, 'claim', true,
      `Its ledger key "${ledgerKey.slice(0, 40)}..." has ${ledgerKey.length} characters, more than ${MAX_LEDGER_KEY_LENGTH}. Give it a shorter @Cron({ name }).`));
  }
  let fireTimes: CronFireTimes | undefined;
  if (claim && schedule.kind === 'cron') {
    try {
      fireTimes = new CronFireTimes(schedule);
    } catch (error) {
      throw new LeaderOnlySetupError(POLICY_INVALID_CRON(job, error instanceof Error ? error.message : String(error)));
    }
  }
  const leaseOnlyOptions = [
    ...(options.claim === true ? ['claim: true'] : []),
    ...(pauseAfterFailures !== undefined ? [`pauseAfterFailures: ${pauseAfterFailures}`] : []),
    ...given.map((option) => `${option}: ${typeof options[option] === 'string' ? `'${options[option]}'` : String(options[option])}`),
  ];
  return { job, ledgerKey, schedule, claim, missedRuns, maxMissedRuns, startingDeadlineMs, interruptedRun, overlap, pauseAfterFailures, fireTimes, leaseOnlyOptions };
}

/**
 * The options of this job that its election's backend does not put in force, as written: those
 * that record ticks in the Lease (`claim: true`, `missedRuns`, `maxMissedRuns`,
 * `startingDeadlineMs`, `interruptedRun`) on a backend without one. Empty on `lease`.
 *
 * They do not stop the app: with `auto`, the same code runs on `standalone` on a laptop or in CI
 * and on `lease` in the cluster, and both must start. The job runs as the backend allows (every
 * tick that fires while this pod leads, nothing claimed or made up), and the orchestrator says so
 * once, at startup, in one warning per election.
 */
export function optionsNotInForce(policy: JobPolicy, backend: Exclude<LeaderElectionBackend, 'auto'>): readonly string[] {
  return backend === 'lease' ? [] : policy.leaseOnlyOptions;
}

/** Whether this job's ticks are claimed in the ledger on this backend. */
export function claimsTicks(policy: JobPolicy, backend: Exclude<LeaderElectionBackend, 'auto'>): boolean {
  return policy.claim && backend === 'lease';
}

/** Startup check: two claiming jobs of one election must not share a ledger key. */
export function assertDistinctLedgerKeys(jobs: Iterable<{ election: string; policy: JobPolicy }>): void {
  const seen = new Map<string, string>();
  for (const { election, policy } of jobs) {
    if (!policy.claim) continue;
    const key = `${election}\u0000${policy.ledgerKey}`;
    const first = seen.get(key);
    if (first !== undefined) throw new LeaderOnlySetupError(DUPLICATE_LEDGER_KEY(policy.ledgerKey, first, policy.job));
    seen.set(key, policy.job);
  }
}

function rejectUnknownOptions(job: string, options: object): void {
  for (const key of Object.keys(options)) {
    if ((KNOWN_OPTIONS as readonly string[]).includes(key)) continue;
    const lower = key.toLowerCase();
    const hint = KNOWN_OPTIONS.find((known) => known.toLowerCase().startsWith(lower) || lower.startsWith(known.toLowerCase()));
    throw new LeaderOnlySetupError(POLICY_UNKNOWN_OPTION(job, key, hint, KNOWN_OPTIONS));
  }
}

function oneOf<T extends string>(job: string, option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new LeaderOnlySetupError(POLICY_OPTION_INVALID(job, option, value, `Use one of ${allowed.map((a) => `'${a}'`).join(', ')}.`));
}

function wholeNumber(job: string, option: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new LeaderOnlySetupError(POLICY_OPTION_INVALID(job, option, value, `Use a whole number ${range}${option.endsWith('Ms') ? ' (milliseconds)' : ''}.`));
  }
  return value;
}
