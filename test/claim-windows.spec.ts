import { describe, expect, it } from 'vitest';
import { ClaimWindows } from '../lib/electors/lease/claim-windows.js';
import { resolveJobPolicy } from '../lib/ledger/job-policy.js';
import type { JobSchedule } from '../lib/ledger/job-schedule.js';
import { decodeLedger, encodeLedger, isLaterEntry, type LedgerEntry } from '../lib/ledger/ledger-record.js';
import { planMisfires, type PlanTrigger } from '../lib/ledger/misfire-plan.js';
import type { LeaderOnlyOptions } from '../lib/index.js';

/**
 * Claims made ahead (issue 15, cheap claims): the window entry in the ledger, its order against
 * other entries, what a new leader plans from a window whose leader died or released the Lease,
 * and the window bookkeeping of the leader that claims it. The end-to-end cases, on real Nest apps
 * and the test API server, are in claim-windows.integration.spec.ts.
 */

const SECOND = 1_000;
const BASE = Date.parse('2026-05-01T00:00:00Z');
const S = (n: number) => BASE + n * SECOND;
const everySecond: JobSchedule = { kind: 'cron', cronTime: '* * * * * *', timeZone: 'UTC', disabled: false, waitForCompletion: false };
const windowEntry = (after: number, end: number, term: number): LedgerEntry => ({ fireTime: end, state: 'claimed', term, claimedAfter: after });

function plan(entry: LedgerEntry, now: number, options: LeaderOnlyOptions = {}, { trigger = 'leadershipStarted' as PlanTrigger, neverRan = false } = {}) {
  return planMisfires({
    policy: resolveJobPolicy('Jobs.job', options, everySecond),
    entry,
    trigger,
    nowMs: now,
    runningHere: false,
    claimNeverRan: neverRan,
  });
}

describe('the window entry in the ledger', () => {
  it('is written as [end, "c", term, [after, term]] and read back as a window', () => {
    const { value } = encodeLedger(new Map([['Jobs.job', windowEntry(S(3), S(6), 4)]]));
    expect(JSON.parse(value).j['Jobs.job']).toEqual([S(6), 'c', 4, [S(3), 4]]);
    expect(decodeLedger(value).ledger.get('Jobs.job')).toEqual(windowEntry(S(3), S(6), 4));
  });

  it('a window member another term\'s entry carried over (an older version keeps members it does not know) is no window, and is kept', () => {
    const value = JSON.stringify({ v: 1, j: { 'Jobs.job': [S(9), 'c', 5, [S(3), 4]] } });
    const entry = decodeLedger(value).ledger.get('Jobs.job')!;
    expect(entry.claimedAfter).toBeUndefined();
    expect(entry.extra).toEqual([[S(3), 4]]);
    expect(JSON.parse(encodeLedger(new Map([['Jobs.job', entry]])).value).j['Jobs.job']).toEqual([S(9), 'c', 5, [S(3), 4]]);
  });

  it('members after the window are kept in their places', () => {
    const value = JSON.stringify({ v: 1, j: { 'Jobs.job': [S(9), 'c', 5, [S(3), 5], 'future'] } });
    const entry = decodeLedger(value).ledger.get('Jobs.job')!;
    expect(entry).toMatchObject({ claimedAfter: S(3), extra: ['future'] });
    expect(JSON.parse(encodeLedger(new Map([['Jobs.job', entry]])).value).j['Jobs.job']).toEqual([S(9), 'c', 5, [S(3), 5], 'future']);
  });

  it('orders: a later term\'s window reaching as far beats an earlier one; within a window, progress is later', () => {
    expect(isLaterEntry(windowEntry(S(4), S(6), 5), windowEntry(S(3), S(6), 4))).toBe(true);
    expect(isLaterEntry(windowEntry(S(4), S(6), 4), windowEntry(S(3), S(6), 4))).toBe(true);
    expect(isLaterEntry(windowEntry(S(3), S(6), 4), windowEntry(S(4), S(6), 4))).toBe(false);
    // A plain claim of the window's end: the fire times before it are settled, so it is later.
    expect(isLaterEntry({ fireTime: S(6), state: 'claimed', term: 4 }, windowEntry(S(3), S(6), 4))).toBe(true);
    expect(isLaterEntry({ fireTime: S(6), state: 'succeeded', term: 4 }, windowEntry(S(5), S(6), 4))).toBe(true);
  });
});

