import { Injectable } from '@nestjs/common';
import { EventEmitter, once } from 'node:events';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClusterLeaderService,
  LeaderElectionModule,
  LeaderOnly,
  currentLeaderJob,
  type LeaseOptions,
} from '../lib/index.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { LeadershipTimeline } from './support/leadership-timeline.js';
import { RecordingLogger } from './support/nest-app.js';

/**
 * Several real Nest apps, each a candidate with its own identity and credentials, electing a
 * leader on one Lease in the test apiserver. Every scenario records when each candidate believed
 * it led, and asserts that no two beliefs ever overlapped.
 */

const LEASE = 'integration-lease';
const FAST: Partial<LeaseOptions> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

@Injectable()
class TickingJob {
  ticks = 0;
  terms = new Set<number | null>();
  private readonly ticked = new EventEmitter();

  @Interval(20)
  @LeaderOnly()
  tick() {
    this.ticks++;
    this.terms.add(currentLeaderJob()?.term ?? null);
    this.ticked.emit('tick');
  }

  async waitForTicks(count: number): Promise<void> {
    while (this.ticks < count) await once(this.ticked, 'tick');
  }
}

interface Candidate {
  identity: string;
  app: TestingModule;
  leader: ClusterLeaderService;
  closed: boolean;
}

