import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlRequestTimeoutError, JobControlError, UnknownJobError, type LeaseOptions } from '../lib/index.js';
import { PAUSED_PREFIX } from '../lib/control/control-record.js';
import { LeaseCandidates, quietWindow } from './support/lease-candidates.js';
import { startApp } from './support/nest-app.js';
import { cronJob, RunRecorder, untilAborted } from './support/recorded-jobs.js';

/**
 * Seeing and steering jobs from any pod (issue 14), with real Nest apps on the test apiserver:
 * pauses and requests are written to the Lease by whichever pod is asked, carried out once by the
 * leader, and every pod describes the same state.
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
const LEASE = 'control-lease';
const JOB = 'report';

const recorder = new RunRecorder();
const cluster = new LeaseCandidates(LEASE);

beforeEach(async () => {
  recorder.clear();
  await cluster.setUp();
});
afterEach(async () => {
  await cluster.tearDown();
});

async function pod(identity: string, { cron = '* * * * * *', work, options }: { cron?: string; work?: Parameters<typeof cronJob>[0]['work']; options?: Parameters<typeof cronJob>[0]['options'] } = {}) {
  const Job = cronJob({ recorder, identity, work, options }, cron, JOB);
  return cluster.startTracked({ identity, lease: FAST, module: { drainTimeoutMs: 200 }, providers: [Job] });
}

const runsOf = (identity: string) => recorder.runs.filter((run) => run.identity === identity);

describe('pause and resume', () => {
  it('a pause from a follower stops the job on the leader, holds across a crash failover, and every pod describes it; resume runs it again', async () => {
    const a = await pod('pod-a');
    await recorder.waitFor(() => recorder.runs.length >= 1);
    const b = await pod('pod-b');
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');

    const described = await b.leader.pause(JOB, { note: 'database migration' });
    expect(described.paused).toMatchObject({ by: 'pod-b', note: 'database migration' });
    // The leader sees it within one watch event, and so do its jobs() answers.
    await expect.poll(() => a.leader.jobs().find((job) => job.key === JOB)?.paused?.note).toBe('database migration');
    const runsBefore = recorder.runs.length;
    const skipped = a.leader.jobCounters()['RecordedCronJob.tick']!.skipped;
    await expect.poll(() => a.leader.jobCounters()['RecordedCronJob.tick']!.skipped, { timeout: 4_000 }).toBeGreaterThan(skipped + 1);
    expect(recorder.runs.length).toBeLessThanOrEqual(runsBefore + 1); // at most the tick already under way

    // A crash failover: the pause is in the Lease, so the new leader keeps it.
    cluster.server.faults.partition('pod-a', true);
    await cluster.timeline.until(() => b.leader.isLeader());
    const afterFailover = recorder.runs.length;
    await quietWindow(1_500);
    expect(recorder.runs.length).toBe(afterFailover);
    expect(b.leader.jobs().find((job) => job.key === JOB)?.paused?.by).toBe('pod-b');

    await b.leader.resume(JOB);
    await recorder.waitFor(() => runsOf('pod-b').length >= 1);
    expect(b.leader.jobs().find((job) => job.key === JOB)?.paused).toBeNull();
    cluster.server.faults.partition('pod-a', false);
  });

  it('kubectl annotate pauses and resumes it: a plain note as the value', async () => {
    const a = await pod('pod-a');
    await recorder.waitFor(() => recorder.runs.length >= 1);
    const annotation = a.leader.jobs().find((job) => job.key === JOB)!.pauseAnnotation!;
    expect(annotation).toBe(`${PAUSED_PREFIX}${JOB}`);
    // kubectl annotate lease control-lease nestjs-cluster-leader/paused.report='by hand'
    const lease = cluster.server.getLease('default', LEASE)!;
    cluster.server.putLease('default', { ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata.annotations, [annotation]: 'by hand' } } });
    await expect.poll(() => a.leader.jobs()[0]!.paused).toEqual({ by: null, at: null, note: 'by hand' });
    // The leader says it, once, whoever paused it.
    await cluster.logger.waitFor('log', `job "${JOB}" paused: by hand`);
    const runs = recorder.runs.length;
    await quietWindow(1_500);
    expect(recorder.runs.length).toBeLessThanOrEqual(runs + 1);
    // kubectl annotate lease control-lease nestjs-cluster-leader/paused.report-
    const paused = cluster.server.getLease('default', LEASE)!;
    const { [annotation]: _removed, ...annotations } = paused.metadata.annotations!;
    cluster.server.putLease('default', { ...paused, metadata: { ...paused.metadata, annotations } });
    await recorder.waitFor(() => recorder.runs.length >= runs + 2);
    await cluster.logger.waitFor('log', `job "${JOB}" resumed`);
    expect(cluster.logger.messages('log', `job "${JOB}" paused`)).toHaveLength(1);
  });
});

describe('pause and resume, the gap', () => {
  it("resume lets missedRuns catch up the ticks the pause skipped; resume({ skipMissed }) does not", async () => {
    const a = await pod('pod-a', { options: { missedRuns: 'runEach' } });
    await recorder.waitFor(() => recorder.runs.length >= 1);
    await a.leader.pause(JOB);
    const pausedAt = Math.max(...recorder.scheduledTimes());
    await quietWindow(2_200);
    await a.leader.resume(JOB, { skipMissed: true });
    await recorder.waitFor(() => recorder.runs.some((run) => run.context.scheduledAt!.getTime() > pausedAt + 2_000));
    expect(recorder.runs.filter((run) => run.context.catchUp)).toEqual([]);

    await a.leader.pause(JOB);
    const pausedAgainAt = Math.max(...recorder.scheduledTimes());
    await quietWindow(2_200);
    await a.leader.resume(JOB);
    await recorder.waitFor(() => recorder.runs.some((run) => run.context.catchUp));
    const caughtUp = recorder.runs.filter((run) => run.context.catchUp).map((run) => run.context.scheduledAt!.getTime());
    expect(caughtUp[0]).toBe(pausedAgainAt + 1_000);
    expect(recorder.duplicates()).toEqual([]);
  });

  it('a pause outlives the deletion of the Lease: its re-creator writes the control state it last saw', async () => {
    const a = await pod('pod-a');
    await recorder.waitFor(() => recorder.runs.length >= 1);
    await a.leader.pause(JOB, { note: 'kept' });
    cluster.server.deleteLease('default', LEASE);
    await expect.poll(() => cluster.server.getLease('default', LEASE)?.metadata.annotations?.[`${PAUSED_PREFIX}${JOB}`], { timeout: 5_000 }).toContain('kept');
    expect(a.leader.jobs()[0]!.paused?.note).toBe('kept');
  });
});

describe('run now', () => {
  it('from a follower runs the job once on the leader and answers how it went', async () => {
    const a = await pod('pod-a', { cron: '0 0 0 1 1 *' }); // never fires during the test
    const b = await pod('pod-b', { cron: '0 0 0 1 1 *' });
    await cluster.timeline.until(() => a.leader.isLeader() && b.leader.leader() === 'pod-a');
    const outcome = await b.leader.runNow(JOB, { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({ job: JOB, kind: 'run', outcome: 'succeeded', pod: 'pod-a', term: 0 });
    expect(recorder.runs).toHaveLength(1);
    expect(recorder.runs[0]).toMatchObject({ identity: 'pod-a', context: { kind: 'manual' } });
    // Every pod's jobs() shows the run, from the Lease.
    await expect.poll(() => b.leader.jobs()[0]!.lastRuns[0]).toMatchObject({ pod: 'pod-a', kind: 'manual', outcome: 'succeeded' });
  });

  it('two requests run twice; one request never twice, also when the leader changes while it waits', async () => {
    const a = await pod('pod-a', { cron: '0 0 0 1 1 *' });
    const b = await pod('pod-b', { cron: '0 0 0 1 1 *' });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const [first, second] = await Promise.all([b.leader.runNow(JOB), a.leader.runNow(JOB)]);
    expect(first.id).not.toBe(second.id);
    expect(recorder.runs).toHaveLength(2);
    // The leader is cut off; a request written now waits for the next leader, which runs it once.
    cluster.server.faults.partition('pod-a', true);
    const waited = await b.leader.runNow(JOB, { timeoutMs: 15_000 });
    expect(waited).toMatchObject({ outcome: 'succeeded', pod: 'pod-b', term: 1 });
    expect(recorder.runs).toHaveLength(3);
    cluster.server.faults.partition('pod-a', false);
    await quietWindow(1_000);
    expect(recorder.runs).toHaveLength(3);
  });

  it('times out while its request is still being written without an unhandled rejection, saying it may still run', async () => {
    const a = await pod('pod-a', { cron: '0 0 0 1 1 *' });
    await cluster.timeline.until(() => a.leader.isLeader());
    cluster.server.faults.latencyMs = 300;
    await expect(a.leader.runNow(JOB, { timeoutMs: 20 })).rejects.toThrow(ControlRequestTimeoutError);
    await expect(a.leader.runNow(JOB, { timeoutMs: 20 })).rejects.toThrow(/it may still run/);
    cluster.server.faults.latencyMs = 0;
  });

  it('a run cut short by its leader stopping is reported interrupted, and not run again', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const a = await pod('pod-a', { cron: '0 0 0 1 1 *', work: (run) => { started(); return untilAborted(run.context.signal).then(() => new Promise(() => {})); } });
    const b = await pod('pod-b', { cron: '0 0 0 1 1 *' });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const outcome = b.leader.runNow(JOB, { timeoutMs: 15_000 });
    await running;
    cluster.server.faults.partition('pod-a', true); // the run never ends on pod-a
    await expect(outcome).resolves.toMatchObject({ outcome: 'interrupted', pod: 'pod-a' });
    expect(recorder.runs).toHaveLength(1);
    cluster.server.faults.partition('pod-a', false);
    void a;
  });
});

describe('backfill', () => {
  it('runs each fire time of the range once, oldest first, on the leader', async () => {
    const a = await pod('pod-a', { cron: '0 0 * * * *' }); // hourly
    const b = await pod('pod-b', { cron: '0 0 * * * *' });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const outcome = await b.leader.backfill(JOB, { from: '2026-03-01T00:00:00Z', to: '2026-03-01T04:30:00Z' });
    expect(outcome).toMatchObject({ kind: 'backfill', outcome: 'succeeded', pod: 'pod-a', total: 5, done: 5 });
    expect(recorder.scheduledTimes()).toEqual([0, 1, 2, 3, 4].map((hour) => Date.UTC(2026, 2, 1, hour)));
    expect(recorder.runs.every((run) => run.context.kind === 'backfill')).toBe(true);
    void a;
  });

  it('goes on after a failover with the fire times the cut-off leader had not taken, none twice', async () => {
    let cut = false;
    const started = new Promise<void>((resolve) => {
      recorder.on('run', (run) => {
        if (run.identity === 'pod-a' && recorder.runs.length === 2 && !cut) resolve();
      });
    });
    const a = await pod('pod-a', { cron: '0 0 * * * *', work: (run) => (run.identity === 'pod-a' && recorder.runs.length >= 2 ? new Promise<void>(() => {}) : undefined) });
    const b = await pod('pod-b', { cron: '0 0 * * * *' });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const outcome = b.leader.backfill(JOB, { from: '2026-03-01T00:00:00Z', to: '2026-03-01T04:00:00Z', timeoutMs: 20_000 });
    await started; // pod-a runs 01:00 and never finishes it
    cut = true;
    cluster.server.faults.partition('pod-a', true);
    await expect(outcome).resolves.toMatchObject({ outcome: 'succeeded', pod: 'pod-b' });
    // 00:00 and 01:00 by pod-a; 01:00 was in progress (interruptedRun 'skip': not rerun); 02:00-04:00 by pod-b.
    expect(recorder.runs.map((run) => `${run.identity} ${new Date(run.context.scheduledAt!).toISOString().slice(11, 16)}`)).toEqual([
      'pod-a 00:00', 'pod-a 01:00', 'pod-b 02:00', 'pod-b 03:00', 'pod-b 04:00',
    ]);
    cluster.server.faults.partition('pod-a', false);
    void a;
  });

  it('refuses a range larger than maxMissedRuns, and one that ends before it starts, saying why', async () => {
    const a = await pod('pod-a', { cron: '0 0 * * * *' });
    await cluster.timeline.until(() => a.leader.isLeader());
    await expect(a.leader.backfill(JOB, { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' })).rejects.toThrow(/holds 25 fire times, more than 10 .*maxMissedRuns/);
    await expect(a.leader.backfill(JOB, { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' })).rejects.toThrow(JobControlError);
  });
});

describe('what operators see of it', () => {
  it('metrics count requested runs by kind and show a pause (read from the Lease at each scrape); health lists paused jobs', async () => {
    const registry = new Registry();
    const Job = cronJob({ recorder, identity: 'pod-a' }, '0 0 0 1 1 *', JOB);
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, module: { drainTimeoutMs: 200, metrics: { registry } }, providers: [Job] });
    await cluster.timeline.until(() => a.leader.isLeader());
    await a.leader.runNow(JOB);
    await a.leader.pause(JOB, { note: 'migration' });
    const text = await registry.metrics();
    expect(text).toContain('nestjs_cluster_leader_job_requested_runs_total{election="default",job="RecordedCronJob.tick",kind="manual"} 1');
    expect(text).toContain('nestjs_cluster_leader_job_paused{election="default",job="RecordedCronJob.tick"} 1');
    expect(a.leader.health().pausedJobs).toEqual([{ job: JOB, by: 'pod-a', note: 'migration' }]);
    expect(a.leader.health().healthy).toBe(true);
  });
});

describe('errors', () => {
  it('an unknown job name lists the known ones', async () => {
    const a = await pod('pod-a');
    await expect(a.leader.pause('reports')).rejects.toThrow(UnknownJobError);
    await expect(a.leader.runNow('reports')).rejects.toThrow(/No @LeaderOnly\(\) job is named "reports".*Known jobs: "report"/);
  });

  it("on a backend without a Lease, steering says what it cannot do and why; jobs() still describes", async () => {
    const Job = cronJob({ recorder, identity: 'solo' }, '0 0 * * * *', JOB);
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'solo' }, providers: [Job] });
    try {
      const { ClusterLeaderService } = await import('../lib/index.js');
      const service = app.get(ClusterLeaderService);
      expect(service.jobs()).toEqual([expect.objectContaining({ key: JOB, controllable: false, pauseAnnotation: null, paused: null })]);
      await expect(service.pause(JOB)).rejects.toThrow(/uses the 'standalone' backend, which keeps no shared state/);
    } finally {
      await app.close();
    }
  });
});
