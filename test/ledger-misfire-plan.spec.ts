import { describe, expect, it, vi } from 'vitest';
import type { LeaderOnlyOptions } from '../lib/index.js';
import { resolveJobPolicy } from '../lib/ledger/job-policy.js';
import type { JobSchedule } from '../lib/ledger/job-schedule.js';
import type { LedgerEntry } from '../lib/ledger/ledger-record.js';
import { planMisfires, type MisfirePlan, type PlanTrigger } from '../lib/ledger/misfire-plan.js';

const HOUR = 3_600_000;
const BASE = Date.parse('2026-05-01T00:00:00Z');
/** The hourly job's n-th fire time. */
const H = (n: number) => BASE + n * HOUR;
const hourly: JobSchedule = { kind: 'cron', cronTime: '0 0 * * * *', timeZone: 'UTC', disabled: false, waitForCompletion: false };
const claimed = (fireTime: number, term = 3): LedgerEntry => ({ fireTime, state: 'claimed', term });
const succeeded = (fireTime: number, term = 3): LedgerEntry => ({ fireTime, state: 'succeeded', term });
const runs = (...fireTimes: number[]) => fireTimes.map((fireTime) => expect.objectContaining({ fireTime }));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => H(from + i));

interface Row {
  name: string;
  options?: LeaderOnlyOptions;
  schedule?: JobSchedule;
  entry?: LedgerEntry;
  trigger?: PlanTrigger;
  now: number;
  runningHere?: boolean;
  /** @Interval(): ms since the last claim, on this process's clock. */
  since?: number;
  neverRan?: boolean;
  expected: Partial<MisfirePlan>;
}

function plan(row: Row): MisfirePlan {
  return planMisfires({
    policy: resolveJobPolicy('Jobs.job', row.options ?? {}, row.schedule ?? hourly),
    entry: row.entry,
    trigger: row.trigger ?? 'tick',
    nowMs: row.now,
    runningHere: row.runningHere ?? false,
    sinceLastClaimMs: row.since,
    claimNeverRan: row.neverRan,
  });
}

const TICK = H(10) + 3; // the CronJob calls the job 3 ms after its fire time