describe('Lease backend: several candidates on one Lease', () => {
  let server: KubeApiServer;
  let timeline: LeadershipTimeline;
  let logs: RecordingLogger;
  let candidates: Candidate[];
  let users: Set<string>;

  beforeEach(async () => {
    server = await KubeApiServer.start();
    timeline = new LeadershipTimeline();
    logs = new RecordingLogger();
    candidates = [];
    users = new Set();
  });

  afterEach(async () => {
    await Promise.all(candidates.filter((c) => !c.closed).map((c) => c.app.close()));
    timeline.stop();
    await server.close();
  });

  async function startCandidate(identity: string, lease: Partial<LeaseOptions> = {}, user = identity): Promise<Candidate> {
    if (!users.has(user)) {
      server.addUser(user);
      users.add(user);
    }
    const app = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        LeaderElectionModule.forRoot({
          identity,
          backend: 'lease',
          lease: { name: LEASE, namespace: 'default', kubeConfig: server.kubeConfig(user), ...FAST, ...lease },
        }),
      ],
      providers: [TickingJob],
    })
      .setLogger(logs)
      .compile();
    await app.init();
    const candidate: Candidate = { identity, app, leader: app.get(ClusterLeaderService), closed: false };
    timeline.track(identity, candidate.leader);
    candidates.push(candidate);
    return candidate;
  }

  async function close(candidate: Candidate): Promise<void> {
    candidate.closed = true;
    await candidate.app.close();
  }

  const byIdentity = (identity: string) => candidates.find((c) => c.identity === identity)!;

  it('elects exactly one leader among five, and only it runs the job', async () => {
    for (const identity of ['pod-a', 'pod-b', 'pod-c', 'pod-d', 'pod-e']) await startCandidate(identity);
    const leader = await timeline.nextLeader();
    const leaderJob = byIdentity(leader).app.get(TickingJob);
    await leaderJob.waitForTicks(3);
    expect(candidates.filter((c) => c.leader.isLeader()).map((c) => c.identity)).toEqual([leader]);
    for (const candidate of candidates) {
      expect(candidate.leader.leader()).toBe(leader);
      if (candidate.identity !== leader) expect(candidate.app.get(TickingJob).ticks).toBe(0);
    }
    expect(leaderJob.terms).toEqual(new Set([0]));
    timeline.assertNoOverlap();
  });

  it('after a crash (no release), another takes over once the lease has run out', async () => {
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) await startCandidate(identity, { releaseOnShutdown: false });
    const first = await timeline.nextLeader();
    const crashedAt = performance.now();
    await close(byIdentity(first));
    const second = await timeline.nextLeader(first);
    const takeover = timeline.openInterval(second)!.start - crashedAt;
    // Followers saw the last renewal at most one retry period before the crash, and must then
    // wait the whole lease duration from that observation.
    expect(takeover).toBeGreaterThanOrEqual(FAST.leaseDurationMs! - FAST.retryPeriodMs! - 50);
    expect(byIdentity(second).leader.term()).toBe(1);
    timeline.assertNoOverlap();
  });

  it('after a graceful shutdown, another takes over without waiting for the lease to expire', async () => {
    const slowExpiry: Partial<LeaseOptions> = { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 1_000 };
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) await startCandidate(identity, slowExpiry);
    const first = await timeline.nextLeader();
    const shutdownAt = performance.now();
    await close(byIdentity(first));
    const second = await timeline.nextLeader(first);
    expect(timeline.openInterval(second)!.start - shutdownAt).toBeLessThan(slowExpiry.leaseDurationMs!);
    expect(server.getLease('default', LEASE)!.spec.holderIdentity).toBe(second);
    timeline.assertNoOverlap();
  });

  it('a leader cut off from the API stops leading before anyone else starts', async () => {
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) await startCandidate(identity);
    const first = await timeline.nextLeader();
    server.faults.partition(first, true);
    const second = await timeline.nextLeader(first);
    const firstInterval = timeline.intervals.find((i) => i.identity === first)!;
    expect(firstInterval.end).toBeDefined();
    expect(firstInterval.end!).toBeLessThanOrEqual(timeline.openInterval(second)!.start);
    server.faults.partition(first, false);
    // Back on the network, it sees the new holder and stays a follower.
    await timeline.until(() => byIdentity(first).leader.leader() === second);
    expect(byIdentity(first).leader.isLeader()).toBe(false);
    timeline.assertNoOverlap();
  });

  it('during an API outage everyone fails closed, and a leader returns when it heals', async () => {
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) await startCandidate(identity);
    const first = await timeline.nextLeader();
    server.resetCounts();
    const outageBegan = performance.now();
    server.faults.outage = true;
    await timeline.until(() => timeline.current() === undefined);
    // The leader kept trying on its retry period while it still had time, no faster.
    const { get, create, update } = server.counts(first);
    const attempts = get + create + update;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThanOrEqual(Math.ceil((performance.now() - outageBegan) / FAST.retryPeriodMs!) + 2);
    expect(candidates.some((c) => c.leader.isLeader())).toBe(false);
    await logs.waitFor('warn', /503 ServiceUnavailable/);
    server.faults.outage = false;
    const next = await timeline.nextLeader();
    expect(candidates.map((c) => c.identity)).toContain(next);
    await logs.waitFor('log', 'the Kubernetes API answers again');
    timeline.assertNoOverlap();
  });

  it('403: says once which RBAC rule is missing, and never leads', async () => {
    server.addUser('no-rbac', { rules: [{ verbs: ['get'], resources: ['configmaps'] }] });
    users.add('no-rbac');
    const denied = await startCandidate('pod-x', {}, 'no-rbac');
    const line = await logs.waitFor('error', 'Forbidden');
    expect(line).toContain('coordination.k8s.io');
    expect(line).toContain('leases');
    expect(line).toContain(`resourceNames: ["${LEASE}"]`);
    expect(line).toContain('"get", "update", "watch"');
    expect(line).toContain('namespace "default"');
    expect(denied.leader.isLeader()).toBe(false);
    expect(logs.messages('error', 'Forbidden').length).toBe(1);
  });

  it('honours a Lease held by a client-go elector, then takes it over when it expires', async () => {
    server.putLease('default', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LEASE, namespace: 'default' },
      spec: {
        holderIdentity: 'kube-controller-manager_4b1f',
        leaseDurationSeconds: 2,
        acquireTime: '2026-11-24T09:00:00.000000Z',
        renewTime: '2026-11-24T09:00:00.000000Z',
        leaseTransitions: 7,
      },
    });
    const a = await startCandidate('pod-a');
    await timeline.until(() => a.leader.leader() === 'kube-controller-manager_4b1f');
    expect(a.leader.isLeader()).toBe(false);
    expect(a.leader.term()).toBe(7);
    await timeline.nextLeader();
    const { spec } = server.getLease('default', LEASE)!;
    expect(spec).toMatchObject({ holderIdentity: 'pod-a', leaseTransitions: 8, leaseDurationSeconds: 2 });
    expect(spec.renewTime).toMatch(/\.\d{6}Z$/);
  });

  it('a follower sees a release within one watch event, with no polling in steady state', async () => {
    const slowExpiry: Partial<LeaseOptions> = { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 1_000 };
    for (const identity of ['pod-a', 'pod-b']) await startCandidate(identity, slowExpiry);
    const first = await timeline.nextLeader();
    const follower = candidates.find((c) => c.identity !== first)!;
    await timeline.until(() => follower.leader.leader() === first);
    server.resetCounts();
    // Three renewals by the leader; the follower learns of each through its watch alone.
    const renewals = () => server.counts(first).update;
    await new Promise<void>((resolve) => {
      const onRequest = () => {
        if (renewals() >= 3) {
          server.off('request', onRequest);
          resolve();
        }
      };
      server.on('request', onRequest);
    });
    expect(server.counts(follower.identity)).toMatchObject({ get: 0, update: 0, create: 0, list: 0 });
    timeline.assertNoOverlap();
  });

  describe('when the watch fails', () => {
    const slowExpiry: Partial<LeaseOptions> = { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 1_000 };

    async function leaderAndFollower() {
      for (const identity of ['pod-a', 'pod-b']) await startCandidate(identity, slowExpiry);
      const leader = await timeline.nextLeader();
      const follower = candidates.find((c) => c.identity !== leader)!;
      await timeline.until(() => follower.leader.leader() === leader);
      return { leader: byIdentity(leader), follower };
    }

    /** Resolves when the follower has opened a new watch after the one that was cut. */
    const rewatched = (identity: string) =>
      new Promise<void>((resolve) => {
        const onRequest = (info: { user: string | null; verb: string; status: number }) => {
          if (info.user === identity && info.verb === 'watch' && info.status === 200) {
            server.off('request', onRequest);
            resolve();
          }
        };
        server.on('request', onRequest);
      });

    it.each([
      ['killed (connection reset)', (user: string) => server.faults.killWatches(user)],
      ['ended by the server (timeoutSeconds)', (user: string) => server.faults.endWatches(user)],
      ['expired: 410 after compaction', (user: string) => {
        server.compact();
        server.faults.killWatches(user);
      }],
    ])('re-watches when the watch is %s, and still sees a release at once', async (_case, cut) => {
      const { leader, follower } = await leaderAndFollower();
      const reopened = rewatched(follower.identity);
      cut(follower.identity);
      await reopened;
      await timeline.until(() => server.openWatches(follower.identity) === 1);
      await close(leader);
      await timeline.nextLeader(leader.identity);
      expect(timeline.current()).toBe(follower.identity);
      timeline.assertNoOverlap();
    });

    it('a follower whose watch stalled silently catches up through a conditional write and a re-read', async () => {
      const fast: Partial<LeaseOptions> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
      for (const identity of ['pod-a', 'pod-b', 'pod-c']) await startCandidate(identity, fast);
      const first = await timeline.nextLeader();
      const [stalled, other] = candidates.filter((c) => c.identity !== first);
      await timeline.until(() => stalled.leader.leader() === first);
      // Cut it off while the leader hands over: its watch misses the release and the new holder.
      server.faults.partition(stalled.identity, true);
      await close(byIdentity(first));
      await timeline.until(() => other.leader.isLeader());
      server.faults.partition(stalled.identity, false);
      await timeline.until(() => stalled.leader.leader() === other.identity);
      expect(stalled.leader.isLeader()).toBe(false);
      timeline.assertNoOverlap();
    });
  });

  it('on shutdown, a running job finishes before the Lease is released', async () => {
    @Injectable()
    class LongJob {
      private running = false;
      finish!: () => void;
      readonly started = new Promise<void>((resolve) => (this.onStart = resolve));
      private onStart!: () => void;
      signalAbortedAtEnd: boolean | undefined;

      @Interval(10)
      @LeaderOnly()
      async work() {
        if (this.running) return;
        this.running = true;
        const signal = currentLeaderJob()!.signal;
        await new Promise<void>((resolve) => {
          this.finish = resolve;
          this.onStart();
        });
        this.signalAbortedAtEnd = signal.aborted;
      }
    }
    server.addUser('pod-long');
    users.add('pod-long');
    const app = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        LeaderElectionModule.forRoot({
          identity: 'pod-long',
          backend: 'lease',
          lease: { name: LEASE, namespace: 'default', kubeConfig: server.kubeConfig('pod-long'), ...FAST },
        }),
      ],
      providers: [LongJob],
    })
      .setLogger(logs)
      .compile();
    await app.init();
    timeline.track('pod-long', app.get(ClusterLeaderService));
    const job = app.get(LongJob);
    await job.started;
    const closing = app.close();
    await timeline.until(() => timeline.current() === undefined);
    // Shutdown began: it no longer leads, but the Lease stays held while the job runs.
    expect(server.getLease('default', LEASE)!.spec.holderIdentity).toBe('pod-long');
    server.resetCounts();
    job.finish();
    await closing;
    expect(job.signalAbortedAtEnd).toBe(true);
    expect(server.getLease('default', LEASE)!.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
    expect(server.counts('pod-long').update).toBeGreaterThanOrEqual(1);
  });

  it('401: says once that the credentials were refused, and never leads', async () => {
    server.addUser('pod-a');
    users.add('pod-a');
    const kubeConfig = server.kubeConfig('pod-a');
    (kubeConfig.getCurrentUser() as { token?: string }).token = 'not-a-valid-token';
    const app = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        LeaderElectionModule.forRoot({ identity: 'pod-a', backend: 'lease', lease: { name: LEASE, kubeConfig, ...FAST } }),
      ],
    })
      .setLogger(logs)
      .compile();
    await app.init();
    const line = await logs.waitFor('error', '401 Unauthorized');
    expect(line).toContain('ServiceAccount token');
    expect(app.get(ClusterLeaderService).isLeader()).toBe(false);
    await app.close();
    expect(logs.messages('error', '401').length).toBe(1);
  });
});
