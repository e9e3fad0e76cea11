import { Controller, Get, type INestApplication, Module, ServiceUnavailableException } from '@nestjs/common';
import { KubeConfig } from '@kubernetes/client-node';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClusterLeaderService, HEALTH_DEFAULTS, LeaderElectionConfigError, type LeaseOptions } from '../lib/index.js';
import { LeaderElectionHealthIndicator } from '../lib/terminus/index.js';
import type { ElectorStatus } from '../lib/electors/leader-elector.interface.js';
import { judgeElectionHealth } from '../lib/observability/election-health.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { compileApp } from './support/nest-app.js';

/**
 * The health indicator on the real @nestjs/terminus 12: served over HTTP by a real app, and
 * judged on Lease candidates against the test apiserver, including a leader whose renew loop
 * really hangs (an exec credential plugin that never answers: client-node waits for it before
 * the request, and so before the request's timeout, starts).
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly leaderElection: LeaderElectionHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.leaderElection.isHealthy()]);
  }
}

/** How an app serves it: TerminusModule, the indicator as a provider, a controller. */
@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [LeaderElectionHealthIndicator] })
class HealthModule {}

describe('judgeElectionHealth: the rules', () => {
  const state = { election: 'default', identity: 'pod-a', isLeader: false, leader: 'pod-a', term: 4 };
  const status = (overrides: Partial<ElectorStatus>): ElectorStatus => ({
    believesLeading: false,
    lastRenewAgoMs: null,
    loopLateMs: 0,
    lastApiError: null,
    leaseDurationMs: 15_000,
    retryPeriodMs: 2_000,
    ...overrides,
  });
  const rules = { toleranceMs: HEALTH_DEFAULTS.toleranceMs, stalledAfterRetryPeriods: HEALTH_DEFAULTS.stalledAfterRetryPeriods };

  it.each([
    ['a follower', status({}), true],
    ['a follower that never renewed anything, whatever the age', status({ lastRenewAgoMs: 10 * 60_000 }), true],
    ['a leader renewing on time', status({ believesLeading: true, lastRenewAgoMs: 1_900 }), true],
    ['a leader exactly at leaseDuration + tolerance', status({ believesLeading: true, lastRenewAgoMs: 35_000 }), true],
    ['a leader that has not renewed for longer than leaseDuration + tolerance', status({ believesLeading: true, lastRenewAgoMs: 35_001 }), false],
    ['a pod that stopped believing it leads, however long ago its renew', status({ believesLeading: false, lastRenewAgoMs: 60_000 }), true],
    ['a loop exactly 3 retry periods late', status({ loopLateMs: 6_000 }), true],
    ['a loop more than 3 retry periods late', status({ loopLateMs: 6_001 }), false],
    ['a follower whose API calls fail', status({ lastApiError: { verb: 'get', code: 503, reason: 'ServiceUnavailable', message: 'x', agoMs: 10 } }), true],
    ['a backend without an elector status (standalone, sidecar)', undefined, true],
  ])('%s: healthy %s', (_case, elector, healthy) => {
    expect(judgeElectionHealth(state, elector, rules).healthy).toBe(healthy);
  });

  it('answers whole milliseconds, not the monotonic clock\'s fractions', () => {
    const judged = judgeElectionHealth(state, status({
      believesLeading: true,
      lastRenewAgoMs: 1_234.567_890_1,
      loopLateMs: 12.499_9,
      lastApiError: { verb: 'update', code: 409, reason: 'Conflict', message: 'x', agoMs: 99.5 },
    }), rules);
    expect(judged).toMatchObject({ lastRenewAgoMs: 1_235, loopLateMs: 12, lastApiError: { agoMs: 100 } });
    expect(judgeElectionHealth(state, status({}), rules)).toMatchObject({ lastRenewAgoMs: null, loopLateMs: 0, lastApiError: null });
  });

  it('says what is wrong and what to do', () => {
    const stuck = judgeElectionHealth(state, status({ believesLeading: true, lastRenewAgoMs: 40_000 }), rules);
    expect(stuck.problem).toBe(
      "this pod believes it leads election 'default' but has not renewed it for 40000 ms (more than leaseDurationMs 15000 + " +
        'health.toleranceMs 20000): its renew loop is stuck. It has stopped acting as leader; restart the pod.',
    );
    const late = judgeElectionHealth(state, status({ loopLateMs: 9_000 }), { toleranceMs: 0, stalledAfterRetryPeriods: 4 });
    expect(late.problem).toBe(
      "the elector of election 'default' is 9000 ms behind its schedule (more than health.stalledAfterRetryPeriods 4 x retryPeriodMs 2000): its loop is stuck; restart the pod.",
    );
  });
});

