import { DEFAULT_LOOK_BACK_MS, type CronFireTimes } from './fire-times.js';
import type { JobPolicy } from './job-policy.js';
import { settledUpTo, type LedgerEntry } from './ledger-record.js';

/** How many dropped fire times a plan lists (for the log); beyond, it says there were more. */
export const MAX_LISTED_FIRE_TIMES = 10;

/** What makes the gate ask for a plan: the job's own tick, or this pod starting to lead. */
export type PlanTrigger = 'tick' | 'leadershipStarted';

export interface MisfirePlanInput {
  readonly policy: JobPolicy;
  /** The job's entry in the ledger as the gate knows it, with this process's unwritten completions applied. */
  readonly entry: LedgerEntry | undefined;
  readonly trigger: PlanTrigger;
  /** The wall clock (Date.now()) when the tick came or leadership started, in ms. */
  readonly nowMs: number;
  /** Whether a run of this job is in progress in this process. */
  readonly runningHere: boolean;
  /**
   * @Interval(): milliseconds since the last claim was made, on this process's own monotonic clock
   * (TickLedger.sinceClaimMs). Undefined: judged from the entry's fire time and `nowMs`.
   */
  readonly sinceLastClaimMs?: number;
  /**
   * The entry's claim provably never ran (TickLedger.claimNeverRan): its fire time counts as
   * missed, not as interrupted.
   */
  readonly claimNeverRan?: boolean;
}

export type RunKind =
  /** The tick's own fire time. */
  | 'scheduled'
  /** A missed fire time, run now (`missedRuns: 'runEach'`, or the one run of `'runOnce'` on a new leader). */
  | 'catchUp'
  /** A claimed fire time whose leader died before it finished (`interruptedRun: 'rerun'`). */
  | 'rerun';

export interface PlannedRun {
  /** The fire time this run claims in the ledger, in ms since the epoch. */
  readonly fireTime: number;
  /**
   * The time the job is told it runs for (`scheduledAt`): the fire time, except for @Interval(),
   * whose claim may be moved just past an entry that another pod's clock put in the future.
   */
  readonly scheduledAt: number;
  readonly kind: RunKind;
  /** Missed fire times this one run stands for (`missedRuns: 'runOnce'`), oldest first, bounded by `maxMissedRuns`. */
  readonly covers: readonly number[];
  /** True when older missed fire times were left out of `covers`. */
  readonly coversTruncated: boolean;
}

export type DropReason =
  /** `missedRuns: 'skip'`. */
  | 'missedRunsSkip'
  /** Older than `startingDeadlineMs`. */
  | 'startingDeadline'
  /** Beyond the `maxMissedRuns` most recent. */
  | 'maxMissedRuns';

export interface DroppedFireTimes {
  readonly reason: DropReason;
  /** The oldest ones, at most MAX_LISTED_FIRE_TIMES. */
  readonly fireTimes: readonly number[];
  /** More were dropped for this reason than listed. */
  readonly truncated: boolean;
}

export type SkipReason =
  /** The tick's fire time is at or before the ledger's last claim: it ran (or runs) elsewhere. */
  | 'alreadyClaimed'
  /** An @Interval tick less than an interval after the last claimed run, on any pod. */
  | 'ranRecently'
  /** The previous run still runs on this pod (`overlap: 'skip'`). */
  | 'overlap'
  /** The tick came later than `startingDeadlineMs` after its fire time. */
  | 'startingDeadline'
  /** The tick came so late (beyond the look-back) that it belongs to no fire time. */
  | 'noFireTime';

export interface MisfirePlan {
  /** The tick's fire time (trigger 'tick'), if it has one. */
  readonly fireTime: number | undefined;
  /** What to run, in this order (oldest first), one after another. */
  readonly runs: readonly PlannedRun[];
  /**
   * The latest fire time the runs claim (each run is claimed, with a conditional write, just
   * before it starts). Undefined: nothing runs, nothing is written.
   */
  readonly claim: number | undefined;
  /** Why the tick itself does not run, when it does not (a rerun may still be planned). */
  readonly skipped: SkipReason | undefined;
  /** Missed fire times that will never run; each group to be logged once. */
  readonly dropped: readonly DroppedFireTimes[];
  /**
   * The ledger's last claim was never completed (its leader died), and what this plan does with
   * it. Every plan reports it until a new claim replaces the entry: log it once per (fireTime, term).
   */
  readonly interrupted: Interruption | undefined;
}