describe('a new leader\'s plan from a window', () => {
  it('whose leader died: every fire time after what it settled may have run; at most once, they are reported, not run', () => {
    const planned = plan(windowEntry(S(3), S(6), 4), S(20) + 5, { missedRuns: 'runEach' });
    expect(planned.interrupted).toEqual({ fireTime: S(4), term: 4, action: 'skipped', window: { fireTimes: [S(4), S(5), S(6)], truncated: false } });
    // The missed ones after the window are caught up; none of the window's.
    expect(planned.runs.map((run) => run.fireTime)).toEqual([S(7), S(8), S(9), S(10), S(11), S(12), S(13), S(14), S(15), S(16), S(17), S(18), S(19), S(20)].slice(-10));
    expect(planned.runs.some((run) => run.fireTime <= S(6))).toBe(false);
  });

  it('whose leader died, at least once: each fire time of the window due by now is run again, then the missed ones', () => {
    const planned = plan(windowEntry(S(3), S(6), 4), S(8) + 5, { missedRuns: 'runEach', interruptedRun: 'rerun' });
    expect(planned.runs.map((run) => [run.fireTime, run.kind])).toEqual([[S(4), 'rerun'], [S(5), 'rerun'], [S(6), 'rerun'], [S(7), 'catchUp'], [S(8), 'catchUp']]);
    expect(planned.interrupted).toMatchObject({ action: 'rerun', window: { fireTimes: [S(4), S(5), S(6)] } });
  });

  it('whose term released the Lease (its runs had ended): the fire times after what it settled never started, and are missed', () => {
    const planned = plan(windowEntry(S(3), S(6), 4), S(8) + 5, { missedRuns: 'runEach' }, { neverRan: true });
    expect(planned.interrupted).toBeUndefined();
    expect(planned.runs.map((run) => [run.fireTime, run.kind])).toEqual([[S(4), 'catchUp'], [S(5), 'catchUp'], [S(6), 'catchUp'], [S(7), 'catchUp'], [S(8), 'catchUp']]);
  });

  it('released, and this pod\'s tick falls inside the window (its clock behind): the tick runs, after the missed ones', () => {
    const planned = plan(windowEntry(S(3), S(6), 4), S(5) + 5, { missedRuns: 'runEach' }, { trigger: 'tick', neverRan: true });
    expect(planned.runs.map((run) => [run.fireTime, run.kind])).toEqual([[S(4), 'catchUp'], [S(5), 'scheduled']]);
  });
});

