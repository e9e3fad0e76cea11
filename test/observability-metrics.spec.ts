import { Injectable, type INestApplication } from '@nestjs/common';
import { register as globalRegister, Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderElectionConfigError, LeaderOnly, type LeaseOptions } from '../lib/index.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { closeAll, compileApp, startApp } from './support/nest-app.js';

/**
 * prom-client metrics from real Nest apps: the standalone backend, and Lease candidates against
 * the test apiserver, read back from the real registry in Prometheus' text format and as values.
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

@Injectable()
class MeteredJobs {
  fail = false;

  @LeaderOnly()
  report(): string {
    if (this.fail) throw new Error('report store unavailable');
    return 'done';
  }
}

@Injectable()
class NightlyJobs {
  @LeaderOnly({ election: 'reports' })
  async nightly(): Promise<void> {}
}

/** The value of one series, or undefined when the registry has no such series. */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`no metric ${name} in the registry`);
  const { values } = await metric.get();
  const found = values.find((entry) => Object.entries(labels).every(([key, wanted]) => String(entry.labels[key]) === wanted) && Object.keys(entry.labels).length >= Object.keys(labels).length);
  return found?.value;
}

describe('metrics: the standalone backend', () => {
  const apps: INestApplication[] = [];
  afterEach(async () => {
    await closeAll(apps.splice(0));
    globalRegister.clear();
  });

  it("exports client-go's leader-election metrics under their Kubernetes names, per election", async () => {
    const registry = new Registry();
    const { app } = await startApp({
      leaderElection: { backend: 'standalone', identity: 'pod-a', metrics: { registry }, elections: { reports: { backend: 'standalone' } } },
      providers: [MeteredJobs, NightlyJobs],
    });
    apps.push(app);

    const text = await registry.metrics();
    expect(text).toContain('# TYPE leader_election_master_status gauge');
    expect(text).toContain("# HELP leader_election_master_status Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.");
    expect(text).toContain('leader_election_master_status{name="default"} 1');
    expect(text).toContain('leader_election_master_status{name="reports"} 1');
    expect(text).toContain('# TYPE leader_election_slowpath_total counter');
    expect(text).toContain('leader_election_slowpath_total{name="default"} 0');
    expect(await value(registry, 'nestjs_cluster_leader_leadership_transitions_total', { election: 'default' })).toBe(1);
    // Nothing was registered in prom-client's global registry: the app chose its own.
    expect(globalRegister.getSingleMetric('leader_election_master_status')).toBeUndefined();
  });

  it('counts runs and failures of each job, times them, and records the last success', async () => {
    const registry = new Registry();
    const { app } = await startApp({
      leaderElection: { backend: 'standalone', identity: 'pod-a', metrics: { registry }, elections: { reports: { backend: 'standalone' } } },
      providers: [MeteredJobs, NightlyJobs],
    });
    apps.push(app);
    const jobs = app.get(MeteredJobs);
    const before = Date.now() / 1000;

    expect(jobs.report()).toBe('done');
    await app.get(NightlyJobs).nightly();
    jobs.fail = true;
    expect(jobs.report()).toBeUndefined();

    const report = { election: 'default', job: 'MeteredJobs.report' };
    expect(await value(registry, 'nestjs_cluster_leader_job_runs_total', report)).toBe(2);
    expect(await value(registry, 'nestjs_cluster_leader_job_failures_total', report)).toBe(1);
    expect(await value(registry, 'nestjs_cluster_leader_job_runs_total', { election: 'reports', job: 'NightlyJobs.nightly' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('nestjs_cluster_leader_job_run_duration_seconds_count{election="default",job="MeteredJobs.report",outcome="succeeded"} 1');
    expect(text).toContain('nestjs_cluster_leader_job_run_duration_seconds_count{election="default",job="MeteredJobs.report",outcome="failed"} 1');
    const lastSuccess = await value(registry, 'nestjs_cluster_leader_job_last_success_timestamp_seconds', report);
    expect(lastSuccess).toBeGreaterThanOrEqual(before - 1);
    expect(lastSuccess).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it("uses prom-client's global registry by default, and a second app in the same process reuses the metrics", async () => {
    const first = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', metrics: {} }, providers: [MeteredJobs] });
    apps.push(first.app);
    const second = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-b', metrics: {} }, providers: [MeteredJobs] });
    apps.push(second.app);

    first.app.get(MeteredJobs).report();
    second.app.get(MeteredJobs).report();
    expect(await value(globalRegister, 'nestjs_cluster_leader_job_runs_total', { election: 'default', job: 'MeteredJobs.report' })).toBe(2);
    expect(await globalRegister.metrics()).toContain('leader_election_master_status{name="default"} 1');
  });

  it('registers nothing without the metrics option', async () => {
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a' }, providers: [MeteredJobs] });
    apps.push(app);
    app.get(MeteredJobs).report();
    expect((await globalRegister.metrics()).trim()).toBe('');
  });

  it('counts nothing with metrics.enabled: false', async () => {
    const registry = new Registry();
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', metrics: { enabled: false, registry } }, providers: [MeteredJobs] });
    apps.push(app);
    expect((await registry.metrics()).trim()).toBe('');
  });

  it.each([
    [{ registry: {} }, 'metrics.registry', 'Pass a Registry from prom-client'],
    [{ enable: true }, 'metrics.enable', 'did you mean `metrics.enabled`'],
    [{ enabled: 'yes' }, 'metrics.enabled', 'Use true or false'],
    [true, 'metrics', 'Pass an object such as metrics: { registry }'],
  ])('refuses metrics %j at startup, naming the option', async (metrics, option, fix) => {
    const attempt = compileApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', metrics: metrics as never } });
    const error = await attempt.then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(LeaderElectionConfigError);
    expect((error as Error).message).toContain(`option \`${option}\``);
    expect((error as Error).message).toContain(fix);
  });

  it('refuses a registry holding one of these names as another type, naming it', async () => {
    const registry = new Registry();
    const { Counter } = await import('prom-client');
    new Counter({ name: 'leader_election_master_status', help: 'someone else', registers: [registry] });
    const { app } = await compileApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', metrics: { registry } } });
    const error = await app.init().then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(LeaderElectionConfigError);
    expect((error as Error).message).toContain('already has a metric named leader_election_master_status of another type');
    await app.close();
  });
});

describe('metrics: the Lease backend', () => {
  const cluster = new LeaseCandidates('metrics-lease');
  beforeEach(() => cluster.setUp());
  afterEach(() => cluster.tearDown());

  it('reports leader and follower, rounds by outcome, the slow path, API errors by code, skipped ticks and transitions', async () => {
    const leaderRegistry = new Registry();
    const followerRegistry = new Registry();
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, module: { metrics: { registry: leaderRegistry } }, providers: [MeteredJobs] });
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, module: { metrics: { registry: followerRegistry } }, providers: [MeteredJobs] });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');

    expect(await value(leaderRegistry, 'leader_election_master_status', { name: 'default' })).toBe(1);
    expect(await value(followerRegistry, 'leader_election_master_status', { name: 'default' })).toBe(0);
    await expect.poll(() => leaderRegistry.metrics()).toMatch(/nestjs_cluster_leader_lease_round_duration_seconds_count\{election="default",outcome="renewed"\} [1-9]/);
    expect(await leaderRegistry.metrics()).toContain('nestjs_cluster_leader_lease_round_duration_seconds_count{election="default",outcome="acquired"} 1');
    expect(await followerRegistry.metrics()).toMatch(/nestjs_cluster_leader_lease_round_duration_seconds_count\{election="default",outcome="held-by-other"\} [1-9]/);

    // The follower skips its ticks, each counted with its reason.
    b.app.get(MeteredJobs).report();
    b.app.get(MeteredJobs).report();
    expect(await value(followerRegistry, 'nestjs_cluster_leader_job_skipped_ticks_total', { election: 'default', job: 'MeteredJobs.report', reason: 'not-leader' })).toBe(2);

    // Someone else changes the Lease's metadata while the leader's watch cannot tell it (a short
    // partition): its next renew from its cache meets a 409, so it reads the Lease and renews
    // again, client-go's slow path.
    cluster.server.faults.partition('pod-a', true);
    const updatesSent = cluster.server.counts('pod-a').update;
    const lease = cluster.server.getLease('default', 'metrics-lease')!;
    cluster.server.putLease('default', { ...lease, metadata: { ...lease.metadata, labels: { touched: 'yes' } } });
    await expect.poll(() => cluster.server.counts('pod-a').update).toBeGreaterThan(updatesSent);
    cluster.server.faults.partition('pod-a', false);
    await expect.poll(() => value(leaderRegistry, 'leader_election_slowpath_total', { name: 'default' })).toBe(1);
    expect(await value(leaderRegistry, 'nestjs_cluster_leader_api_errors_total', { election: 'default', verb: 'update', code: '409' })).toBe(1);

    cluster.server.faults.failNext(1, 500);
    await expect.poll(() => value(leaderRegistry, 'nestjs_cluster_leader_api_errors_total', { election: 'default', verb: 'update', code: '500' })).toBe(1);

    // A graceful handover: the follower leads, and both count the change.
    await cluster.close(a);
    await cluster.timeline.until(() => b.leader.isLeader());
    expect(await value(followerRegistry, 'leader_election_master_status', { name: 'default' })).toBe(1);
    expect(await value(followerRegistry, 'nestjs_cluster_leader_leadership_transitions_total', { election: 'default' })).toBe(1);
    expect(await value(leaderRegistry, 'leader_election_master_status', { name: 'default' })).toBe(0);
    expect(await value(leaderRegistry, 'nestjs_cluster_leader_leadership_transitions_total', { election: 'default' })).toBe(2);
    cluster.timeline.assertNoOverlap();
  });

  it('counts the skips of two apps that share one registry (the counter is reused, and read as the sum)', async () => {
    const shared = new Registry();
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, providers: [MeteredJobs] });
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, module: { metrics: { registry: shared } }, providers: [MeteredJobs] });
    const c = await cluster.startTracked({ identity: 'pod-c', lease: FAST, module: { metrics: { registry: shared } }, providers: [MeteredJobs] });
    const labels = { election: 'default', job: 'MeteredJobs.report', reason: 'not-leader' };

    b.app.get(MeteredJobs).report();
    c.app.get(MeteredJobs).report();
    c.app.get(MeteredJobs).report();
    expect(await value(shared, 'nestjs_cluster_leader_job_skipped_ticks_total', labels)).toBe(3);
    // Read again: nothing is counted twice.
    expect(await value(shared, 'nestjs_cluster_leader_job_skipped_ticks_total', labels)).toBe(3);
    b.app.get(MeteredJobs).report();
    await cluster.close(c);
    expect(await shared.metrics()).toContain('nestjs_cluster_leader_job_skipped_ticks_total{election="default",job="MeteredJobs.report",reason="not-leader"} 4');
  });
});
