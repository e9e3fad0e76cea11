import { SchedulerRegistry } from '@nestjs/schedule';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LeaderOnlyOptions, LeaseOptions } from '../lib/index.js';
import { LEDGER_ANNOTATION, decodeLedger } from '../lib/ledger/ledger-record.js';
import { formatMicroTime, type FailedRequest } from './support/kube-apiserver/index.js';
import { LeaseCandidates, quietWindow } from './support/lease-candidates.js';
import { deferred } from './support/nest-app.js';
import { cronJob, intervalJob, RunRecorder, untilAborted, type RecordedRun } from './support/recorded-jobs.js';

/**
 * Each tick once, attacked (issue 18): the ways an adversarial review lost or repeated a tick,
 * each with real Nest apps and the real ScheduleModule claiming in the test apiserver's Lease,
 * and the fault injected where it hurts (a failed or slow write, a lost answer, an edited
 * annotation, a clock offset).
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
const LEASE = 'once-lease';
const CRON_KEY = 'RecordedCronJob.tick';

const recorder = new RunRecorder();
const cluster = new LeaseCandidates(LEASE);

beforeEach(async () => {
  recorder.clear();
  await cluster.setUp();
});
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.log(cluster.logger.entries.map((e) => `${e.level} ${e.message}`).join('\n'), recorder.runs.map((r) => `${r.identity} ${r.context.scheduledAt?.toISOString()} ${r.context.catchUp}`).join('\n'));
  vi.restoreAllMocks();
  await cluster.tearDown();
});

const storedLease = () => cluster.server.getLease('default', LEASE);
const storedLedger = () => decodeLedger(storedLease()?.metadata.annotations?.[LEDGER_ANNOTATION]);

/** The ledger a write request carries, if it carries one. */
function ledgerOf(request: FailedRequest) {
  if (request.verb !== 'update' || request.body === '') return undefined;
  const body = JSON.parse(request.body) as { metadata?: { annotations?: Record<string, string> } };
  return decodeLedger(body.metadata?.annotations?.[LEDGER_ANNOTATION]).ledger;
}

interface Spec {
  options?: LeaderOnlyOptions;
  lease?: Partial<LeaseOptions>;
  work?: (run: RecordedRun) => Promise<void> | void;
  cron?: string;
  cronName?: string;
  drainTimeoutMs?: number;
}

async function cronCandidate(identity: string, { options = {}, lease = {}, work, cron, cronName, drainTimeoutMs = 200 }: Spec = {}) {
  const Job = cronJob({ recorder, identity, options, work }, cron, cronName);
  const started = await cluster.startTracked({ identity, lease: { ...FAST, ...lease }, module: { drainTimeoutMs }, providers: [Job] });
  return { ...started, Job };
}

/** The fire times from the first to the last one run, each second: what "none lost" means for a per-second job. */
function everySecond(times: number[]): number[] {
  const first = Math.min(...times);
  const last = Math.max(...times);
  return Array.from({ length: (last - first) / 1_000 + 1 }, (_, i) => first + i * 1_000);
}

