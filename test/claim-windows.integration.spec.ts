import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LeaderOnlyOptions, LeaseOptions } from '../lib/index.js';
import { LEDGER_ANNOTATION, decodeLedger, type LedgerEntry } from '../lib/ledger/ledger-record.js';
import type { FailedRequest } from './support/kube-apiserver/index.js';
import { interruptedTicks } from './support/interrupted-ticks.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { cronJob, RunRecorder } from './support/recorded-jobs.js';

/**
 * Cheap claims (issue 15): the leader's renewals claim its jobs' fire times ahead, and a tick inside
 * that window runs without a write of its own. Real Nest apps with the real ScheduleModule on the
 * test API server; a crash, a graceful handover and two handovers in a row inside one window.
 */

/** A window reaches two retry periods (1 s) ahead: a per-second job's every tick falls in one. */
const RETRY_PERIOD_MS = 500;
const TIMINGS: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: RETRY_PERIOD_MS };
const LEASE = 'windows';
const KEY = 'RecordedCronJob.tick';

const recorder = new RunRecorder();
const cluster = new LeaseCandidates(LEASE);

beforeEach(async () => {
  recorder.clear();
  await cluster.setUp();
});
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') {
    console.log(cluster.logger.entries.map((e) => `${e.level} ${e.message}`).join('\n'));
    console.log(recorder.runs.map((r) => `${r.identity} ${r.context.scheduledAt?.toISOString()} ${r.context.kind}`).join('\n'));
  }
  await cluster.tearDown();
});

function start(identity: string, options: LeaderOnlyOptions = {}, lease: Partial<LeaseOptions> = {}) {
  const Job = cronJob({ recorder, identity, options });
  return cluster.startTracked({ identity, lease: { ...TIMINGS, ...lease }, providers: [Job] });
}

/** Every write the server receives, with the job's ledger entry it carries and when it came. */
function watchWrites(): { at: number; user: string | null; entry: LedgerEntry | undefined }[] {
  const writes: { at: number; user: string | null; entry: LedgerEntry | undefined }[] = [];
  // A failure that never matches: its predicate sees every request.
  cluster.server.faults.failNext(1, 500, {
    when: (request: FailedRequest) => {
      if (request.verb === 'update' && request.body !== '') {
        const body = JSON.parse(request.body) as { metadata?: { annotations?: Record<string, string> } };
        writes.push({ at: Date.now(), user: request.user, entry: decodeLedger(body.metadata?.annotations?.[LEDGER_ANNOTATION]).ledger.get(KEY) });
      }
      return false;
    },
  });
  return writes;
}

/** Every second from the first fire time run to the last. */
function secondsRun(): number[] {
  const times = recorder.scheduledTimes();
  const first = Math.min(...times);
  const last = Math.max(...times);
  return Array.from({ length: (last - first) / 1_000 + 1 }, (_, i) => first + i * 1_000);
}

/** The fire times new leaders reported as claimed ahead by a leader that died (not run again, at most once). */
function reportedInterrupted(): number[] {
  return cluster.logger.messages('warn', 'claimed ahead in term').flatMap((line) => interruptedTicks(line)!.fireTimes);
}

