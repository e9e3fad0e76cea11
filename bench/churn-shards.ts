import { Injectable, type Provider } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly } from '../lib/index.js';
import { LEDGER_ANNOTATION } from '../lib/ledger/ledger-record.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { interruptedTicks } from '../test/support/interrupted-ticks.js';
import { LeadershipTimeline } from '../test/support/leadership-timeline.js';
import { benchLogger } from './bench-logger.js';
import { CHURN_ACTIONS, countOverlaps, measureChurn, type ChurnAction, type ChurnConfig, type ChurnResult } from './churn-safety.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { sleep, summarize, waitUntil, type Summary } from './stats.js';

/** The churn bench's sharded variant: the same faults, on pods that each lead some shards. */
export interface ShardedChurnConfig {
  timings: LeaseTimings;
  candidates: number;
  durationMs: number;
  shards: number;
  /** Per-second cron jobs with claims and `missedRuns: 'runEach'` (tick0 .. tick<jobs-1>). */
  jobs: number;
  /** The faults to cycle through. @default CHURN_ACTIONS */
  actions?: readonly ChurnAction[];
}

export interface ShardedChurnJob {
  job: string;
  /** The shard its key hashes to. */
  shard: string;
  runs: number;
  catchUpRuns: number;
  ticksRunTwice: number;
  /** Fire times in the window nobody ran, and of them those a new leader reported interrupted. */
  ticksRunByNobody: number;
  reportedInterrupted: number;
  missedSeconds: number[];
}

export interface ShardedChurnResult {
  config: ShardedChurnConfig;
  actions: Record<ChurnAction, number>;
  seconds: number;
  jobs: ShardedChurnJob[];
  /** Per shard: leadership changes seen, and pairs of overlapping leadership intervals (must be 0). */
  shards: { shard: string; failovers: number; overlaps: number }[];
  /** Handovers ("stepping down") and requests ("asking") the balancing logged over the run. */
  handovers: number;
  requests: number;
  /** From each fault until every shard the victim led (every shard, for API-wide faults) was led again. */
  recoveryMs: Record<ChurnAction, Summary>;
  timeline: { second: number; action: ChurnAction; victim: string; led: string[] }[];
}

interface Run {
  job: string;
  second: number;
  process: string;
  shard: string;
  catchUp: boolean;
}

/** Per-second cron jobs tick0..tick<count-1>, each claimed and caught up; each run says which process ran which fire time. */
function jobsFor(process: string, count: number, runs: Run[]): Provider {
  class ShardedChurnJobs {}
  for (let i = 0; i < count; i++) {
    const job = `tick${i}`;
    const descriptor: PropertyDescriptor = {
      value() {
        const context = currentLeaderJob()!;
        runs.push({ job, second: Math.floor(context.scheduledAt!.getTime() / 1000), process, shard: context.election, catchUp: context.catchUp });
      },
      writable: true,
      configurable: true,
    };
    const decorators = [Cron('* * * * * *', { name: job }), LeaderOnly({ missedRuns: 'runEach', maxMissedRuns: 60 })];
    Object.defineProperty(ShardedChurnJobs.prototype, job, Reflect.decorate(decorators, ShardedChurnJobs.prototype, job, descriptor) ?? descriptor);
  }
  Injectable()(ShardedChurnJobs);
  return ShardedChurnJobs;
}

/** The churn bench as configured, then, with `sharded`, its sharded variant with the same timings, pods and duration. */
export async function measureChurnWithShards(config: ChurnConfig): Promise<ChurnResult> {
  const result = await measureChurn(config);
  if (config.sharded === undefined) return result;
  const { timings, candidates, durationMs, actions } = config;
  const sharded = await measureShardedChurn({ timings, candidates, durationMs, ...(actions && { actions }), ...config.sharded });
  return { ...result, sharded };
}

/**
 * churn-safety.ts's faults, in the same order, on `candidates` Nest apps whose default election is
 * split into `shards`. Where the unsharded bench hits "the leader", this one hits the pod that leads
 * the most shards (the victim), and waits, where that one waits for a new leader, until every shard
 * the victim led is led by another process. The Lease edits (delete, leaseDurationSeconds removed,
 * ledger stripped, labels churned) hit the victim's shard Leases: delete and duration-removed the
 * first of them (as the unsharded bench edits its one Lease), the others all of them. A closed pod
 * is replaced under a new identity, which then takes its share from the others (handovers).
 */
