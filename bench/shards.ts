import { Injectable, type Provider } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly } from '../lib/index.js';
import { KubeApiServer, type RequestEventInfo } from '../test/support/kube-apiserver/index.js';
import { LeadershipTimeline } from '../test/support/leadership-timeline.js';
import { benchLogger } from './bench-logger.js';
import { countOverlaps } from './churn-safety.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { sleep, summarize, waitUntil, type Summary } from './stats.js';

/**
 * Shards (issue 15): one election split over N Leases, P real Nest apps in this process, each with
 * the same `jobs` @Cron jobs (claimed, the default), every pod a candidate for every shard. Per
 * case: the time to settle after a rollout (pods started one after another, timed from the last
 * start), the Lease writes per minute in steady state (all Leases, and per shard), the spread of
 * shards and jobs over the pods, then `trials` times: the pod that leads the most is killed (started
 * with `releaseOnShutdown: false`, closed at a random point of its renew cycle: its Leases run out)
 * and the rest rebalance, then a new pod joins and takes its share. Settled means every shard led
 * by exactly one pod and every pod leading floor or ceil of N / P, as the pods themselves say.
 * Handovers ("stepping down") and requests ("asking") are counted per phase, and a quiet window
 * after every settle must add none: the balancing does not flap.
 */
export interface ShardsConfig {
  timings: LeaseTimings;
  cases: readonly { shards: number; pods: number }[];
  /** The jobs on every pod (job-0 .. job-<jobs-1>), placed on shards by the hash of their key. */
  jobs: number;
  cron: string;
  /** Kill-then-join trials per case. */
  trials: number;
  /** The steady-state window in which writes are counted (nothing may be handed over in it). */
  windowMs: number;
  /** After each rebalance: a window in which nothing more may be handed over or asked for. */
  quietMs: number;
}

/** Handovers and requests logged in one phase. */
export interface Moves {
  handovers: number;
  requests: number;
}

export interface ShardsFigure {
  shards: number;
  pods: number;
  /** From the last pod's start (its app created) until settled. */
  settleMs: number;
  /** From the first pod's start until settled. */
  rolloutMs: number;
  /** Steady state, per minute: every Lease write (PUT, POST, PATCH), and each shard Lease's. */
  writesPerMinute: { total: number; perShard: Summary };
  /** Renewals alone would be shards x 60 s / retryPeriod per minute. */
  renewalsPerMinute: number;
  /** Steady state, per minute, all pods: GETs and LISTs (a follower sends none), and watches opened. */
  readsPerMinute: number;
  watchesPerMinute: number;
  /** Once settled: shards and jobs per pod (a job runs on the pod that leads its shard). */
  balance: { shards: { most: number; fewest: number }; jobs: { most: number; fewest: number } };
  /** Jobs per shard, as the pods place them. */
  jobsPerShard: number[];
  /** Distinct jobs each pod ran in the steady-state window, most and fewest. */
  jobsRun: { most: number; fewest: number };
  /** From the kill of the pod leading the most until the rest hold floor/ceil of N / (P - 1). */
  killMs: Summary;
  /** How many shards the killed pod led, per trial. */
  killedLed: number[];
  /** From a new pod's start (P - 1 settled) until all P hold floor/ceil of N / P. */
  joinMs: Summary;
  moves: { rollout: Moves; steady: Moves; kill: Moves; join: Moves; quiet: Moves };
  /** Fire times of one job run more than once, over the whole case (must be 0). */
  ticksRunTwice: number;
  /** Pairs of overlapping leadership intervals on one shard, over the whole case (must be 0). */
  overlaps: number;
}

export interface ShardsResult {
  config: ShardsConfig;
  figures: ShardsFigure[];
}

interface Run {
  job: string;
  pod: string;
  scheduledAt: number;
}

const WRITES = new Set(['update', 'create', 'patch']);

/** The same `count` cron jobs on every pod, keyed job-0, job-1...: each records which pod ran which fire time. */
function jobsFor(pod: string, count: number, cron: string, runs: Run[]): Provider {
  class ShardBenchJobs {}
  for (let i = 0; i < count; i++) {
    const job = `job-${i}`;
    const descriptor: PropertyDescriptor = {
      value() {
        runs.push({ job, pod, scheduledAt: currentLeaderJob()!.scheduledAt!.getTime() });
      },
      writable: true,
      configurable: true,
    };
    const decorated = Reflect.decorate([Cron(cron, { name: job }), LeaderOnly()], ShardBenchJobs.prototype, job, descriptor) ?? descriptor;
    Object.defineProperty(ShardBenchJobs.prototype, job, decorated);
  }
  Injectable()(ShardBenchJobs);
  return ShardBenchJobs;
}

