import { Injectable, type Provider } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { LeaderOnly } from '../lib/index.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { summarize, waitUntil, type Summary } from './stats.js';

/**
 * What steering jobs costs (issue 14): the Lease writes (and reads) of each control action, asked
 * from a follower with a leader and a second follower watching, counted per pod at the API server
 * from the call until every pod saw the outcome; and what `jobs()` costs a pod with `jobs` jobs
 * (time per call, bytes allocated per call).
 */
export interface ControlCostConfig {
  timings: LeaseTimings;
  /** How many jobs the app has, for jobs(). */
  jobs: number;
  /** jobs() calls per trial, and trials. */
  calls: number;
  trials: number;
}

export interface ControlActionCost {
  action: string;
  /** Lease writes (update/create) and reads (get) by each role, for one action. */
  writes: { asker: number; leader: number; other: number };
  reads: { asker: number; leader: number; other: number };
  /** From the call until it resolved, ms. */
  ms: number;
}

export interface ControlCostResult {
  config: ControlCostConfig;
  actions: ControlActionCost[];
  /** jobs() on a follower: µs per call, and bytes allocated per call. */
  jobsCall: { microseconds: Summary; bytes: Summary };
}

function jobsFor(count: number): Provider[] {
  return Array.from({ length: count }, (_, index) => {
    @Injectable()
    class Job {
      @Cron('0 0 0 1 1 *', { name: `job-${index}` }) // never fires during the bench
      @LeaderOnly({ missedRuns: 'runEach' })
      run(): void {}
    }
    return Job;
  });
}

export async function measureControlCost(config: ControlCostConfig): Promise<ControlCostResult> {
  const server = await KubeApiServer.start();
  const candidates: NestCandidate[] = [];
  try {
    const providers = jobsFor(config.jobs);
    for (const identity of ['control-a', 'control-b', 'control-c']) {
      candidates.push(await startLeaseCandidate({ server, identity, leaseName: 'control-cost', timings: config.timings, providers }));
    }
    const [leader, asker, other] = candidates as [NestCandidate, NestCandidate, NestCandidate];
    await waitUntil(() => leader.leader.isLeader() && asker.leader.leader() === leader.identity && other.leader.leader() === leader.identity, 30_000, 'the first candidate to lead', 20);
    const actions: ControlActionCost[] = [];
    const measure = async (action: string, call: () => Promise<unknown>, seenByAll: () => boolean) => {
      server.resetCounts();
      const started = performance.now();
      await call();
      const ms = performance.now() - started;
      await waitUntil(seenByAll, 10_000, `every pod to see ${action}`, 5);
      const count = (user: string, verb: 'update' | 'get') => server.counts(user)[verb] + (verb === 'update' ? server.counts(user).create : 0);
      actions.push({
        action,
        ms,
        writes: { asker: count(asker.user, 'update'), leader: count(leader.user, 'update'), other: count(other.user, 'update') },
        reads: { asker: count(asker.user, 'get'), leader: count(leader.user, 'get'), other: count(other.user, 'get') },
      });
    };
    const pausedEverywhere = (paused: boolean) => () => candidates.every((c) => (c.leader.jobs().find((job) => job.key === 'job-0')?.paused !== null) === paused);
    await measure('pause (from a follower)', () => asker.leader.pause('job-0', { note: 'bench' }), pausedEverywhere(true));
    await measure('resume (from a follower)', () => asker.leader.resume('job-0'), pausedEverywhere(false));
    const ranEverywhere = (count: number) => () => candidates.every((c) => (c.leader.jobs().find((job) => job.key === 'job-1')?.lastRuns.length ?? 0) >= count);
    await measure('run now (from a follower)', () => asker.leader.runNow('job-1'), ranEverywhere(1));
    await measure('backfill of 5 fire times (from a follower)', () => asker.leader.backfill('job-1', { from: '2026-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' }), ranEverywhere(2));

    // jobs() on a follower: time and allocation per call.
    const microseconds: number[] = [];
    const bytes: number[] = [];
    for (let trial = 0; trial < config.trials; trial++) {
      globalThis.gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const started = performance.now();
      for (let i = 0; i < config.calls; i++) other.leader.jobs();
      const elapsed = performance.now() - started;
      const heapAfter = process.memoryUsage().heapUsed;
      microseconds.push((elapsed * 1000) / config.calls);
      bytes.push(Math.max(0, heapAfter - heapBefore) / config.calls);
    }
    return { config, actions, jobsCall: { microseconds: summarize(microseconds), bytes: summarize(bytes) } };
  } finally {
    await Promise.all(candidates.map((candidate) => closeCandidate(candidate)));
    await server.close();
  }
}
