import { Inject, Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { ClusterLeaderService, currentLeaderJob, LeaderOnly } from '../lib/index.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { LeadershipTimeline, type LeadershipInterval } from '../test/support/leadership-timeline.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { sleep, summarize, type Summary } from './stats.js';

export interface ChurnConfig {
  timings: LeaseTimings;
  candidates: number;
  durationMs: number;
}

export type ChurnAction = 'crash' | 'graceful' | 'partition' | 'outage';

export interface ChurnResult {
  config: ChurnConfig;
  actions: Record<ChurnAction, number>;
  /** Leadership changes seen (a new interval starting after another). */
  failovers: number;
  /** Seconds of the churn window, and how many had the job run by two candidates / by none. */
  seconds: number;
  doubleRunSeconds: number;
  idleSeconds: number;
  runs: number;
  /** Pairs of leadership intervals that overlapped (must be 0). */
  overlaps: number;
  /** Runs whose term (fencing token) was lower than an earlier run's (must be 0). */
  termRegressions: number;
  /** From each action until a leader (a new one, for crash/graceful/partition) ran the show again. */
  recoveryMs: Record<ChurnAction, Summary>;
}

interface Run {
  second: number;
  identity: string;
  term: number | null;
}

const RUNS = Symbol('churn-runs');

/** Every candidate's job: a cron tick each second that records who ran it, when, under which term. */
@Injectable()
class ChurnJob {
  constructor(
    private readonly leader: ClusterLeaderService,
    @Inject(RUNS) private readonly runs: Run[],
  ) {}

  @Cron('* * * * * *')
  @LeaderOnly()
  tick(): void {
    this.runs.push({ second: Math.floor(Date.now() / 1000), identity: this.leader.identity, term: currentLeaderJob()?.term ?? null });
  }
}

/**
 * Candidates with a per-second @LeaderOnly() cron job, put through failover after failover: the
 * leader crashes (cut off, then closed: it never writes again), shuts down gracefully, is cut off
 * from the API and later healed, or the whole API goes down for 1-6 s. A closed candidate is
 * replaced under a new identity, so there are always `candidates` of them. Counted: seconds in
 * which two candidates ran the job, seconds nobody did, overlapping leadership intervals.
 */
export async function measureChurn(config: ChurnConfig): Promise<ChurnResult> {
  const server = await KubeApiServer.start();
  const timeline = new LeadershipTimeline();
  const runs: Run[] = [];
  const live: NestCandidate[] = [];
  const closing: Promise<void>[] = [];
  const actions: Record<ChurnAction, number> = { crash: 0, graceful: 0, partition: 0, outage: 0 };
  const recovery: Record<ChurnAction, number[]> = { crash: [], graceful: [], partition: [], outage: [] };
  let serial = 0;

  const spawn = async () => {
    const candidate = await startLeaseCandidate({
      server,
      identity: `churn-${++serial}`,
      leaseName: 'churn',
      timings: config.timings,
      providers: [ChurnJob, { provide: RUNS, useValue: runs }],
    });
    timeline.track(candidate.identity, candidate.leader);
    live.push(candidate);
  };
  const retire = (candidate: NestCandidate) => {
    live.splice(live.indexOf(candidate), 1);
    // A crashed leader's close waits for its held requests to time out; the churn goes on meanwhile.
    closing.push(closeCandidate(candidate));
  };
  const leaderNow = async () => {
    await timeline.until(() => timeline.current() !== undefined, AbortSignal.timeout(30_000));
    return live.find((c) => c.identity === timeline.current())!;
  };

  let startSecond = 0;
  let endSecond = 0;
  try {
    for (let i = 0; i < config.candidates; i++) await spawn();
    await leaderNow();
    startSecond = Math.floor(Date.now() / 1000) + 1;
    const deadline = performance.now() + config.durationMs;
    const cycle: ChurnAction[] = ['crash', 'graceful', 'partition', 'outage'];
    for (let step = 0; performance.now() < deadline; step++) {
      const action = cycle[step % cycle.length];
      const leader = await leaderNow();
      actions[action]++;
      const actedAt = performance.now();
      switch (action) {
        case 'crash':
          server.faults.partition(leader.user, true);
          retire(leader);
          await spawn();
          await timeline.nextLeader(leader.identity);
          break;
        case 'graceful':
          retire(leader);
          await spawn();
          await timeline.nextLeader(leader.identity);
          break;
        case 'partition':
          server.faults.partition(leader.user, true);
          await timeline.nextLeader(leader.identity);
          await sleep(1_000);
          server.faults.partition(leader.user, false);
          break;
        case 'outage': {
          server.faults.outage = true;
          // Shorter than the renew deadline, the leader survives it; longer, nobody can lead.
          await sleep(1_000 + Math.random() * 5_000);
          server.faults.outage = false;
          await leaderNow();
          break;
        }
      }
      recovery[action].push(timeline.intervals.at(-1)!.start - actedAt);
      // Steady state between failovers: the job runs a few times under the new leader.
      await sleep(1_000 + Math.random() * 1_000);
    }
    endSecond = Math.floor(Date.now() / 1000) - 1;
  } finally {
    await Promise.all([...live.map((c) => closeCandidate(c)), ...closing]);
    timeline.stop();
    await server.close();
  }

  const bySecond = new Map<number, Set<string>>();
  for (const run of runs) {
    if (run.second < startSecond || run.second > endSecond) continue;
    if (!bySecond.has(run.second)) bySecond.set(run.second, new Set());
    bySecond.get(run.second)!.add(run.identity);
  }
  const seconds = endSecond - startSecond + 1;
  let termRegressions = 0;
  for (let i = 1; i < runs.length; i++) if ((runs[i].term ?? 0) < (runs[i - 1].term ?? 0)) termRegressions++;
  return {
    config,
    actions,
    failovers: timeline.intervals.length - 1,
    seconds,
    doubleRunSeconds: [...bySecond.values()].filter((who) => who.size > 1).length,
    idleSeconds: seconds - bySecond.size,
    runs: runs.length,
    overlaps: countOverlaps(timeline.intervals),
    termRegressions,
    recoveryMs: Object.fromEntries(Object.entries(recovery).map(([k, v]) => [k, summarize(v)])) as Record<ChurnAction, Summary>,
  };
}

/** Intervals that start before an earlier-starting one has ended (an open one never ends). */
function countOverlaps(intervals: LeadershipInterval[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let overlaps = 0;
  let latestEnd = -Infinity;
  for (const interval of sorted) {
    if (interval.start < latestEnd) overlaps++;
    latestEnd = Math.max(latestEnd, interval.end ?? Infinity);
  }
  return overlaps;
}