describe('planMisfires for @Cron jobs', () => {
  it.each<Row>([
    {
      name: 'first run ever (no ledger entry): only the tick runs, nothing to catch up',
      options: { missedRuns: 'runEach' }, now: TICK,
      expected: { fireTime: H(10), runs: [{ fireTime: H(10), scheduledAt: H(10), kind: 'scheduled', covers: [], coversTruncated: false }], claim: H(10), dropped: [], skipped: undefined },
    },
    {
      name: 'first leadership ever: nothing runs',
      options: { missedRuns: 'runEach' }, trigger: 'leadershipStarted', now: TICK,
      expected: { runs: [], claim: undefined, dropped: [] },
    },
    {
      name: 'the next tick after a completed one',
      entry: succeeded(H(9)), now: TICK,
      expected: { runs: runs(H(10)), claim: H(10), dropped: [] },
    },
    {
      name: 'clock skew: this pod\'s tick for a fire time the ledger already claimed',
      entry: succeeded(H(10)), now: TICK,
      expected: { fireTime: H(10), runs: [], claim: undefined, skipped: 'alreadyClaimed' },
    },
    {
      name: 'clock skew: a tick before the ledger\'s last claim (this pod\'s clock is an hour behind)',
      entry: succeeded(H(11)), now: TICK,
      expected: { runs: [], skipped: 'alreadyClaimed' },
    },
    {
      name: 'a gap, missedRuns skip: the missed fire times are dropped (to log), the tick runs',
      entry: succeeded(H(5)), now: TICK,
      expected: { runs: runs(H(10)), dropped: [{ reason: 'missedRunsSkip', fireTimes: range(6, 9), truncated: false }] },
    },
    {
      name: 'a gap, runOnce: the tick runs once, standing for the missed ones',
      options: { missedRuns: 'runOnce' }, entry: succeeded(H(5)), now: TICK,
      expected: { runs: [{ fireTime: H(10), scheduledAt: H(10), kind: 'scheduled', covers: range(6, 9), coversTruncated: false }], claim: H(10), dropped: [] },
    },
    {
      name: 'a gap, runEach: each missed fire time, oldest first, then the tick; one claim of the latest',
      options: { missedRuns: 'runEach' }, entry: succeeded(H(5)), now: TICK,
      expected: {
        runs: [...range(6, 9).map((fireTime) => ({ fireTime, kind: 'catchUp', covers: [], coversTruncated: false })), expect.objectContaining({ fireTime: H(10), kind: 'scheduled' })],
        claim: H(10),
      },
    },
    {
      name: 'a big gap is bounded by maxMissedRuns: the most recent run, the older ones are dropped and listed (bounded)',
      options: { missedRuns: 'runEach', maxMissedRuns: 3 }, entry: succeeded(H(-500)), now: TICK,
      expected: { runs: runs(H(7), H(8), H(9), H(10)), dropped: [{ reason: 'maxMissedRuns', fireTimes: range(-499, -490), truncated: true }] },
    },
    {
      name: 'the starting deadline drops missed fire times older than it',
      options: { missedRuns: 'runEach', startingDeadlineMs: 3 * HOUR }, entry: succeeded(H(5)), now: TICK,
      expected: { runs: runs(H(8), H(9), H(10)), dropped: [{ reason: 'startingDeadline', fireTimes: range(6, 7), truncated: false }] },
    },
    {
      name: 'the deadline boundary: a fire time exactly as old as the deadline still runs',
      options: { missedRuns: 'runEach', startingDeadlineMs: 3 * HOUR + 3 }, entry: succeeded(H(5)), now: TICK,
      expected: { runs: runs(H(7), H(8), H(9), H(10)), dropped: [{ reason: 'startingDeadline', fireTimes: [H(6)], truncated: false }] },
    },
    {
      name: 'a tick that itself comes later than the deadline is dropped',
      options: { startingDeadlineMs: 1_000 }, entry: succeeded(H(9)), now: H(10) + 5_000,
      expected: { fireTime: H(10), runs: [], claim: undefined, skipped: 'startingDeadline' },
    },
    {
      name: 'a tick so late it belongs to no fire time (beyond the look-back)',
      entry: succeeded(H(9)), now: H(10) + 120_000,
      expected: { fireTime: undefined, runs: [], skipped: 'noFireTime' },
    },
    {
      name: 'a deadline longer than the default look-back lets a late tick keep its fire time',
      options: { startingDeadlineMs: 10 * 60_000 }, entry: succeeded(H(9)), now: H(10) + 120_000,
      expected: { fireTime: H(10), runs: runs(H(10)) },
    },
    {
      name: 'overlap skip: the previous run still runs here, nothing runs, nothing is claimed',
      entry: claimed(H(9)), now: TICK, runningHere: true,
      expected: { runs: [], claim: undefined, skipped: 'overlap', interrupted: undefined },
    },
    {
      name: 'overlap allow: the tick runs beside it; an entry claimed by the run in progress here is no interruption',
      options: { overlap: 'allow' }, entry: claimed(H(9)), now: TICK, runningHere: true,
      expected: { runs: runs(H(10)), interrupted: undefined },
    },
    {
      name: 'an interrupted tick, at most once (default): logged, not rerun',
      entry: claimed(H(9), 4), now: TICK,
      expected: { runs: runs(H(10)), interrupted: { fireTime: H(9), term: 4, action: 'skipped' } },
    },
    {
      name: 'an interrupted tick, at least once: rerun first, then the tick',
      options: { interruptedRun: 'rerun' }, entry: claimed(H(9), 4), now: TICK,
      expected: {
        runs: [{ fireTime: H(9), kind: 'rerun', covers: [], coversTruncated: false }, expect.objectContaining({ fireTime: H(10), kind: 'scheduled' })],
        claim: H(10), interrupted: { fireTime: H(9), term: 4, action: 'rerun' },
      },
    },
    {
      name: 'an interrupted tick older than the deadline is dropped, not rerun',
      options: { interruptedRun: 'rerun', startingDeadlineMs: 30 * 60_000 }, entry: claimed(H(9), 4), now: TICK,
      expected: { runs: runs(H(10)), interrupted: { fireTime: H(9), term: 4, action: 'dropped' } },
    },
    {
      name: 'at least once when the dead leader claimed this very tick: rerun it, the tick itself is already claimed',
      options: { interruptedRun: 'rerun' }, entry: claimed(H(10), 4), now: TICK,
      expected: { runs: [expect.objectContaining({ fireTime: H(10), kind: 'rerun' })], claim: H(10), skipped: 'alreadyClaimed' },
    },
    {
      name: 'a new leader, runOnce: one run now for the missed fire times, claiming the latest',
      options: { missedRuns: 'runOnce' }, entry: succeeded(H(5)), trigger: 'leadershipStarted', now: H(10) + 30 * 60_000,
      expected: { runs: [{ fireTime: H(10), scheduledAt: H(10), kind: 'catchUp', covers: range(6, 9), coversTruncated: false }], claim: H(10) },
    },
    {
      name: 'a new leader, runEach: each missed fire time',
      options: { missedRuns: 'runEach' }, entry: succeeded(H(7)), trigger: 'leadershipStarted', now: H(10) + 30 * 60_000,
      expected: { runs: runs(H(8), H(9), H(10)), claim: H(10), dropped: [] },
    },
    {
      name: 'a new leader, skip: nothing now (the next tick reports the missed ones)',
      entry: succeeded(H(5)), trigger: 'leadershipStarted', now: H(10) + 30 * 60_000,
      expected: { runs: [], claim: undefined, dropped: [] },
    },
    {
      name: 'a new leader with nothing missed',
      options: { missedRuns: 'runEach' }, entry: succeeded(H(10)), trigger: 'leadershipStarted', now: H(10) + 30 * 60_000,
      expected: { runs: [], claim: undefined, dropped: [], interrupted: undefined },
    },
    {
      name: 'a new leader finds a claim that never ran (its term released the Lease with it open): missed, caught up as the policy says',
      options: { missedRuns: 'runEach' }, entry: claimed(H(9), 2), neverRan: true, trigger: 'leadershipStarted', now: H(10) + 20_000,
      expected: { runs: [expect.objectContaining({ fireTime: H(9), kind: 'catchUp' }), expect.objectContaining({ fireTime: H(10), kind: 'catchUp' })], interrupted: undefined },
    },
    {
      name: "a claim that never ran, missedRuns 'skip': dropped with the other missed fire times, not reported as interrupted",
      entry: claimed(H(9), 2), neverRan: true, now: TICK,
      expected: { runs: runs(H(10)), interrupted: undefined, dropped: [{ reason: 'missedRunsSkip', fireTimes: [H(9)], truncated: false }] },
    },
    {
      name: 'a new leader finds the last claim interrupted, at least once',
      options: { interruptedRun: 'rerun' }, entry: claimed(H(10), 2), trigger: 'leadershipStarted', now: H(10) + 20_000,
      expected: { runs: [expect.objectContaining({ fireTime: H(10), kind: 'rerun' })], claim: H(10), interrupted: { fireTime: H(10), term: 2, action: 'rerun' } },
    },
  ])('$name', (row) => {
    expect(plan(row)).toMatchObject(row.expected);
  });

  it('a per-second job after a day-long outage: bounded work, the most recent runs, the rest dropped', () => {
    const policy = resolveJobPolicy('Jobs.everySecond', { missedRuns: 'runEach' }, { ...hourly, cronTime: '* * * * * *' });
    const next = vi.spyOn(policy.fireTimes!, 'next');
    const now = BASE + 86_400_000 + 4;
    const result = planMisfires({ policy, entry: succeeded(BASE), trigger: 'tick', nowMs: now, runningHere: false });
    expect(result.runs.map((run) => run.fireTime - BASE)).toEqual([86_390, 86_391, 86_392, 86_393, 86_394, 86_395, 86_396, 86_397, 86_398, 86_399, 86_400].map((s) => s * 1_000));
    expect(result.dropped).toEqual([{ reason: 'maxMissedRuns', fireTimes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => BASE + s * 1_000), truncated: true }]);
    expect(next.mock.calls.length).toBeLessThan(250);
  });
});