describe('LeaderElectionHealthIndicator over HTTP (standalone backend)', () => {
  let app: INestApplication | undefined;
  afterEach(() => app?.close());

  it('GET /health answers 200 with every election by name', async () => {
    ({ app } = await compileApp({
      leaderElection: { backend: 'standalone', identity: 'pod-a', elections: { reports: { backend: 'standalone' } } },
      imports: [HealthModule],
    }));
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;

    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; info: Record<string, { status: string; elections: Record<string, unknown> }> };
    expect(body.status).toBe('ok');
    expect(body.info['leader-election']!.status).toBe('up');
    expect(body.info['leader-election']!.elections).toEqual({
      default: { election: 'default', healthy: true, problem: null, identity: 'pod-a', isLeader: true, leader: 'pod-a', term: null, lastRenewAgoMs: null, loopLateMs: null, lastApiError: null, pausedJobs: [] },
      reports: { election: 'reports', healthy: true, problem: null, identity: 'pod-a', isLeader: true, leader: 'pod-a', term: null, lastRenewAgoMs: null, loopLateMs: null, lastApiError: null, pausedJobs: [] },
    });
  });

  it.each([
    [{ toleranceMs: -1 }, 'health.toleranceMs'],
    [{ stalledAfterRetryPeriods: 0 }, 'health.stalledAfterRetryPeriods'],
    [{ tolerance: 5 }, 'health.tolerance'],
  ])('refuses health %j at startup, naming the option', async (health, option) => {
    const error = await compileApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', health: health as never } }).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(LeaderElectionConfigError);
    expect((error as Error).message).toContain(`option \`${option}\``);
  });
}, 20_000);