describe('claims made ahead', () => {
  it('a per-second job\'s ticks are claimed before they fire, by the renewals: no write of their own', async () => {
    const writes = watchWrites();
    const a = await start('pod-a');
    await recorder.waitFor(() => recorder.runs.length >= 2);
    const since = writes.length;
    const from = Date.now();
    await recorder.waitFor(() => recorder.runs.length >= 8);
    const elapsed = Date.now() - from;
    // Each fire time after the first two was in the Lease before it fired: in a write sent earlier.
    for (const fireTime of recorder.scheduledTimes().slice(2)) {
      const first = writes.find(({ entry }) => entry !== undefined && entry.fireTime >= fireTime);
      expect(first, `the write that claimed ${new Date(fireTime).toISOString()}`).toBeDefined();
      expect(first!.at, `${new Date(fireTime).toISOString()} claimed after it fired`).toBeLessThan(fireTime);
    }
    // The writes are the renewals alone: one per retry period (a claim per tick would add one a second).
    const written = writes.length - since;
    console.log(`${written} writes in ${elapsed} ms with a per-second job (one per ${RETRY_PERIOD_MS} ms renews)`);
    expect(written).toBeLessThanOrEqual(Math.ceil(elapsed / RETRY_PERIOD_MS) + 1);
    expect(recorder.duplicates()).toEqual([]);
    void a;
  });

  it('a leader cut off inside a window: at most once, the new leader reports the window\'s fire times and runs none of them again', async () => {
    await start('pod-a', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 3);
    const b = await start('pod-b', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 5);
    cluster.server.faults.partition('pod-a', true); // a crash, as the cluster sees it
    await recorder.waitFor(() => recorder.runs.filter((run) => run.identity === 'pod-b').length >= 3);
    expect(recorder.duplicates()).toEqual([]);
    const reported = reportedInterrupted();
    expect(reported.length).toBeGreaterThan(0);
    const ran = new Set(recorder.scheduledTimes());
    // None lost without a word: each second ran, or was reported as claimed by the leader that died.
    for (const second of secondsRun()) expect(ran.has(second) || reported.includes(second), new Date(second).toISOString()).toBe(true);
    void b;
  });

  it('a leader cut off inside a window, at least once (interruptedRun: \'rerun\'): nothing is lost', async () => {
    const options: LeaderOnlyOptions = { missedRuns: 'runEach', interruptedRun: 'rerun' };
    await start('pod-a', options);
    await recorder.waitFor(() => recorder.runs.length >= 3);
    await start('pod-b', options);
    await recorder.waitFor(() => recorder.runs.length >= 5);
    cluster.server.faults.partition('pod-a', true);
    await recorder.waitFor(() => recorder.runs.filter((run) => run.identity === 'pod-b').length >= 5);
    const ran = new Set(recorder.scheduledTimes());
    for (const second of secondsRun()) expect(ran.has(second), new Date(second).toISOString()).toBe(true);
    // Run twice only where the window left it unknown, and then said so.
    const reruns = recorder.runs.filter((run) => run.context.kind === 'rerun').map((run) => run.context.scheduledAt!.getTime());
    for (const twice of recorder.duplicates()) expect(reruns).toContain(twice);
  });

  it('a graceful handover inside a window: what the window claimed but its leader never started runs once, on the new leader', async () => {
    const a = await start('pod-a', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 3);
    await start('pod-b', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 5);
    await cluster.close(a); // releases the Lease after its runs ended
    await recorder.waitFor(() => recorder.runs.filter((run) => run.identity === 'pod-b').length >= 3);
    expect(recorder.duplicates()).toEqual([]);
    expect([...new Set(recorder.scheduledTimes())].sort()).toEqual(secondsRun());
    expect(cluster.logger.messages('warn', 'claimed ahead in term')).toEqual([]);
  });

  it('a graceful handover, then the new leader cut off right after its first run: the third leader runs none of its fire times again', async () => {
    // Found by the churn bench (graceful, then partition): the second leader's first run was
    // caught up again by the third, as if nobody had claimed it.
    const a = await start('pod-a', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 3);
    await start('pod-b', { missedRuns: 'runEach' });
    await start('pod-c', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 5);
    await cluster.close(a);
    const next = await cluster.timeline.nextLeader('pod-a');
    await recorder.waitFor(() => recorder.runs.some((run) => run.identity === next));
    cluster.server.faults.partition(next, true);
    const third = next === 'pod-b' ? 'pod-c' : 'pod-b';
    await recorder.waitFor(() => recorder.runs.filter((run) => run.identity === third).length >= 3);
    expect(recorder.duplicates()).toEqual([]);
    cluster.server.faults.partition(next, false);
  });

  it('two graceful handovers in a row inside one window: nobody runs a fire time twice, none is lost', async () => {
    const a = await start('pod-a', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 3);
    const b = await start('pod-b', { missedRuns: 'runEach' });
    const c = await start('pod-c', { missedRuns: 'runEach' });
    await recorder.waitFor(() => recorder.runs.length >= 5);
    await cluster.close(a);
    // The next leader's first run (pod-b or pod-c, whichever took the Lease), then at once away
    // too: its own window is not yet written.
    const next = await cluster.timeline.nextLeader('pod-a');
    await recorder.waitFor(() => recorder.runs.some((run) => run.identity === next));
    await cluster.close(next === 'pod-b' ? b : c);
    const third = next === 'pod-b' ? 'pod-c' : 'pod-b';
    await recorder.waitFor(() => recorder.runs.filter((run) => run.identity === third).length >= 3);
    expect(recorder.duplicates()).toEqual([]);
    expect([...new Set(recorder.scheduledTimes())].sort()).toEqual(secondsRun());
  });
});
