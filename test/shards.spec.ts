import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClusterLeaderService, currentLeaderJob, LeaderOnly, type LeaseOptions } from '../lib/index.js';
import { interruptedTicks } from './support/interrupted-ticks.js';
import { LeaseCandidates, quietWindow, type LeaseCandidate } from './support/lease-candidates.js';
import { LeadershipTimeline } from './support/leadership-timeline.js';

/**
 * Shards (issue 15): real Nest apps on the test API server, one election split into shards, each
 * shard on its own Lease. Every shard's leadership is recorded on its own timeline: no two pods
 * may ever lead one shard at once, whatever the balancing does.
 */

const LEASE = 'jobs';
const SHARDS = 6;
const shardNames = Array.from({ length: SHARDS }, (_, index) => `default-shard-${index}`);
/** Short timings for the cases that wait for a lease to run out. */
const FAST: Partial<LeaseOptions> = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

describe('shards: an election split over the pods (issue 15)', () => {
  const cluster = new LeaseCandidates(LEASE);
  let timelines: LeadershipTimeline[];
  beforeEach(async () => {
    await cluster.setUp();
    timelines = shardNames.map(() => new LeadershipTimeline());
  });
  afterEach(async () => {
    for (const timeline of timelines) timeline.stop();
    await cluster.tearDown();
  });

  async function pod(identity: string, lease: Partial<LeaseOptions> = {}, shards = SHARDS): Promise<LeaseCandidate> {
    const candidate = await cluster.start({ identity, lease, module: { shards } });
    shardNames.slice(0, shards).forEach((shard, index) => timelines[index].track(identity, candidate.leader, shard));
    return candidate;
  }

  /** How many shards each live pod leads, as the pods themselves say. */
  const spread = (pods: LeaseCandidate[]) => Object.fromEntries(pods.map((candidate) => [candidate.identity, candidate.leader.shards().length]));
  /** Every shard led by exactly one pod. */
  const everyShardOnce = (pods: LeaseCandidate[]) => shardNames.every((shard) => pods.filter((candidate) => candidate.leader.isLeader(shard)).length === 1);
  const assertNoOverlap = () => timelines.forEach((timeline) => timeline.assertNoOverlap());

  it('3 pods and 6 shards settle at 2 shards each, every shard led once, each Lease named after its shard', async () => {
    const pods = [await pod('pod-a'), await pod('pod-b'), await pod('pod-c')];
    const startedAt = performance.now();
    await expect.poll(() => spread(pods), { timeout: 10_000, interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
    console.log(`settled in ${Math.round(performance.now() - startedAt)} ms after the third pod started`);
    expect(everyShardOnce(pods)).toBe(true);
    const holders = shardNames.map((_, index) => cluster.holder(`${LEASE}-shard-${index}`));
    expect(holders.filter((holder) => holder === 'pod-a')).toHaveLength(2);
    expect(new Set(holders)).toEqual(new Set(['pod-a', 'pod-b', 'pod-c']));
    // Settled means settled: nothing more is handed over or asked for.
    const handovers = cluster.logger.messages('log', 'stepping down').length;
    const requests = cluster.logger.messages('log', 'asking').length;
    await quietWindow(3_000);
    expect(cluster.logger.messages('log', 'stepping down')).toHaveLength(handovers);
    expect(cluster.logger.messages('log', 'asking')).toHaveLength(requests);
    expect(spread(pods)).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
    assertNoOverlap();
  });

  it('more pods than shards: each shard led once, nobody leads two, and nobody asks for more', async () => {
    const pods = [await pod('pod-a', {}, 2), await pod('pod-b', {}, 2), await pod('pod-c', {}, 2)];
    await expect.poll(() => pods.map((candidate) => candidate.leader.shards().length).sort()).toEqual([0, 1, 1]);
    const asked = cluster.logger.messages('log', 'asking').length;
    await quietWindow(2_000);
    expect(cluster.logger.messages('log', 'asking')).toHaveLength(asked);
    expect(pods.map((candidate) => candidate.leader.shards().length).sort()).toEqual([0, 1, 1]);
    timelines.slice(0, 2).forEach((timeline) => timeline.assertNoOverlap());
  });

  it('a pod joining two that lead 3 each takes its share within seconds, handed over after the runs end', async () => {
    const pods = [await pod('pod-a'), await pod('pod-b')];
    await expect.poll(() => spread(pods), { interval: 50 }).toEqual({ 'pod-a': 3, 'pod-b': 3 });
    const joinedAt = performance.now();
    pods.push(await pod('pod-c'));
    await expect.poll(() => spread(pods), { timeout: 10_000, interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
    console.log(`rebalanced in ${Math.round(performance.now() - joinedAt)} ms after the third pod joined`);
    expect(everyShardOnce(pods)).toBe(true);
    assertNoOverlap();
  });

  it('a shard handed over for balance is released only after its running job ended; the new leader starts after that', async () => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const runs: { shard: string; pod: string; start: number; end?: number }[] = [];
    @Injectable()
    class Slow {
      constructor(private readonly leader: ClusterLeaderService) {}
      private async work(): Promise<void> {
        const run: (typeof runs)[number] = { shard: currentLeaderJob()!.election, pod: this.leader.identity, start: performance.now() };
        runs.push(run);
        await finished;
        run.end = performance.now();
      }
      @Cron('* * * * * *', { name: 'slow-0' }) @LeaderOnly({ shard: 0 }) s0() { return this.work(); }
      @Cron('* * * * * *', { name: 'slow-1' }) @LeaderOnly({ shard: 1 }) s1() { return this.work(); }
      @Cron('* * * * * *', { name: 'slow-2' }) @LeaderOnly({ shard: 2 }) s2() { return this.work(); }
      @Cron('* * * * * *', { name: 'slow-3' }) @LeaderOnly({ shard: 3 }) s3() { return this.work(); }
    }
    const start = async (identity: string) => {
      const candidate = await cluster.start({ identity, module: { shards: 4, drainTimeoutMs: 60_000 }, providers: [Slow] });
      shardNames.slice(0, 4).forEach((shard, index) => timelines[index].track(identity, candidate.leader, shard));
      return candidate;
    };
    const pods = [await start('pod-a'), await start('pod-b')];
    await expect.poll(() => spread(pods), { interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2 });
    await expect.poll(() => new Set(runs.map((run) => run.shard)).size).toBe(4);
    pods.push(await start('pod-c'));
    await cluster.logger.waitFor('log', 'stepping down');
    // The shard being handed over still runs its job: nobody may take it yet.
    await quietWindow(1_500);
    expect(pods[2].leader.shards()).toEqual([]);
    finish();
    await expect.poll(() => spread(pods), { timeout: 10_000, interval: 50 }).toEqual(expect.objectContaining({ 'pod-c': 1 }));
    const [moved] = pods[2].leader.shards();
    const index = shardNames.indexOf(moved);
    const before = runs.filter((run) => run.shard === moved && run.pod !== 'pod-c');
    const takenAt = timelines[index].intervals.find((interval) => interval.identity === 'pod-c')!.start;
    expect(before.length).toBeGreaterThan(0);
    for (const run of before) expect(run.end).toBeLessThanOrEqual(takenAt);
    assertNoOverlap();
  });

  it('a pod that starts after the rollout\'s requests were met does not take them for live ones: it gets its share at once', async () => {
    const pods = [await pod('pod-a'), await pod('pod-b'), await pod('pod-c')];
    await expect.poll(() => spread(pods), { interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
    // The rollout's requests stay on their Leases, met: their askers lead their share.
    await cluster.close(pods[0]); // graceful: its two shards are released at once
    const left = pods.slice(1);
    await expect.poll(() => spread(left), { timeout: 10_000, interval: 50 }).toEqual({ 'pod-b': 3, 'pod-c': 3 });
    const joinedAt = performance.now();
    left.push(await pod('pod-d'));
    await expect.poll(() => spread(left), { timeout: 5_000, interval: 50 }).toEqual({ 'pod-b': 2, 'pod-c': 2, 'pod-d': 2 });
    console.log(`pod-d had its share ${Math.round(performance.now() - joinedAt)} ms after it started`);
    assertNoOverlap();
  });

  it('a pod joining many shards short gets its share in several steps, each asked for at once (16 shards, 2 pods then 3)', async () => {
    const pods = [await pod('pod-a', {}, 16), await pod('pod-b', {}, 16)];
    await expect.poll(() => spread(pods), { interval: 50 }).toEqual({ 'pod-a': 8, 'pod-b': 8 });
    const joinedAt = performance.now();
    pods.push(await pod('pod-c', {}, 16));
    await expect.poll(() => pods.map((candidate) => candidate.leader.shards().length).sort(), { timeout: 5_000, interval: 50 }).toEqual([5, 5, 6]);
    console.log(`16 shards: pod-c had its share ${Math.round(performance.now() - joinedAt)} ms after it started`);
  });

  it('a killed pod\'s shards move to the others within one lease duration', async () => {
    const pods = [await pod('pod-a', { ...FAST, releaseOnShutdown: false }), await pod('pod-b', FAST), await pod('pod-c', FAST)];
    await expect.poll(() => spread(pods), { interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
    // Killed: it writes nothing more, and its Leases run out.
    await cluster.close(pods[0]);
    const killedAt = performance.now();
    const left = pods.slice(1);
    await expect.poll(() => spread(left), { timeout: 10_000, interval: 50 }).toEqual({ 'pod-b': 3, 'pod-c': 3 });
    console.log(`moved in ${Math.round(performance.now() - killedAt)} ms after the kill (lease ${FAST.leaseDurationMs} ms)`);
    expect(everyShardOnce(left)).toBe(true);
    assertNoOverlap();
  });

  it('a pin to a shard that does not exist stops the app at startup, naming the shards there are', async () => {
    @Injectable()
    class PinnedTooFar {
      @Cron('0 * * * * *', { name: 'far' }) @LeaderOnly({ shard: 6 }) far() {}
    }
    await expect(cluster.start({ identity: 'pod-a', module: { shards: SHARDS }, providers: [PinnedTooFar] })).rejects.toThrow(
      "PinnedTooFar.far is decorated with @LeaderOnly({ shard: 6 }), but election 'default' has 6 shards, numbered 0 to 5. Use one of those, or leave `shard` out to place the job by its key.",
    );
    @Injectable()
    class PinnedUnsplit {
      @Cron('0 * * * * *', { name: 'unsplit' }) @LeaderOnly({ shard: 0 }) unsplit() {}
    }
    await expect(cluster.start({ identity: 'pod-b', providers: [PinnedUnsplit] })).rejects.toThrow("but election 'default' is not split into shards");
  });

  it('asking who leads a split election is an error that names its shards; shards() says which this pod leads', async () => {
    const a = await pod('pod-a');
    await expect.poll(() => a.leader.shards()).toEqual(shardNames);
    expect(() => a.leader.isLeader()).toThrow("Election 'default' is split into 6 shards, each with its own leader: ask about one of them ('default-shard-0', 'default-shard-1', 'default-shard-2', ...), or use ClusterLeaderService.shards('default')");
    expect(a.leader.isLeader('default-shard-4')).toBe(true);
    expect(a.leader.elections()).toEqual(shardNames);
    expect(a.leader.health('default-shard-4')).toMatchObject({ healthy: true, election: 'default-shard-4' });
  });

  describe('each tick once per job across joins, handovers and a kill (runEach)', () => {
    const runs: { job: string; pod: string; scheduledAt: number; shard: string }[] = [];

    @Injectable()
    class Reports {
      constructor(private readonly leader: ClusterLeaderService) {}
      private record(job: string): void {
        const context = currentLeaderJob()!;
        runs.push({ job, pod: this.leader.identity, scheduledAt: context.scheduledAt!.getTime(), shard: context.election });
      }
      @Cron('* * * * * *', { name: 'report-0' }) @LeaderOnly({ missedRuns: 'runEach' }) r0() { this.record('report-0'); }
      @Cron('* * * * * *', { name: 'report-1' }) @LeaderOnly({ missedRuns: 'runEach' }) r1() { this.record('report-1'); }
      @Cron('* * * * * *', { name: 'report-2' }) @LeaderOnly({ missedRuns: 'runEach' }) r2() { this.record('report-2'); }
      @Cron('* * * * * *', { name: 'report-3' }) @LeaderOnly({ missedRuns: 'runEach' }) r3() { this.record('report-3'); }
      @Cron('* * * * * *', { name: 'report-4' }) @LeaderOnly({ missedRuns: 'runEach' }) r4() { this.record('report-4'); }
      @Cron('* * * * * *', { name: 'report-5' }) @LeaderOnly({ missedRuns: 'runEach' }) r5() { this.record('report-5'); }
      // Pinned: on shard 1 whatever its key hashes to.
      @Cron('* * * * * *', { name: 'pinned' }) @LeaderOnly({ missedRuns: 'runEach', shard: 1 }) pinned() { this.record('pinned'); }
    }

    it('no fire time runs twice and none is lost; each job runs in its shard, a pinned one in the shard it names', async () => {
      runs.length = 0;
      const start = (identity: string, lease: Partial<LeaseOptions> = FAST) =>
        cluster.start({ identity, lease, module: { shards: SHARDS }, providers: [Reports] }).then((candidate) => {
          shardNames.forEach((shard, index) => timelines[index].track(identity, candidate.leader, shard));
          return candidate;
        });
      const a = await start('pod-a', { ...FAST, releaseOnShutdown: false });
      const b = await start('pod-b');
      await expect.poll(() => spread([a, b]), { interval: 50 }).toEqual({ 'pod-a': 3, 'pod-b': 3 });
      const firstSecond = Math.ceil(Date.now() / 1000) * 1000 + 1000;
      await quietWindow(2_000);
      const c = await start('pod-c');
      await expect.poll(() => spread([a, b, c]), { interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
      await quietWindow(2_000);
      await cluster.close(a); // killed: its shards wait out their leases, then are caught up
      await expect.poll(() => spread([b, c]), { timeout: 10_000, interval: 50 }).toEqual({ 'pod-b': 3, 'pod-c': 3 });
      await quietWindow(2_000);
      const lastSecond = Math.floor(Date.now() / 1000) * 1000 - 2000;
      if (process.env.SHARDS_DEBUG) {
        for (const run of [...runs].sort((x, y) => x.scheduledAt - y.scheduledAt)) console.log(run.job, new Date(run.scheduledAt).toISOString(), run.pod, run.shard);
        for (const entry of cluster.logger.entries) if (/shard-1\b|asking/.test(entry.message)) console.log(entry.message);
      }
      const jobs = ['report-0', 'report-1', 'report-2', 'report-3', 'report-4', 'report-5', 'pinned'];
      // A tick claimed in the Lease whose run the killed pod never recorded is reported as
      // interrupted and, with interruptedRun 'skip', not run again (at most once): not lost.
      const interrupted = cluster.logger.messages('warn', 'whose leader stopped before recording').flatMap((line) => {
        const { job, fireTimes } = interruptedTicks(line)!;
        const name = job.replace(/^Reports\./, '');
        return fireTimes.map((time) => `${name === 'pinned' ? 'pinned' : `report-${name.slice(1)}`}@${time}`);
      });
      for (const job of jobs) {
        const times = runs.filter((run) => run.job === job).map((run) => run.scheduledAt);
        expect(times.length, `${job} ran a fire time twice`).toBe(new Set(times).size);
        for (let second = firstSecond; second <= lastSecond; second += 1000) {
          if (interrupted.includes(`${job}@${second}`)) continue;
          expect(times, `${job} lost ${new Date(second).toISOString()}`).toContain(second);
        }
        // Every run of a job in one shard, whichever pod led it.
        expect(new Set(runs.filter((run) => run.job === job).map((run) => run.shard)).size).toBe(1);
      }
      expect(new Set(runs.filter((run) => run.job === 'pinned').map((run) => run.shard))).toEqual(new Set(['default-shard-1']));
      // The jobs spread: more than one shard runs them, and every pod ran some.
      expect(new Set(runs.map((run) => run.shard)).size).toBeGreaterThan(2);
      expect(new Set(runs.map((run) => run.pod))).toEqual(new Set(['pod-a', 'pod-b', 'pod-c']));
      // jobs() says where each job runs: its shard and that shard's leader, alike on every pod.
      const described = b.leader.jobs().find((job) => job.key === 'pinned')!;
      expect(described).toMatchObject({ election: 'default-shard-1', shard: { election: 'default', index: 1, of: SHARDS, pinned: true } });
      expect(described.leader).toBe(c.leader.jobs().find((job) => job.key === 'pinned')!.leader);
      expect(['pod-b', 'pod-c']).toContain(described.leader);
      assertNoOverlap();
    });
  });
});