describe('LeaderElectionHealthIndicator on the Lease backend', () => {
  const cluster = new LeaseCandidates('health-lease');
  const cleanups: (() => void)[] = [];
  beforeEach(() => cluster.setUp());
  afterEach(async () => {
    // First end the hanging credential plugins: an elector's stop() waits for its round in flight.
    for (const cleanup of cleanups.splice(0)) cleanup();
    await cluster.tearDown();
  });

  const terminus = { imports: [HealthModule] };
  const check = (candidate: { app: { get: <T>(type: new (...args: never[]) => T) => T } }) =>
    candidate.app.get(HealthCheckService).check([() => candidate.app.get(LeaderElectionHealthIndicator).isHealthy()]);

  it('a leader and a follower are both up, with identity, leader, term and the age of the last renew', async () => {
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, ...terminus });
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, ...terminus });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');

    const leader = await check(a);
    expect(leader.status).toBe('ok');
    expect(leader.info!['leader-election']!.elections.default).toMatchObject({ healthy: true, identity: 'pod-a', isLeader: true, leader: 'pod-a', term: 0, lastApiError: null });
    expect(leader.info!['leader-election']!.elections.default.lastRenewAgoMs).toBeLessThan(FAST.renewDeadlineMs!);
    expect(Number.isInteger(leader.info!['leader-election']!.elections.default.lastRenewAgoMs)).toBe(true);
    const follower = await check(b);
    expect(follower.status).toBe('ok');
    expect(follower.info!['leader-election']!.elections.default).toMatchObject({ healthy: true, identity: 'pod-b', isLeader: false, leader: 'pod-a', term: 0, lastRenewAgoMs: null });
  });

  it('an API outage is not a reason to restart: both stay up, and the last API error shows', async () => {
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, ...terminus });
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST, ...terminus });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');

    cluster.server.faults.outage = true;
    await cluster.timeline.until(() => !a.leader.isLeader());
    const leader = a.app.get(ClusterLeaderService).health();
    expect(leader).toMatchObject({ healthy: true, isLeader: false, lastApiError: { code: 503, reason: 'ServiceUnavailable' } });
    expect((await check(a)).status).toBe('ok');
    expect((await check(b)).status).toBe('ok');
    cluster.server.faults.outage = false;
    await cluster.timeline.until(() => a.leader.isLeader() || b.leader.isLeader());
    cluster.timeline.assertNoOverlap();
  });

  it('is down for a leader whose renew hangs past leaseDuration + tolerance, and up again once it heals', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'observability-health-'));
    const pids = join(dir, 'pids');
    const hang = join(dir, 'hang');
    cleanups.push(() => {
      if (existsSync(hang)) rmSync(hang);
      killPlugins(pids);
      rmSync(dir, { recursive: true, force: true });
    });
    cluster.user('pod-a');
    const token = cluster.server.addUser('pod-a');
    // A credential plugin that answers at once, or, while `hang` exists, never (it records its pid
    // so the test can end it): client-node runs it for every request, before sending it.
    const credential = `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${token}"}}`;
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: cluster.server.url, skipTLSVerify: true }],
      users: [{ name: 'exec-user', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', `if [ -e '${hang}' ]; then echo $$ >> '${pids}'; exec sleep 60; fi; printf '%s' '${credential}'`] } }],
      contexts: [{ name: 'c', cluster: 'c', user: 'exec-user' }],
      currentContext: 'c',
    });
    const a = await cluster.startTracked({ identity: 'pod-a', lease: { ...FAST, kubeConfig }, module: { health: { toleranceMs: 500 } }, ...terminus });
    await cluster.timeline.until(() => a.leader.isLeader());
    const service = a.app.get(ClusterLeaderService);
    expect(service.health().healthy).toBe(true);

    writeFileSync(hang, '');
    // The state steps down by itself at the renew deadline; the elector still believes it leads.
    await cluster.timeline.until(() => !a.leader.isLeader());
    await expect.poll(() => service.health().healthy, { timeout: 10_000 }).toBe(false);
    const down = service.health();
    expect(down.isLeader).toBe(false);
    expect(down.problem).toMatch(/^this pod believes it leads election 'default' but has not renewed it for \d+ ms \(more than leaseDurationMs 2000 \+ health\.toleranceMs 500\): its renew loop is stuck\./);
    expect(down.lastRenewAgoMs).toBeGreaterThan(2_500);
    const error = await check(a).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    const body = (error as ServiceUnavailableException).getResponse() as { status: string; error: Record<string, { status: string; message: string }> };
    expect(body.status).toBe('error');
    expect(body.error['leader-election']).toMatchObject({ status: 'down', message: expect.stringContaining('its renew loop is stuck') });

    // The plugin answers again: the hung round fails, the next one takes the Lease back.
    rmSync(hang);
    killPlugins(pids);
    await cluster.timeline.until(() => a.leader.isLeader());
    expect(service.health()).toMatchObject({ healthy: true, problem: null });
  });
});

/** Ends the credential plugins that are still waiting, by the pids they recorded. */
function killPlugins(pidsFile: string): void {
  if (!existsSync(pidsFile)) return;
  for (const line of readFileSync(pidsFile, 'utf8').split('\n')) {
    const pid = Number(line.trim());
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  writeFileSync(pidsFile, '');
}
