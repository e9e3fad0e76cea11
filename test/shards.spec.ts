import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LeaseOptions } from '../lib/index.js';
import { LeaseCandidates, type LeaseCandidate } from './support/lease-candidates.js';
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
    assertNoOverlap();
  });

  it('a pod joining two that lead 3 each takes its share within seconds, handed over after the runs end', async () => {
    const pods = [await pod('pod-a'), await pod('pod-b')];
    await expect.poll(() => spread(pods), { interval: 50 }).toEqual({ 'pod-a': 3, 'pod-b': 3 });
    const joinedAt = performance.now();
    pods.push(await pod('pod-c'));
    await expect.poll(() => spread(pods), { timeout: 10_000, interval: 50 }).toEqual({ 'pod-a': 2, 'pod-b': 2, 'pod-c': 2 });
    console.log(cluster.logger.messages("log", "shard").join("\n"));
    console.log(`rebalanced in ${Math.round(performance.now() - joinedAt)} ms after the third pod joined`);
    expect(everyShardOnce(pods)).toBe(true);
    assertNoOverlap();
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
});