export async function measureShardedChurn(config: ShardedChurnConfig): Promise<ShardedChurnResult> {
  const server = await KubeApiServer.start();
  const names = Array.from({ length: config.shards }, (_, i) => `default-shard-${i}`);
  const leaseOf = (shard: string) => `churn-shard-${shard.slice('default-shard-'.length)}`;
  const timelines = names.map(() => new LeadershipTimeline());
  const runs: Run[] = [];
  const interrupted = new Set<string>();
  let handovers = 0;
  let requests = 0;
  const unlisten = benchLogger.listen((level, message) => {
    if (level === 'log' && message.includes('stepping down')) handovers++;
    if (level === 'log' && message.includes('; asking ')) requests++;
    const reported = interruptedTicks(message);
    if (reported) for (const fireTime of reported.fireTimes) interrupted.add(`${reported.job.replace(/^ShardedChurnJobs\./, '')}@${Math.floor(fireTime / 1000)}`);
  });
  const faultLog: ShardedChurnResult['timeline'] = [];
  const live: NestCandidate[] = [];
  const closing: Promise<void>[] = [];
  const actions = Object.fromEntries(CHURN_ACTIONS.map((a) => [a, 0])) as Record<ChurnAction, number>;
  const recovery = Object.fromEntries(CHURN_ACTIONS.map((a) => [a, [] as number[]])) as Record<ChurnAction, number[]>;
  let serial = 0;
  const spawn = async (identity = `churn-${serial + 1}`) => {
    const user = `process-${++serial}`;
    const candidate = await startLeaseCandidate({
      server,
      identity,
      user,
      leaseName: 'churn',
      timings: config.timings,
      shards: config.shards,
      providers: [jobsFor(user, config.jobs, runs)],
    });
    names.forEach((name, i) => timelines[i].track(user, candidate.leader, name));
    live.push(candidate);
    return candidate;
  };
  const retire = (candidate: NestCandidate) => {
    live.splice(live.indexOf(candidate), 1);
    closing.push(closeCandidate(candidate));
  };
  /** Every shard led by a live process, and the one that leads the most. */
  const victimNow = async () => {
    await waitUntil(() => names.every((name) => live.some((c) => c.leader.isLeader(name))), 30_000, 'every shard to be led', 20);
    return live.reduce((most, c) => (c.leader.shards().length > most.leader.shards().length ? c : most));
  };
  /** Every shard `led` names is led by a live process other than `victim`. */
  const movedFrom = (victim: NestCandidate, led: string[]) =>
    waitUntil(() => led.every((name) => live.some((c) => c !== victim && c.leader.isLeader(name))), 30_000, `the shards of ${victim.user} to move`, 20);
  const editWhileCutOff = async (victim: NestCandidate, led: string[], edit: () => void) => {
    server.faults.partition(victim.user, true);
    edit();
    await movedFrom(victim, led);
    server.faults.partition(victim.user, false);
  };

  let startSecond = 0;
  let endSecond = 0;
  const jobNames = Array.from({ length: config.jobs }, (_, i) => `tick${i}`);
  try {
    for (let i = 0; i < config.candidates; i++) await spawn();
    await victimNow();
    // Until every job has run once, there is no ledger entry to catch up from.
    while (!jobNames.every((job) => runs.some((run) => run.job === job))) await sleep(50);
    startSecond = Math.floor(Date.now() / 1000) + 1;
    const deadline = performance.now() + config.durationMs;
    const cycle = config.actions ?? CHURN_ACTIONS;
    for (let step = 0; performance.now() < deadline; step++) {
      const action = cycle[step % cycle.length]!;
      const victim = await victimNow();
      const led = victim.leader.shards();
      actions[action]++;
      faultLog.push({ second: Math.floor(Date.now() / 1000), action, victim: victim.user, led });
      const actedAt = performance.now();
      switch (action) {
        case 'crash':
          server.faults.partition(victim.user, true);
          retire(victim);
          await spawn();
          await movedFrom(victim, led);
          break;
        case 'graceful':
          retire(victim);
          await spawn();
          await movedFrom(victim, led);
          break;
        case 'partition':
          server.faults.partition(victim.user, true);
          await movedFrom(victim, led);
          await sleep(1_000);
          server.faults.partition(victim.user, false);
          break;
        case 'outage':
          server.faults.outage = true;
          await sleep(1_000 + Math.random() * 5_000);
          server.faults.outage = false;
          await victimNow();
          break;
        case 'twin':
          server.faults.partition(victim.user, true);
          await spawn(victim.identity);
          await movedFrom(victim, led);
          server.faults.partition(victim.user, false);
          await sleep(1_000);
          retire(victim);
          break;
        case 'delete':
          await editWhileCutOff(victim, led, () => server.deleteLease('default', leaseOf(led[0]!)));
          break;
        case 'duration-removed':
          await editWhileCutOff(victim, led, () => {
            const lease = server.getLease('default', leaseOf(led[0]!));
            if (!lease) return;
            const { leaseDurationSeconds: _removed, ...spec } = lease.spec;
            server.putLease('default', { ...lease, spec });
          });
          break;
        case 'metadata-churn': {
          const churner = setInterval(() => {
            for (const shard of led) {
              const lease = server.getLease('default', leaseOf(shard));
              if (lease) server.putLease('default', { ...lease, metadata: { ...lease.metadata, labels: { synced: String(Date.now()) } } });
            }
          }, 100);
          try {
            server.faults.partition(victim.user, true);
            retire(victim);
            await spawn();
            await movedFrom(victim, led);
          } finally {
            clearInterval(churner);
          }
          break;
        }
        case 'slow-api':
          server.faults.latencyMs = 1_200;
          await sleep(3_000 + Math.random() * 2_000);
          server.faults.latencyMs = 0;
          await victimNow();
          break;
        case 'retry-after':
          server.faults.failNext(2, 429, { retryAfterSeconds: 2, when: (request) => request.user === victim.user });
          await sleep(4_000);
          await victimNow();
          break;
        case 'ledger-stripped':
          for (const shard of led) {
            const lease = server.getLease('default', leaseOf(shard));
            if (!lease) continue;
            const { [LEDGER_ANNOTATION]: _stripped, ...annotations } = lease.metadata.annotations ?? {};
            server.putLease('default', { ...lease, metadata: { ...lease.metadata, annotations } });
          }
          server.faults.partition(victim.user, true);
          retire(victim);
          await spawn();
          await movedFrom(victim, led);
          break;
        case 'lost-answer-graceful': {
          const writesBefore = server.counts(victim.user).update;
          server.faults.loseAnswers(1, victim.user);
          while (server.counts(victim.user).update === writesBefore) await sleep(20);
          retire(victim);
          await spawn();
          await movedFrom(victim, led);
          break;
        }
      }
      recovery[action].push(performance.now() - actedAt);
      await sleep(1_000 + Math.random() * 1_000);
    }
    endSecond = Math.floor(Date.now() / 1000) - 1;
  } finally {
    unlisten();
    await Promise.all([...live.map((c) => closeCandidate(c)), ...closing]);
    for (const timeline of timelines) timeline.stop();
    await server.close();
  }

  const seconds = endSecond - startSecond + 1;
  const shardOf = new Map<string, string>();
  for (const run of runs) shardOf.set(run.job, run.shard);
  const jobs = jobNames.map((job): ShardedChurnJob => {
    const mine = runs.filter((run) => run.job === job && run.second >= startSecond && run.second <= endSecond);
    const perTick = new Map<number, number>();
    for (const run of mine) perTick.set(run.second, (perTick.get(run.second) ?? 0) + 1);
    const missedSeconds = Array.from({ length: seconds }, (_, i) => startSecond + i).filter((second) => !perTick.has(second));
    return {
      job,
      shard: shardOf.get(job) ?? '?',
      runs: mine.length,
      catchUpRuns: mine.filter((run) => run.catchUp).length,
      ticksRunTwice: [...perTick.values()].filter((n) => n > 1).length,
      ticksRunByNobody: missedSeconds.length,
      reportedInterrupted: missedSeconds.filter((second) => interrupted.has(`${job}@${second}`)).length,
      missedSeconds,
    };
  });
  return {
    config,
    actions,
    seconds,
    jobs,
    shards: names.map((shard, i) => ({ shard, failovers: Math.max(0, timelines[i].intervals.length - 1), overlaps: countOverlaps(timelines[i].intervals) })),
    handovers,
    requests,
    recoveryMs: Object.fromEntries(Object.entries(recovery).map(([k, v]) => [k, summarize(v)])) as Record<ChurnAction, Summary>,
    timeline: faultLog,
  };
}