export async function measureShards(config: ShardsConfig): Promise<ShardsResult> {
  const figures: ShardsFigure[] = [];
  for (const { shards, pods } of config.cases) figures.push(await runCase(config, shards, pods));
  return { config, figures };
}

async function runCase(config: ShardsConfig, shards: number, podCount: number): Promise<ShardsFigure> {
  const { timings } = config;
  const server = await KubeApiServer.start();
  const base = `shards-${shards}-${podCount}`;
  const names = shards > 1 ? Array.from({ length: shards }, (_, i) => `default-shard-${i}`) : ['default'];
  const leaseNames = shards > 1 ? names.map((_, i) => `${base}-shard-${i}`) : [base];
  const timelines = names.map(() => new LeadershipTimeline());
  const runs: Run[] = [];
  const live: NestCandidate[] = [];
  const closing: Promise<void>[] = [];
  let serial = 0;

  // Lease writes per Lease, and reads, counted as they arrive.
  const writesByLease = new Map<string, number>();
  let reads = 0;
  let watches = 0;
  const onRequest = (info: RequestEventInfo) => {
    if (info.status === 0) return; // held by a fault: counted when answered
    if (info.verb === 'get' || info.verb === 'list') reads++;
    if (info.verb === 'watch') watches++;
    const lease = /\/leases\/([^/]+)$/.exec(info.path)?.[1];
    if (lease !== undefined && WRITES.has(info.verb)) writesByLease.set(lease, (writesByLease.get(lease) ?? 0) + 1);
  };
  server.on('request', onRequest);
  // Handovers and requests, as the pods log them.
  let moves: Moves = { handovers: 0, requests: 0 };
  const unlisten = benchLogger.listen((level, message) => {
    if (level !== 'log') return;
    if (message.includes('stepping down')) moves.handovers++;
    if (message.includes('; asking ')) moves.requests++;
  });
  const phase = (): Moves => {
    const ended = moves;
    moves = { handovers: 0, requests: 0 };
    return ended;
  };
  const add = (a: Moves, b: Moves): Moves => ({ handovers: a.handovers + b.handovers, requests: a.requests + b.requests });

  const spawn = async () => {
    const identity = `${base}-pod-${++serial}`;
    const candidate = await startLeaseCandidate({
      server,
      identity,
      leaseName: base,
      timings,
      releaseOnShutdown: false,
      ...(shards > 1 && { shards }),
      providers: [jobsFor(identity, config.jobs, config.cron, runs)],
    });
    names.forEach((name, i) => timelines[i].track(identity, candidate.leader, name));
    live.push(candidate);
    return candidate;
  };
  /** Every shard led by exactly one live pod, every live pod leading floor or ceil of N / P. */
  const settled = () => {
    const low = Math.floor(shards / live.length);
    const high = Math.ceil(shards / live.length);
    return (
      names.every((name) => live.filter((pod) => pod.leader.isLeader(name)).length === 1) &&
      live.every((pod) => {
        const led = pod.leader.shards().length;
        return led >= low && led <= high;
      })
    );
  };
  const untilSettled = (what: string) => waitUntil(settled, 120_000, `${shards} shards over ${live.length} pods to settle (${what})`, 10);
  /** A window in which nothing may be handed over or asked for; returns what was. */
  const quiet = async (ms: number) => {
    phase();
    await sleep(ms);
    if (!settled()) throw new Error(`${shards} shards over ${live.length} pods: no longer settled after a quiet window`);
    return phase();
  };

  try {
    // 1. Rollout: one pod after another, as a Deployment's rollout starts them.
    const firstStart = performance.now();
    let lastStart = firstStart;
    for (let i = 0; i < podCount; i++) {
      lastStart = performance.now();
      await spawn();
    }
    await untilSettled('rollout');
    const settledAt = performance.now();
    const rolloutMoves = phase();

    // 2. Steady state: writes per Lease, and nothing handed over.
    await sleep(timings.retryPeriodMs);
    phase();
    writesByLease.clear();
    reads = 0;
    watches = 0;
    const runsBefore = runs.length;
    const windowStart = performance.now();
    await sleep(config.windowMs);
    const elapsed = performance.now() - windowStart;
    const perMinute = (count: number) => (count * 60_000) / elapsed;
    const steadyMoves = phase();
    if (!settled()) throw new Error(`${shards} shards over ${podCount} pods: no longer settled after the steady-state window`);
    const perShard = leaseNames.map((lease) => perMinute(writesByLease.get(lease) ?? 0));
    const totalWrites = perMinute([...writesByLease.values()].reduce((sum, n) => sum + n, 0));
    const readsPerMinute = perMinute(reads);
    const watchesPerMinute = perMinute(watches);

    const jobs = live[0].leader.jobs();
    const jobsPerShard = names.map((name) => jobs.filter((job) => job.election === name).length);
    const shardCounts = live.map((pod) => pod.leader.shards().length);
    const jobCounts = live.map((pod) => names.reduce((sum, name, i) => sum + (pod.leader.isLeader(name) ? jobsPerShard[i] : 0), 0));
    const ranInWindow = live.map((pod) => new Set(runs.slice(runsBefore).filter((run) => run.pod === pod.identity).map((run) => run.job)).size);

    // 3. Trials: the pod that leads the most is killed, the rest take its shards; then a new pod joins.
    const killMs: number[] = [];
    const killedLed: number[] = [];
    const joinMs: number[] = [];
    let killMoves: Moves = { handovers: 0, requests: 0 };
    let joinMoves: Moves = { handovers: 0, requests: 0 };
    let quietMoves: Moves = { handovers: 0, requests: 0 };
    for (let trial = 0; trial < config.trials; trial++) {
      // A random point of the renew cycle: a crash can land anywhere in it.
      await sleep(timings.retryPeriodMs * Math.random());
      const victim = live.reduce((most, pod) => (pod.leader.shards().length > most.leader.shards().length ? pod : most));
      killedLed.push(victim.leader.shards().length);
      phase();
      const killedAt = performance.now();
      live.splice(live.indexOf(victim), 1);
      closing.push(closeCandidate(victim));
      await untilSettled('after a kill');
      killMs.push(performance.now() - killedAt);
      killMoves = add(killMoves, phase());
      quietMoves = add(quietMoves, await quiet(config.quietMs));

      const joinedAt = performance.now();
      await spawn();
      await untilSettled('after a join');
      joinMs.push(performance.now() - joinedAt);
      joinMoves = add(joinMoves, phase());
      quietMoves = add(quietMoves, await quiet(config.quietMs));
    }

    const perTick = new Map<string, number>();
    for (const run of runs) perTick.set(`${run.job}@${run.scheduledAt}`, (perTick.get(`${run.job}@${run.scheduledAt}`) ?? 0) + 1);
    return {
      shards,
      pods: podCount,
      settleMs: settledAt - lastStart,
      rolloutMs: settledAt - firstStart,
      writesPerMinute: { total: totalWrites, perShard: summarize(perShard) },
      renewalsPerMinute: (shards * 60_000) / timings.retryPeriodMs,
      readsPerMinute,
      watchesPerMinute,
      balance: {
        shards: { most: Math.max(...shardCounts), fewest: Math.min(...shardCounts) },
        jobs: { most: Math.max(...jobCounts), fewest: Math.min(...jobCounts) },
      },
      jobsPerShard,
      jobsRun: { most: Math.max(...ranInWindow), fewest: Math.min(...ranInWindow) },
      killMs: summarize(killMs),
      killedLed,
      joinMs: summarize(joinMs),
      moves: { rollout: rolloutMoves, steady: steadyMoves, kill: killMoves, join: joinMoves, quiet: quietMoves },
      ticksRunTwice: [...perTick.values()].filter((n) => n > 1).length,
      overlaps: timelines.reduce((sum, timeline) => sum + countOverlaps(timeline.intervals), 0),
    };
  } finally {
    unlisten();
    await Promise.all([...live.map((pod) => closeCandidate(pod)), ...closing]);
    for (const timeline of timelines) timeline.stop();
    server.off('request', onRequest);
    await server.close();
  }
}