/** A claim whose leader died before recording that it ended: one fire time, or a window's. */
export interface Interruption {
  /** The first fire time it claimed (the only one, unless it was a window claimed ahead). */
  readonly fireTime: number;
  readonly term: number;
  readonly action: 'rerun' | 'skipped' | 'dropped';
  /**
   * A window claimed ahead (see claim-windows.ts): every fire time it claimed that may or may not
   * have run, oldest first (at most MAX_LISTED_FIRE_TIMES), and whether more were left out.
   */
  readonly window?: { readonly fireTimes: readonly number[]; readonly truncated: boolean };
}

/**
 * Decides, for one claiming job, what a tick or a new leadership runs, from the ledger alone: pure,
 * no clock but `nowMs`, no I/O. The rules, in order:
 *  1. `overlap: 'skip'` and a run in progress here: nothing runs, nothing is claimed (the skipped
 *     fire time is missed, and a later plan treats it so).
 *  2. A tick at or before the ledger's last claimed fire time never runs, whatever this pod's
 *     clock says (clock skew at a handover, a tick the previous leader already claimed).
 *  3. An entry still `claimed` that is not running here was interrupted: rerun it (at least once,
 *     unless older than the starting deadline) or log it (at most once, the default). A window
 *     claimed ahead is so for each of its fire times up to now. A claim that provably never ran
 *     (its term released the Lease with it still open) is a missed fire time, and so is each fire
 *     time of such a window after what it settled.
 *  4. Fire times between the last claim and this tick (or now, for a new leader) were missed:
 *     skipped and logged, run once for all, or run each (the `maxMissedRuns` most recent within
 *     the starting deadline); older ones are dropped and logged.
 *  5. The tick itself runs, unless it came later than the starting deadline.
 * No ledger entry (the job never ran): nothing to catch up, only the tick runs.
 */
export function planMisfires(input: MisfirePlanInput): MisfirePlan {
  const { policy } = input;
  if (policy.schedule.kind === 'interval') return planInterval(input, policy.schedule.ms);
  if (policy.schedule.kind === 'cron' && policy.fireTimes !== undefined) return planCron(input, policy.fireTimes);
  throw new Error(`${policy.job}: planMisfires() is for jobs that claim @Cron() or @Interval() ticks`);
}

