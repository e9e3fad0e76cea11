import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentLeaderJob, LeaderOnly, type LeaseOptions } from '../lib/index.js';
import { containerOf, CONTAINER_ANNOTATION } from '../lib/electors/lease/container-evidence.js';
import { containerStartTime } from '../lib/electors/lease/container-start.js';
import { INCARNATION_ANNOTATION } from '../lib/electors/lease/resourcelock/lease-record.js';
import type { Lease, RbacRule } from './support/kube-apiserver/index.js';
import { LeaseCandidates, quietWindow, type LeaseCandidate } from './support/lease-candidates.js';

/**
 * Fast failover (issue 16): real Nest apps on the test API server, which also plays the kubelet
 * for their pods (test/support/kube-apiserver/pod-lifecycle.ts writes the statuses a kubelet
 * writes, in the order it writes them). A "crash" is an app closed without releasing its Lease:
 * it stops writing, as a dead process does, and the test then reports its container as the
 * kubelet would. Every leadership interval is recorded, and none may overlap.
 */

const LEASE = 'fast-failover-lease';
/** Default timings: a crash without fast failover waits out 15 s; with it, a status event. */
const DEFAULT_TIMINGS: Partial<LeaseOptions> = { fastFailover: true, releaseOnShutdown: false };
/** Short timings for the cases that must fall back to expiry: they wait it out. */
const FAST: Partial<LeaseOptions> = { fastFailover: true, releaseOnShutdown: false, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

/** RBAC with the Lease rules and no pods rule. */
const LEASES_ONLY: RbacRule[] = [{ verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'], apiGroups: ['coordination.k8s.io'], resources: ['leases'] }];

/** The kubelet stamps startedAt with the node's clock: this machine's, for this process's "container". */
const CONTAINER_STARTED = containerStartTime() as Date;

describe('fast failover: taking over from a crashed process as soon as its pod proves it (issue 16)', () => {
  const cluster = new LeaseCandidates(LEASE);
  beforeEach(async () => {
    await cluster.setUp();
    for (const name of ['pod-a', 'pod-b', 'pod-c']) cluster.server.pods.create('default', { name, nodeName: `node-${name.slice(-1)}`, at: CONTAINER_STARTED });
  });
  afterEach(() => cluster.tearDown());

  const lease = (): Lease => cluster.server.getLease('default', LEASE)!;
  const recorded = () => {
    const current = lease();
    return containerOf(current as never, {
      holder: current.spec.holderIdentity!,
      acquireTimeMs: new Date(current.spec.acquireTime!).getTime(),
      incarnation: current.metadata.annotations?.[INCARNATION_ANNOTATION],
    });
  };

  /** a leads, has told which container it is, and b follows it. */
  async function leaderAndFollower(options: Partial<LeaseOptions>): Promise<{ a: LeaseCandidate; b: LeaseCandidate }> {
    const a = await cluster.startTracked({ identity: 'pod-a', lease: options });
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await cluster.startTracked({ identity: 'pod-b', lease: options });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    await expect.poll(recorded, { timeout: 15_000 }).toMatchObject({ container: 'app', restartCount: 0 });
    // b watches its Lease and a's pod: whatever happens to the pod from here on, b sees it.
    await expect.poll(() => cluster.server.openWatches('pod-b'), { timeout: 15_000 }).toBe(2);
    return { a, b };
  }

  /** The process dies: it writes nothing more (its Lease is not released). */
  async function crash(candidate: LeaseCandidate): Promise<{ at: number; expiresAt: number }> {
    await cluster.close(candidate);
    const { renewTime, leaseDurationSeconds } = lease().spec;
    return { at: performance.now(), expiresAt: new Date(renewTime!).getTime() + leaseDurationSeconds! * 1000 };
  }

  it('the kubelet restarted the crashed container (restartCount + 1, a new containerID, lastState.terminated): a follower takes over at once, as a new term', async () => {
    const { a, b } = await leaderAndFollower(DEFAULT_TIMINGS);
    const before = lease();
    const died = await crash(a);
    const oldContainer = recorded()!.containerId;
    const restarted = cluster.server.pods.restartContainer('default', 'pod-a', { exitCode: 137, reason: 'OOMKilled' });
    expect(restarted.status.containerStatuses![0]).toMatchObject({ restartCount: 1, lastState: { terminated: { containerID: oldContainer } } });
    await cluster.timeline.until(() => b.leader.isLeader());
    // Long before pod-a's 15 s lease ran out.
    expect(Date.now()).toBeLessThan(died.expiresAt - 5_000);
    expect(cluster.logger.messages('log', 'taking over from pod-a at once (fast failover): the kubelet reported container app terminated (OOMKilled)')).toHaveLength(1);
    expect(lease().spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: before.spec.leaseTransitions! + 1 });
    // b's own record names b's container in time; a stale one never names b's record.
    await expect.poll(recorded, { timeout: 15_000 }).toMatchObject({ container: 'app', podUid: cluster.server.pods.get('default', 'pod-b')!.metadata.uid });
    cluster.timeline.assertNoOverlap();
  });

  it('the restarted process takes its own Lease back at once; its predecessor\'s pod entry proves the old container gone', async () => {
    const a = await cluster.startTracked({ identity: 'pod-a', lease: DEFAULT_TIMINGS }, 'pod-a#1');
    await cluster.timeline.until(() => a.leader.isLeader());
    await expect.poll(recorded, { timeout: 15_000 }).toMatchObject({ restartCount: 0 });
    const died = await crash(a);
    // The new container's first process starts when this one's did (one process plays both).
    cluster.server.pods.restartContainer('default', 'pod-a', { via: 'CrashLoopBackOff', at: CONTAINER_STARTED, restartedAt: CONTAINER_STARTED });
    const again = await cluster.startTracked({ identity: 'pod-a', user: 'pod-a-2', lease: DEFAULT_TIMINGS }, 'pod-a#2');
    await cluster.timeline.until(() => again.leader.isLeader());
    expect(Date.now()).toBeLessThan(died.expiresAt - 5_000);
    await expect.poll(recorded, { timeout: 15_000 }).toMatchObject({ restartCount: 1 });
    cluster.timeline.assertNoOverlap();
  });

  it('a second live process with the same pod name is never taken for dead: its container still runs', async () => {
    const first = await cluster.startTracked({ identity: 'pod-a', lease: FAST }, 'pod-a#1');
    await cluster.timeline.until(() => first.leader.isLeader());
    await expect.poll(recorded, { timeout: 15_000 }).toBeDefined();
    const twin = await cluster.startTracked({ identity: 'pod-a', user: 'pod-a-2', lease: FAST }, 'pod-a#2');
    // Statuses of the pod come and go (another container, conditions); none proves the first dead.
    cluster.server.pods.nodeNotReady('node-a');
    await quietWindow(3 * FAST.leaseDurationMs!);
    expect(first.leader.isLeader()).toBe(true);
    expect(twin.leader.isLeader()).toBe(false);
    expect(cluster.logger.messages('log', 'fast failover')).not.toContainEqual(expect.stringContaining('taking over'));
    cluster.timeline.assertNoOverlap();
  });

  it.each([
    ['skip', 0],
    ['rerun', 1],
  ] as const)("the claim in flight when the leader crashed: the next leader, taking over at once, applies interruptedRun '%s' (%i rerun)", async (interruptedRun, reruns) => {
    const runs: { pod: string; scheduledAt: number; catchUp: boolean }[] = [];
    const identities = new WeakMap<object, string>();
    @Injectable()
    class EverySecond {
      @Cron('* * * * * *')
      @LeaderOnly({ interruptedRun })
      async tick(): Promise<void> {
        const context = currentLeaderJob()!;
        const pod = identities.get(this) ?? '?';
        runs.push({ pod, scheduledAt: context.scheduledAt!.getTime(), catchUp: context.catchUp });
        // pod-a's runs never end: it dies with its first one in flight.
        if (pod === 'pod-a') await new Promise<void>(() => {});
      }
    }
    const start = async (identity: string) => {
      const candidate = await cluster.startTracked({ identity, lease: DEFAULT_TIMINGS, module: { drainTimeoutMs: 100 }, providers: [EverySecond] });
      identities.set(candidate.app.get(EverySecond), identity);
      return candidate;
    };
    const a = await start('pod-a');
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await start('pod-b');
    await expect.poll(recorded, { timeout: 15_000 }).toBeDefined();
    await expect.poll(() => runs.length).toBeGreaterThan(0);
    const interrupted = runs[0]!.scheduledAt;
    const died = await crash(a);
    cluster.server.pods.restartContainer('default', 'pod-a');
    await cluster.timeline.until(() => b.leader.isLeader());
    expect(Date.now()).toBeLessThan(died.expiresAt - 5_000);
    // One tick claimed alone, or claimed ahead with the next ones (a window): either is reported.
    await cluster.logger.waitFor('warn', 'whose leader stopped before recording');
    await expect.poll(() => runs.filter((run) => run.pod === 'pod-b').length).toBeGreaterThan(reruns);
    const again = runs.filter((run) => run.pod === 'pod-b' && run.scheduledAt === interrupted);
    expect(again).toHaveLength(reruns);
    if (reruns > 0) expect(again[0]!.catchUp).toBe(true);
    // No fire time ran on both pods, other than the rerun asked for.
    const byA = new Set(runs.filter((run) => run.pod === 'pod-a').map((run) => run.scheduledAt));
    expect(runs.filter((run) => run.pod === 'pod-b' && byA.has(run.scheduledAt))).toHaveLength(reruns);
    cluster.timeline.assertNoOverlap();
  });

  describe('never early without proof: the Lease expires as it would without fast failover', () => {
    /** b took over, by its own observation, only once a's lease had run out. */
    async function expectTakeoverAtExpiry(b: LeaseCandidate, since: number): Promise<void> {
      await cluster.timeline.until(() => b.leader.isLeader());
      expect(performance.now() - since).toBeGreaterThanOrEqual(FAST.leaseDurationMs! - FAST.retryPeriodMs! - 50);
      expect(cluster.logger.messages('log', 'at once (fast failover)')).toEqual([]);
      cluster.timeline.assertNoOverlap();
    }

    it.each<[string, () => void, string | undefined]>([
      ['a partitioned holder: its status never changes', () => cluster.server.pods.resyncStatus('default', 'pod-a'), undefined],
      ['a NotReady node (Ready False, containers still read running), and one line saying why', () => cluster.server.pods.nodeNotReady('node-a'), 'fast failover cannot take over from pod-a early: its pod is not Ready'],
      [
        'a force deletion (grace 0, no word from the kubelet), then the pod re-created with its name',
        () => {
          cluster.server.pods.forceDelete('default', 'pod-a');
          cluster.server.pods.create('default', { name: 'pod-a', nodeName: 'node-d' });
        },
        'force deletion proves nothing',
      ],
      ['a taint eviction of a pod on an unreachable node (deletion started, nothing terminated)', () => cluster.server.pods.taintEvict('default', 'pod-a'), undefined],
    ])('%s', async (_name, meanwhile, said) => {
      const { a, b } = await leaderAndFollower(FAST);
      cluster.server.faults.partition(a.user, true);
      const cut = performance.now();
      meanwhile();
      await expectTakeoverAtExpiry(b, cut);
      if (said !== undefined) expect(cluster.logger.messages('log', said)).toHaveLength(1);
      cluster.server.faults.partition(a.user, false);
    });

    it('an error reading the pod (403: no RBAC rule for pods), said once', async () => {
      const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST });
      await cluster.timeline.until(() => a.leader.isLeader());
      await expect.poll(recorded, { timeout: 15_000 }).toBeDefined();
      cluster.user('pod-b');
      cluster.server.setRules('pod-b', LEASES_ONLY);
      const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST });
      await cluster.logger.waitFor('log', /fast failover cannot take over from pod-a early: reading its pod failed \(.*forbidden/);
      const died = await crash(a);
      cluster.server.pods.restartContainer('default', 'pod-a');
      await expectTakeoverAtExpiry(b, died.at);
      expect(cluster.logger.messages('log', 'reading its pod failed')).toHaveLength(1);
      // Nor could b tell which container it is: its own record carries none.
      expect(cluster.logger.messages('warn', 'fast failover is on, but this process cannot tell which container of pod default/pod-b')).toHaveLength(1);
      expect(lease().metadata.annotations?.[CONTAINER_ANNOTATION]).toBeUndefined();
    });

    it('a refused pod watch heals by itself once allowed, and then proves the next crash', async () => {
      const { a, b } = await leaderAndFollower(FAST);
      await cluster.close(b);
      cluster.user('pod-c');
      cluster.server.setRules('pod-c', LEASES_ONLY);
      const c = await cluster.startTracked({ identity: 'pod-c', lease: FAST });
      await cluster.logger.waitFor('log', /fast failover cannot take over from pod-a early: reading its pod failed/);
      // The Role gains the pods rule; the watch is retried every retry period.
      cluster.server.setRules('pod-c', undefined);
      await expect.poll(() => cluster.server.openWatches('pod-c')).toBe(2);
      await crash(a);
      cluster.server.pods.restartContainer('default', 'pod-a');
      await cluster.timeline.until(() => c.leader.isLeader());
      expect(cluster.logger.messages('log', 'taking over from pod-a at once (fast failover)')).toHaveLength(1);
      cluster.timeline.assertNoOverlap();
    });

    it("a process that reads a stale status of its own pod (the previous instance's entry) names no container until the kubelet reports it", async () => {
      // The pod's status still shows the instance that started 30 s before this process's container.
      cluster.server.pods.delete('default', 'pod-a', { gracePeriodSeconds: 0 });
      cluster.server.pods.create('default', { name: 'pod-a', at: new Date(CONTAINER_STARTED.getTime() - 30_000) });
      const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST });
      await cluster.timeline.until(() => a.leader.isLeader());
      await cluster.logger.waitFor('warn', /cannot tell which container of pod default\/pod-a it runs in \(the kubelet reports an instance of container app started at .*its status is not up to date yet\)/);
      expect(lease().metadata.annotations?.[CONTAINER_ANNOTATION]).toBeUndefined();
      // The kubelet catches up: the old instance terminated, this one running since it started.
      cluster.server.pods.restartContainer('default', 'pod-a', { via: 'none', restartedAt: CONTAINER_STARTED });
      await expect.poll(recorded, { timeout: 15_000 }).toMatchObject({ restartCount: 1 });
      // The earlier instance's termination in the status does not speak against this one.
      const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST });
      await quietWindow(2 * FAST.leaseDurationMs!);
      expect(a.leader.isLeader()).toBe(true);
      expect(b.leader.isLeader()).toBe(false);
      cluster.timeline.assertNoOverlap();
    });
  });

  describe('beside writers that do not know fast failover', () => {
    it('a client-go writer in the same pod takes the Lease keeping our annotation: it never speaks for the new record', async () => {
      const { a, b } = await leaderAndFollower(FAST);
      await cluster.close(b);
      const annotated = lease();
      await crash(a);
      await quietWindow(FAST.leaseDurationMs! + 100);
      // A client-go process in another container of pod-a (its identity, the pod's name, is the
      // same) takes the expired Lease with a plain update, keeping the metadata it does not
      // know (our annotations among it), as client-go's LeaseLock does.
      const now = new Date().toISOString().replace('Z', '000Z');
      cluster.server.putLease('default', {
        ...annotated,
        metadata: { ...lease().metadata },
        spec: { ...annotated.spec, holderIdentity: 'pod-a', acquireTime: now, renewTime: now, leaseDurationSeconds: 2, leaseTransitions: annotated.spec.leaseTransitions! + 1 },
      });
      expect(lease().metadata.annotations?.[CONTAINER_ANNOTATION]).toBeDefined();
      const d = await cluster.startTracked({ identity: 'pod-b', user: 'pod-b-2', lease: FAST });
      await cluster.timeline.until(() => d.leader.leader() === 'pod-a');
      const seen = performance.now();
      // Our app's container in pod-a restarts; the client-go holder in the other one runs on.
      cluster.server.pods.restartContainer('default', 'pod-a', { container: 'app' });
      await cluster.timeline.until(() => d.leader.isLeader());
      expect(performance.now() - seen).toBeGreaterThanOrEqual(FAST.leaseDurationMs! - FAST.retryPeriodMs! - 200);
      expect(cluster.logger.messages('log', 'at once (fast failover)')).toEqual([]);
      cluster.timeline.assertNoOverlap();
    });

    it('a release removes the annotation: a stale one never outlives its record', async () => {
      const a = await cluster.startTracked({ identity: 'pod-a', lease: { ...FAST, releaseOnShutdown: true } });
      await cluster.timeline.until(() => a.leader.isLeader());
      await expect.poll(recorded, { timeout: 15_000 }).toBeDefined();
      await cluster.close(a);
      expect(lease().spec.holderIdentity).toBe('');
      expect(lease().metadata.annotations?.[CONTAINER_ANNOTATION]).toBeUndefined();
    });
  });
});