describe('ClaimWindows, the leader\'s side', () => {
  const key = 'Jobs.job';
  const ahead = (until: number) => Math.floor(until / SECOND) * SECOND;
  const claim = (fireTime: number, term = 7): LedgerEntry => ({ fireTime, state: 'claimed', term });
  const done = (fireTime: number, term = 7): LedgerEntry => ({ fireTime, state: 'succeeded', term });
  let wall = S(10) + 100;
  const none = () => undefined;
  const noClaims = () => [];

  it('claims ahead with each confirmed write; a tick inside the window needs no write; its start moves on as runs end', () => {
    wall = S(10) + 100;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    windows.claimed(key, claim(S(10)), ahead); // the first claim of the term, by a write
    expect(windows.covers(key, claim(S(11)))).toBe(false);
    const first = windows.entries(none, noClaims);
    expect(first.get(key)).toEqual(windowEntry(S(10) - 1, S(12), 7)); // S(10) still runs
    windows.sent(first);
    windows.confirm();
    expect(windows.covers(key, claim(S(11)))).toBe(true);
    expect(windows.covers(key, claim(S(13)))).toBe(false);
    expect(windows.covers(key, claim(S(11), 8))).toBe(false); // another term's claim
    windows.ended(key, done(S(10)));
    windows.claimed(key, claim(S(11)), ahead);
    wall = S(11) + 100;
    expect(windows.entries(none, noClaims).get(key)).toEqual(windowEntry(S(11) - 1, S(13), 7));
    windows.ended(key, done(S(11)));
    expect(windows.entries(none, noClaims).get(key)).toEqual(windowEntry(S(11), S(13), 7));
    expect(windows.ownEntry(key)).toEqual(done(S(11)));
  });

  it('once the term ended, no window covers a claim or grows, and its start still moves on (for the release write)', () => {
    wall = S(10) + 100;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    windows.claimed(key, claim(S(10)), ahead);
    windows.sent(windows.entries(none, noClaims));
    windows.confirm();
    windows.endTerm();
    expect(windows.covers(key, claim(S(11)))).toBe(false);
    wall = S(20);
    windows.ended(key, done(S(10)));
    expect(windows.entries(none, noClaims).get(key)).toEqual(windowEntry(S(10), S(12), 7));
    expect(windows.ownEntry(key)).toBeUndefined();
  });

  it('a write whose answer came after the term ended claims nothing', () => {
    wall = S(10) + 100;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    windows.claimed(key, claim(S(10)), ahead);
    windows.sent(windows.entries(none, noClaims));
    windows.endTerm();
    windows.confirm();
    expect(windows.covers(key, claim(S(11)))).toBe(false);
  });

  it('reaches at least as far as an earlier term\'s window, so its entry is the later one', () => {
    wall = S(10) + 100;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    windows.claimed(key, claim(S(8), 9), () => undefined); // a rerun of the old window's S(8); the job is paused meanwhile
    const stored = windowEntry(S(7), S(15), 8);
    const entry = windows.entries(() => stored, noClaims).get(key)!;
    expect(entry).toEqual(windowEntry(S(8) - 1, S(15), 9));
    expect(isLaterEntry(entry, stored)).toBe(true);
  });

  it('a window of its own term that a write whose answer was lost put in the Lease: the release still reaches its end, with the start moved on', () => {
    // A renew carried the window to S(14) and was applied, but its answer never came; then the
    // runs up to S(12) ended and the term ended gracefully. Were the release to write the window
    // it knows (to S(12)), the Lease's later entry (to S(14), its start at S(9)) would stay, and
    // the next leader would read S(10)..S(12), which ran, as never started, and run them again.
    wall = S(10) + 100;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    windows.claimed(key, claim(S(10)), ahead);
    windows.sent(windows.entries(none, noClaims));
    windows.confirm();
    for (const fireTime of [S(10), S(11), S(12)]) {
      windows.claimed(key, claim(fireTime), ahead);
      windows.ended(key, done(fireTime));
    }
    const applied = windowEntry(S(9), S(14), 7);
    windows.endTerm();
    const release = windows.entries(() => applied, noClaims).get(key)!;
    expect(release).toEqual(windowEntry(S(12), S(14), 7));
    expect(isLaterEntry(release, applied)).toBe(true);
  });

  it('a term\'s first claim below the end of a released window goes as a window of its own term, reaching as far', () => {
    // Found by the churn bench: as a plain claim, [S(11), c, 7] is not later than the released
    // window to S(12) of term 6, so the write left the Lease as it was, and the claim counted as
    // written: the next leader took S(11) for missed and ran it again.
    wall = S(10) + 600;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    const released = windowEntry(S(10), S(12), 6);
    const entry = windows.entries(() => released, () => [claim(S(11))], [key]).get(key)!;
    expect(entry).toEqual(windowEntry(S(11) - 1, S(12), 7));
    expect(isLaterEntry(entry, released)).toBe(true);
    // Past the window's end, the plain claim is later: no window needed.
    expect(windows.entries(() => released, () => [claim(S(13))], [key]).get(key)).toBeUndefined();
  });

  it('a claim waiting for a write keeps the window\'s start before it', () => {
    wall = S(10) + 100;
    const windows = new ClaimWindows(2 * SECOND, () => wall);
    windows.claimed(key, claim(S(10)), ahead);
    windows.ended(key, done(S(10)));
    expect(windows.entries(none, () => [claim(S(11))]).get(key)).toEqual(windowEntry(S(11) - 1, S(12), 7));
  });
});