function planCron(original: MisfirePlanInput, fireTimes: CronFireTimes): MisfirePlan {
  const input = original.claimNeverRan && original.entry !== undefined ? asMissed(original, original.entry) : original;
  const { policy, entry, nowMs, runningHere } = input;
  const lookBackMs = Math.max(DEFAULT_LOOK_BACK_MS, policy.startingDeadlineMs ?? 0);
  const fireTime = input.trigger === 'tick' ? fireTimes.tickFireTime(nowMs, { lookBackMs }) : undefined;
  if (runningHere && policy.overlap === 'skip') return nothing(fireTime, 'overlap');
  if (input.trigger === 'tick' && fireTime === undefined) return nothing(undefined, 'noFireTime');
  // Fire times older than the cutoff are past their starting deadline.
  const cutoff = policy.startingDeadlineMs === undefined ? Number.NEGATIVE_INFINITY : nowMs - policy.startingDeadlineMs;
  const runs: PlannedRun[] = [];
  const dropped: DroppedFireTimes[] = [];
  // Before the already-claimed check: the tick a dead leader claimed is the one to rerun; a
  // window's, each one due by now (a later one runs as its tick comes).
  const due = fireTime ?? nowMs;
  const interrupted = interruption(input, cutoff, runs, (after, end, rerun) =>
    fireTimes.between(after, rerun ? Math.min(end, due) : end, rerun ? Math.max(policy.maxMissedRuns, 1) : MAX_LISTED_FIRE_TIMES));
  if (fireTime !== undefined && entry !== undefined && fireTime <= entry.fireTime) {
    return plan(fireTime, runs, 'alreadyClaimed', dropped, interrupted);
  }
  if (entry === undefined && input.trigger === 'leadershipStarted') return plan(undefined, runs, undefined, dropped, interrupted);

  // Missed: in (last claim, end), end exclusive: the tick's fire time, or just after now.
  const end = fireTime ?? nowMs + 1;
  let kept: { fireTimes: number[]; truncated: boolean } = { fireTimes: [], truncated: false };
  if (entry !== undefined) {
    const last = entry.fireTime;
    if (policy.missedRuns === 'skip') {
      // A new leader that skips leaves them to its first tick's plan, so they are logged once.
      if (fireTime !== undefined) push(dropped, 'missedRunsSkip', fireTimes.between(last, end - 1, MAX_LISTED_FIRE_TIMES));
    } else {
      if (cutoff > last) push(dropped, 'startingDeadline', fireTimes.between(last, Math.min(end, cutoff) - 1, MAX_LISTED_FIRE_TIMES));
      const keptAfter = Math.max(last, cutoff - 1);
      kept = fireTimes.latest(keptAfter, end, policy.maxMissedRuns);
      if (kept.truncated) {
        push(dropped, 'maxMissedRuns', fireTimes.between(keptAfter, (kept.fireTimes[0] as number) - 1, MAX_LISTED_FIRE_TIMES));
      }
    }
  }

  if (fireTime !== undefined && fireTime < cutoff) {
    // The tick itself is too late; so are the missed ones before it (all dropped above).
    return plan(fireTime, runs, 'startingDeadline', dropped, interrupted);
  }
  if (policy.missedRuns === 'runEach') {
    for (const missed of kept.fireTimes) runs.push(run(missed, 'catchUp'));
    if (fireTime !== undefined) runs.push(run(fireTime, 'scheduled'));
  } else if (fireTime !== undefined) {
    runs.push(run(fireTime, 'scheduled', kept.fireTimes, kept.truncated));
  } else if (kept.fireTimes.length > 0) {
    // runOnce on a new leader: one run, claiming the latest missed fire time, standing for the rest.
    const latest = kept.fireTimes[kept.fireTimes.length - 1] as number;
    runs.push(run(latest, 'catchUp', kept.fireTimes.slice(0, -1), kept.truncated));
  }
  return plan(fireTime, runs, undefined, dropped, interrupted);
}

/**
 * @Interval: a tick's identity is the time it fired (each pod's setInterval has its own phase),
 * and ticks are counted from the last claimed run, cluster-wide (see resolveJobPolicy), by how
 * long ago this process knows that claim was made on its own clock: two pods' wall clocks are
 * never compared. The claim is written just after the entry's fire time when another pod's clock
 * put that in the future, so the ledger still only moves forward.
 */
function planInterval(input: MisfirePlanInput, intervalMs: number): MisfirePlan {
  const { policy, entry, nowMs, runningHere } = input;
  const fireTime = input.trigger === 'tick' ? nowMs : undefined;
  if (runningHere && policy.overlap === 'skip') return nothing(fireTime, 'overlap');
  const runs: PlannedRun[] = [];
  const dropped: DroppedFireTimes[] = [];
  // interruptedRun 'rerun' is rejected for intervals: an interruption is only ever reported.
  const interrupted = interruption(input, Number.POSITIVE_INFINITY, runs);
  const last = entry?.fireTime;
  const since = last === undefined ? undefined : (input.sinceLastClaimMs ?? nowMs - last);
  const claimAt = (scheduledAt: number) => (last === undefined ? scheduledAt : Math.max(scheduledAt, last + 1));
  if (fireTime !== undefined) {
    if (since !== undefined && since < intervalMs - intervalJitterMs(intervalMs)) return nothing(fireTime, 'ranRecently', interrupted);
    runs.push({ ...run(claimAt(fireTime), 'scheduled'), scheduledAt: fireTime });
    return plan(fireTime, runs, undefined, dropped, interrupted);
  }
  if (since === undefined || policy.missedRuns !== 'runOnce' || since < intervalMs) {
    return plan(undefined, runs, undefined, dropped, interrupted);
  }
  const overdueMs = since - intervalMs;
  if (policy.startingDeadlineMs !== undefined && overdueMs > policy.startingDeadlineMs) {
    dropped.push({ reason: 'startingDeadline', fireTimes: [nowMs - overdueMs], truncated: false });
  } else {
    runs.push({ ...run(claimAt(nowMs), 'catchUp'), scheduledAt: nowMs });
  }
  return plan(undefined, runs, undefined, dropped, interrupted);
}