describe('planMisfires for @Interval jobs: ticks counted from the last claimed run, cluster-wide', () => {
  const every10s: JobSchedule = { kind: 'interval', ms: 10_000 };
  const T = BASE;
  it.each<Row>([
    { name: 'the first tick ever runs', schedule: every10s, now: T, expected: { fireTime: T, runs: runs(T), claim: T } },
    { name: 'a tick an interval after the last claimed run runs', schedule: every10s, entry: succeeded(T), now: T + 10_000, expected: { runs: runs(T + 10_000) } },
    { name: 'a tick slightly early (timer and clock jitter, within 10%) runs', schedule: every10s, entry: succeeded(T), now: T + 9_100, expected: { runs: runs(T + 9_100) } },
    { name: 'a new leader\'s tick soon after the old leader\'s run is skipped', schedule: every10s, entry: succeeded(T), now: T + 8_000, expected: { runs: [], skipped: 'ranRecently' } },
    { name: 'a tick at or before the last claim (clock skew) is skipped', schedule: every10s, entry: succeeded(T), now: T - 150, expected: { runs: [], skipped: 'ranRecently' } },
    // Issue 18.10: the cadence is judged on this process's clock (since), never by comparing wall clocks.
    { name: 'the last claim was made by a pod 60 s ahead, an interval ago: runs, claiming just after it', schedule: every10s, entry: succeeded(T + 60_000), now: T + 10_000, since: 10_000, expected: { runs: [expect.objectContaining({ fireTime: T + 60_001, scheduledAt: T + 10_000 })], claim: T + 60_001 } },
    { name: 'the last claim was made by a pod 60 s behind, just now: skipped', schedule: every10s, entry: succeeded(T - 60_000), now: T, since: 200, expected: { runs: [], skipped: 'ranRecently' } },
    { name: 'a new leader, runOnce, by this process\'s clock an interval has not passed: waits, whatever the wall clocks say', schedule: every10s, options: { missedRuns: 'runOnce' }, entry: succeeded(T - 60_000), trigger: 'leadershipStarted', now: T, since: 3_000, expected: { runs: [] } },
    { name: 'overlap skip', schedule: every10s, entry: claimed(T), now: T + 10_000, runningHere: true, expected: { runs: [], skipped: 'overlap' } },
    { name: 'an interrupted run is reported, never rerun', schedule: every10s, entry: claimed(T, 5), now: T + 10_000, expected: { runs: runs(T + 10_000), interrupted: { fireTime: T, term: 5, action: 'skipped' } } },
    { name: 'a new leader, runOnce, an interval or more since the last run: runs at once', schedule: every10s, options: { missedRuns: 'runOnce' }, entry: succeeded(T), trigger: 'leadershipStarted', now: T + 25_000, expected: { runs: [{ fireTime: T + 25_000, scheduledAt: T + 25_000, kind: 'catchUp', covers: [], coversTruncated: false }], claim: T + 25_000 } },
    { name: 'a new leader, runOnce, within the interval: waits for its tick', schedule: every10s, options: { missedRuns: 'runOnce' }, entry: succeeded(T), trigger: 'leadershipStarted', now: T + 5_000, expected: { runs: [] } },
    { name: 'a new leader, runOnce, past the starting deadline: dropped', schedule: every10s, options: { missedRuns: 'runOnce', startingDeadlineMs: 5_000 }, entry: succeeded(T), trigger: 'leadershipStarted', now: T + 25_000, expected: { runs: [], dropped: [{ reason: 'startingDeadline', fireTimes: [T + 10_000], truncated: false }] } },
    { name: 'a new leader, skip: waits for its own tick', schedule: every10s, entry: succeeded(T), trigger: 'leadershipStarted', now: T + 25_000, expected: { runs: [], claim: undefined } },
  ])('$name', (row) => {
    expect(plan(row)).toMatchObject(row.expected);
  });
});

describe('planMisfires refuses jobs that do not claim', () => {
  it('throws for a @Timeout policy (a programming error in the gate, not a user error)', () => {
    const policy = resolveJobPolicy('Jobs.warmUp', {}, { kind: 'timeout', ms: 1_000 });
    expect(() => planMisfires({ policy, entry: undefined, trigger: 'tick', nowMs: BASE, runningHere: false })).toThrow(/is for jobs that claim/);
  });
});