describe('each tick once, under attack', () => {
  it('1. a catch-up cut short by a lost leadership leaves the rest to the next leader, none lost, none twice', async () => {
    const catchUpStarted = deferred();
    const a = await cronCandidate('pod-a', { options: { missedRuns: 'runEach' } });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    // pod-b's catch-up runs last until its leadership ends (a rolling update, say).
    const b = await cronCandidate('pod-b', {
      options: { missedRuns: 'runEach' },
      work: async (run) => {
        if (!run.context.catchUp) return;
        catchUpStarted.resolve();
        await untilAborted(run.context.signal);
      },
    });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    cluster.server.faults.partition('pod-a', true);
    await catchUpStarted.promise;
    await cluster.close(b); // graceful: its running catch-up stops, the Lease is released
    cluster.server.faults.partition('pod-a', false);
    await recorder.waitFor(() => recorder.runs.some((run) => run.identity === 'pod-a' && !run.context.catchUp && run.context.scheduledAt!.getTime() > Math.max(...recorder.runs.filter((r) => r.identity === 'pod-b').map((r) => r.context.scheduledAt!.getTime()))));
    const times = recorder.scheduledTimes();
    expect(recorder.duplicates()).toEqual([]);
    expect([...times].sort((x, y) => x - y)).toEqual(everySecond(times));
    void a;
  });

  it('2. a claim that one 5xx failed is written again while the pod leads: its tick runs, late, once', async () => {
    const a = await cronCandidate('pod-a');
    await recorder.waitFor(() => recorder.runs.length >= 1);
    const first = recorder.scheduledTimes()[0]!;
    let failed: number | undefined;
    cluster.server.faults.failNext(1, 503, {
      when: (request) => {
        const entry = ledgerOf(request)?.get(CRON_KEY);
        if (entry?.state !== 'claimed' || entry.fireTime <= first) return false;
        failed = entry.fireTime;
        return true;
      },
    });
    await recorder.waitFor(() => failed !== undefined && recorder.scheduledTimes().some((time) => time >= failed! + 2_000));
    expect(recorder.scheduledTimes()).toContain(failed);
    expect(recorder.duplicates()).toEqual([]);
    void a;
  });

  it('3. a slow API (writes slower than the period) never runs a fire time twice, and claims do not queue up', async () => {
    const slow = { leaseDurationMs: 9_000, renewDeadlineMs: 7_000, retryPeriodMs: 1_000, requestTimeoutMs: 3_000 };
    const a = await cronCandidate('pod-a', { options: { overlap: 'allow', missedRuns: 'runEach' }, lease: slow });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    cluster.server.faults.latencyMs = 1_600;
    await recorder.waitFor(() => recorder.runs.length >= 5, 20_000);
    cluster.server.faults.latencyMs = 0;
    // What was queued behind the slow writes shows once they are fast again: a backlog is a burst.
    cluster.server.resetCounts();
    await quietWindow(800);
    expect(cluster.server.counts('pod-a').update).toBeLessThanOrEqual(2);
    expect(recorder.duplicates()).toEqual([]);
    void a;
  });

  it("4. a run that ends after its own process began a new term is recorded as done, not rerun (interruptedRun 'rerun')", async () => {
    const release = deferred();
    let blocked: number | undefined;
    const a = await cronCandidate('pod-a', {
      options: { interruptedRun: 'rerun' },
      work: async (run) => {
        if (blocked !== undefined) return;
        blocked = run.context.scheduledAt!.getTime();
        await release.promise; // ignores its signal: it outlives the term
      },
    });
    await recorder.waitFor(() => blocked !== undefined);
    // An API outage longer than the renew deadline: pod-a steps down, then takes its own Lease back.
    cluster.server.faults.outage = true;
    await cluster.logger.waitFor('log', 'stopped leading (term 0)');
    cluster.server.faults.outage = false;
    await cluster.logger.waitFor('log', 'is now the leader (term 1)');
    release.resolve();
    const after = recorder.runs.length;
    await recorder.waitFor(() => recorder.runs.length >= after + 3);
    expect(recorder.scheduledTimes().filter((time) => time === blocked)).toHaveLength(1);
    expect(recorder.duplicates()).toEqual([]);
    void a;
  });

  it('5. a stripped ledger annotation is written back whole by the leader, and no new leader reruns a claimed tick', async () => {
    const hourly = '0 0 * * * *';
    const Hourly = cronJob({ recorder, identity: 'pod-a' }, hourly, 'hourly-report', 'hourly');
    const Frequent = cronJob({ recorder, identity: 'pod-a' });
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, module: { drainTimeoutMs: 200 }, providers: [Hourly, Frequent] });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    // The hourly job's tick, as if the clock had just passed the hour.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    vi.spyOn(Date, 'now').mockReturnValue(hour + 200);
    await a.app.get(Hourly).tick();
    vi.restoreAllMocks();
    expect(recorder.of('hourly')).toHaveLength(1);
    await expect.poll(() => storedLedger().ledger.get('hourly-report')?.state).toBe('succeeded');
    // `kubectl annotate lease once-lease nestjs-cluster-leader/ledger-`
    const stripped = storedLease()!;
    delete stripped.metadata.annotations![LEDGER_ANNOTATION];
    cluster.server.putLease('default', stripped);
    const runs = recorder.of('tick').length;
    await recorder.waitFor(() => recorder.of('tick').length >= runs + 2);
    await expect.poll(() => storedLedger().ledger.get('hourly-report')?.fireTime).toBe(hour);
    // A new leader whose clock is a little behind sees the hourly tick as claimed.
    const HourlyOfB = cronJob({ recorder, identity: 'pod-b' }, hourly, 'hourly-report', 'hourly');
    const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, module: { drainTimeoutMs: 200 }, providers: [HourlyOfB] });
    const strippedAgain = storedLease()!;
    delete strippedAgain.metadata.annotations![LEDGER_ANNOTATION];
    cluster.server.putLease('default', strippedAgain);
    await cluster.close(a);
    await cluster.timeline.until(() => b.leader.isLeader());
    vi.spyOn(Date, 'now').mockReturnValue(hour + 100);
    await b.app.get(HourlyOfB).tick();
    vi.restoreAllMocks();
    expect(recorder.of('hourly')).toHaveLength(1);
  });

  describe('6. an acquisition whose answer was lost', () => {
    const slowLease = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, requestTimeoutMs: 1_000 };

    it('is recognised as its own: the pod takes the Lease back at once instead of waiting out its own lease', async () => {
      cluster.server.faults.loseAnswers(1, 'pod-a');
      const a = await cronCandidate('pod-a', { lease: slowLease });
      // Without the fix it waits for the 15 s lease it wrote itself to expire.
      await cluster.timeline.until(() => a.leader.isLeader(), AbortSignal.timeout(9_000));
      expect(storedLease()!.spec.holderIdentity).toBe('pod-a');
    });

    it('is released on shutdown', async () => {
      cluster.server.faults.loseAnswers(1, 'pod-a');
      const a = await cronCandidate('pod-a', { lease: slowLease });
      await expect.poll(() => storedLease()?.spec.holderIdentity).toBe('pod-a');
      await cluster.close(a);
      expect(storedLease()!.spec.holderIdentity).toBe('');
    });
  });

  it('a claim applied while its answer was lost, given up at a graceful shutdown, counts as missed: the next leader runs it once', async () => {
    const a = await cronCandidate('pod-a', { options: { missedRuns: 'runEach' } });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    const b = await cronCandidate('pod-b', { options: { missedRuns: 'runEach' } });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const last = Math.max(...recorder.scheduledTimes());
    let lost: number | undefined;
    cluster.server.faults.loseAnswers(1, 'pod-a', {
      when: (request) => {
        const entry = ledgerOf(request)?.get(CRON_KEY);
        if (entry?.state !== 'claimed' || entry.fireTime <= last) return false;
        lost = entry.fireTime;
        return true;
      },
    });
    await expect.poll(() => lost, { timeout: 5_000 }).toBeDefined();
    await cluster.close(a); // gives the claim up before any answer came; releases after its drain
    await recorder.waitFor(() => recorder.runs.some((run) => run.identity === 'pod-b' && run.context.scheduledAt!.getTime() > lost!));
    expect(recorder.scheduledTimes().filter((time) => time === lost)).toHaveLength(1);
    expect(recorder.duplicates()).toEqual([]);
  });

  it('7. with releaseOnShutdown: false, the last finished run is still recorded as finished', async () => {
    const a = await cronCandidate('pod-a', { lease: { releaseOnShutdown: false } });
    await recorder.waitFor(() => recorder.runs.length >= 2);
    await once(recorder, 'run');
    await new Promise((resolve) => setImmediate(resolve)); // the run has returned: its end is recorded
    const last = Math.max(...recorder.scheduledTimes());
    await cluster.close(a);
    expect(storedLease()!.spec.holderIdentity).toBe('pod-a'); // not released, as asked
    expect(storedLedger().ledger.get(CRON_KEY)).toMatchObject({ fireTime: last, state: 'succeeded' });
  });

  it('8. health stays up while the API is unreachable or slow, with several per-second claiming jobs', async () => {
    const jobs = Array.from({ length: 5 }, (_, i) => cronJob({ recorder, identity: 'pod-a' }, '* * * * * *', `job-${i}`, `job-${i}`));
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, module: { drainTimeoutMs: 200 }, providers: jobs });
    await recorder.waitFor(() => recorder.runs.length >= 5);
    const problems = new Set<string>();
    const watchHealth = async (ms: number) => {
      const sampler = setInterval(() => {
        const health = a.leader.health();
        if (!health.healthy) problems.add(health.problem!);
      }, 50);
      await quietWindow(ms);
      clearInterval(sampler);
    };
    cluster.server.faults.partition('pod-a', true);
    await watchHealth(3_500);
    cluster.server.faults.partition('pod-a', false);
    cluster.server.faults.latencyMs = 700;
    await watchHealth(3_500);
    cluster.server.faults.latencyMs = 0;
    expect([...problems]).toEqual([]);
  });

  it('9. after a 429 with Retry-After, claims wait as long as the server asks, like the rounds', async () => {
    const a = await cronCandidate('pod-a', { lease: { leaseDurationMs: 9_000, renewDeadlineMs: 7_000, retryPeriodMs: 500 } });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    const first = recorder.scheduledTimes()[0]!;
    cluster.server.faults.failNext(1, 429, {
      retryAfterSeconds: 3,
      when: (request) => {
        const entry = ledgerOf(request)?.get(CRON_KEY);
        return entry?.state === 'claimed' && entry.fireTime > first;
      },
    });
    await new Promise<void>((resolve) => {
      const listener = (info: { status: number }) => {
        if (info.status !== 429) return;
        cluster.server.off('request', listener);
        resolve();
      };
      cluster.server.on('request', listener);
    });
    cluster.server.resetCounts();
    await quietWindow(2_700);
    expect(cluster.server.counts('pod-a').update).toBe(0);
    void a;
  });

  describe("10. @Interval's cadence does not depend on two pods' clocks", () => {
    const INTERVAL_KEY = 'RecordedIntervalJob.every';

    /** The Lease as a pod whose clock is `offsetMs` off left it: released, after claiming the interval job. */
    function releasedByOffsetPod(offsetMs: number) {
      const theirNow = Date.now() + offsetMs;
      cluster.server.putLease('default', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: LEASE, namespace: 'default', annotations: { [LEDGER_ANNOTATION]: JSON.stringify({ v: 1, j: { [INTERVAL_KEY]: [theirNow, 's', 3] } }) } },
        spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: formatMicro(theirNow - 5_000), renewTime: formatMicro(theirNow), leaseTransitions: 3 },
      });
    }

    it('after a pod whose clock was 60 s ahead, the new leader runs within an interval or two, not after 60 s', async () => {
      releasedByOffsetPod(60_000);
      const Every = intervalJob({ recorder, identity: 'pod-b' }, 1_000);
      const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, providers: [Every] });
      await cluster.timeline.until(() => b.leader.isLeader());
      await recorder.waitFor(() => recorder.runs.length >= 1, 5_000);
    });

    it('after a pod whose clock was 60 s behind, the new leader does not run before an interval has passed', async () => {
      releasedByOffsetPod(-60_000);
      const Every = intervalJob({ recorder, identity: 'pod-b' }, 30_000);
      const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, providers: [Every] });
      await cluster.timeline.until(() => b.leader.isLeader());
      await b.app.get(Every).every(); // a tick now: the last run was an instant ago, by the Lease
      expect(recorder.runs).toHaveLength(0);
    });
  });

  describe('11. ledger fields this version does not know', () => {
    function seedLedger(value: object) {
      cluster.server.putLease('default', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: LEASE, namespace: 'default', annotations: { [LEDGER_ANNOTATION]: JSON.stringify(value) } },
        spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: formatMicro(Date.now() - 5_000), renewTime: formatMicro(Date.now() - 1_000), leaseTransitions: 2 },
      });
    }
    const rawLedger = () => JSON.parse(storedLease()!.metadata.annotations![LEDGER_ANNOTATION]!) as Record<string, unknown> & { j: Record<string, unknown[]> };

    it('are kept by a claim: unknown top-level fields and unknown entry elements', async () => {
      seedLedger({ v: 1, j: { 'Other.job': [123_000, 's', 2, { history: [1] }] }, h: { kept: true } });
      const a = await cronCandidate('pod-a');
      await recorder.waitFor(() => recorder.runs.length >= 2);
      await expect.poll(() => rawLedger().j[CRON_KEY]?.[1]).toBe('s');
      expect(rawLedger().h).toEqual({ kept: true });
      expect(rawLedger().j['Other.job']).toEqual([123_000, 's', 2, { history: [1] }]);
      void a;
    });

    it('a newer format that says this version may write it (c <= 1) is claimed in, and keeps its version marks', async () => {
      seedLedger({ v: 2, c: 1, j: {} });
      const a = await cronCandidate('pod-a');
      await recorder.waitFor(() => recorder.runs.length >= 2);
      await expect.poll(() => rawLedger().j[CRON_KEY]?.[1]).toBe('s');
      expect(rawLedger()).toMatchObject({ v: 2, c: 1 });
      void a;
    });

    it('a newer format this version may not write stops claims, says so once as an error with the way back, and is left as it is', async () => {
      seedLedger({ v: 2, j: { 'Other.job': [123_000, 's', 2] } });
      const a = await cronCandidate('pod-a');
      await cluster.timeline.until(() => a.leader.isLeader());
      const error = await cluster.logger.waitFor('error', 'format v2');
      expect(error).toContain(`kubectl annotate lease ${LEASE} ${LEDGER_ANNOTATION}-`);
      await quietWindow(1_500);
      expect(recorder.runs).toHaveLength(0);
      expect(rawLedger()).toEqual({ v: 2, j: { 'Other.job': [123_000, 's', 2] } });
      expect(cluster.logger.messages('error', 'format v2')).toHaveLength(1);
    });
  });

  it('a job switched from claim: false back to claiming does not catch up the ticks it ran unclaimed', async () => {
    const before = Math.floor(Date.now() / 1_000) * 1_000 - 5_000;
    cluster.server.putLease('default', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LEASE, namespace: 'default', annotations: { [LEDGER_ANNOTATION]: JSON.stringify({ v: 1, j: { [CRON_KEY]: [before, 's', 1] } }) } },
      spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: formatMicro(Date.now() - 9_000), renewTime: formatMicro(Date.now() - 1_000), leaseTransitions: 1 },
    });
    const a = await cronCandidate('pod-a', { options: { claim: false } });
    await recorder.waitFor(() => recorder.runs.length >= 3);
    await cluster.close(a);
    const b = await cronCandidate('pod-b', { options: { missedRuns: 'runEach' } });
    await recorder.waitFor(() => recorder.runs.some((run) => run.identity === 'pod-b' && !run.context.catchUp));
    expect(recorder.duplicates()).toEqual([]);
    void b;
  });

  it('a cron stopped at run time through SchedulerRegistry is not caught up by a new leader', async () => {
    const a = await cronCandidate('pod-a', { options: { missedRuns: 'runEach' }, cronName: 'report' });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    const b = await cronCandidate('pod-b', { options: { missedRuns: 'runEach' }, cronName: 'report' });
    b.app.get(SchedulerRegistry).getCronJob('report').stop();
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    cluster.server.faults.partition('pod-a', true);
    await cluster.timeline.until(() => b.leader.isLeader());
    await quietWindow(1_500);
    expect(recorder.runs.filter((run) => run.identity === 'pod-b')).toEqual([]);
    cluster.server.faults.partition('pod-a', false);
    void a;
  });
});

function formatMicro(ms: number): string {
  return formatMicroTime(new Date(ms));
}