/**
 * How much sooner than one interval after the last claimed run an @Interval tick may still run,
 * in ms: timers and wall clocks of two pods are not exact. 10% of the interval, at most 1 s.
 */
export function intervalJitterMs(intervalMs: number): number {
  return Math.min(1_000, Math.ceil(intervalMs / 10));
}

/** The fire times in (after, end] of a window, for a rerun (the most it may rerun) or a report. */
type WindowFireTimes = (after: number, end: number, rerun: boolean) => { fireTimes: number[]; truncated: boolean };

function interruption(input: MisfirePlanInput, cutoff: number, runs: PlannedRun[], inWindow?: WindowFireTimes): Interruption | undefined {
  const { entry, runningHere, policy } = input;
  if (entry === undefined || entry.state !== 'claimed' || runningHere) return undefined;
  const { term } = entry;
  const rerun = policy.interruptedRun === 'rerun';
  const window = entry.claimedAfter !== undefined && inWindow !== undefined;
  const claimed = window ? inWindow(entry.claimedAfter!, entry.fireTime, rerun) : { fireTimes: [entry.fireTime], truncated: false };
  if (claimed.fireTimes.length === 0) return undefined;
  const report = (action: Interruption['action']): Interruption => ({
    fireTime: claimed.fireTimes[0] as number,
    term,
    action,
    ...(window && {
      window: { fireTimes: claimed.fireTimes.slice(0, MAX_LISTED_FIRE_TIMES), truncated: claimed.truncated || claimed.fireTimes.length > MAX_LISTED_FIRE_TIMES },
    }),
  });
  if (!rerun) return report('skipped');
  const live = claimed.fireTimes.filter((claimedFireTime) => claimedFireTime >= cutoff);
  if (live.length === 0) return report('dropped');
  for (const claimedFireTime of live) runs.push(run(claimedFireTime, 'rerun'));
  return report('rerun');
}

/** The entry as if its claim had not been made: its fire times (a window's) are then missed ones. */
function asMissed(input: MisfirePlanInput, entry: LedgerEntry): MisfirePlanInput {
  return { ...input, entry: { fireTime: settledUpTo(entry), state: 'succeeded', term: entry.term } };
}

function run(fireTime: number, kind: RunKind, covers: readonly number[] = [], coversTruncated = false): PlannedRun {
  return { fireTime, scheduledAt: fireTime, kind, covers, coversTruncated };
}

function push(dropped: DroppedFireTimes[], reason: DropReason, found: { fireTimes: number[]; truncated: boolean }): void {
  if (found.fireTimes.length > 0) dropped.push({ reason, fireTimes: found.fireTimes, truncated: found.truncated });
}

function nothing(fireTime: number | undefined, skipped: SkipReason, interrupted?: MisfirePlan['interrupted']): MisfirePlan {
  return { fireTime, runs: [], claim: undefined, skipped, dropped: [], interrupted };
}

function plan(
  fireTime: number | undefined,
  runs: PlannedRun[],
  skipped: SkipReason | undefined,
  dropped: DroppedFireTimes[],
  interrupted: MisfirePlan['interrupted'],
): MisfirePlan {
  const claim = runs.length === 0 ? undefined : Math.max(...runs.map((planned) => planned.fireTime));
  return { fireTime, runs, claim, skipped, dropped, interrupted };
}
