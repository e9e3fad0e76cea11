import { Inject, Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly } from '../lib/index.js';
import { LEDGER_ANNOTATION } from '../lib/ledger/ledger-record.js';
import { interruptedTicks } from '../test/support/interrupted-ticks.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { LeadershipTimeline, type LeadershipInterval } from '../test/support/leadership-timeline.js';
import { benchLogger } from './bench-logger.js';
import type { ShardedChurnResult } from './churn-shards.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { sleep, summarize, type Summary } from './stats.js';

export interface ChurnConfig {
  timings: LeaseTimings;
  candidates: number;
  durationMs: number;
  /** The faults to cycle through. @default CHURN_ACTIONS */
  actions?: readonly ChurnAction[];
  /**
   * Then the same faults for as long again on pods whose election is split into `shards`, each
   * with `jobs` per-second claimed jobs (churn-shards.ts): its own result, `sharded`.
   */
  sharded?: { shards: number; jobs: number };
}

export type ChurnAction =
  | 'crash'
  | 'graceful'
  | 'partition'
  | 'outage'
  /** A second process with the leader's identity starts while the leader is cut off. */
  | 'twin'
  /** The Lease is deleted while the leader is cut off. */
  | 'delete'
  /** leaseDurationSeconds is removed from the Lease while the leader is cut off. */
  | 'duration-removed'
  /** The leader dies while something keeps writing labels on its Lease. */
  | 'metadata-churn'
  /** A renew is applied but its answer lost, then the leader shuts down gracefully. */
  | 'lost-answer-graceful'
  /** Every request takes longer than the job's period for a few seconds (claims queue behind writes). */
  | 'slow-api'
  /** The leader's next writes get 429 with Retry-After: 2 (API Priority and Fairness). */
  | 'retry-after'
  /** The ledger annotation is stripped from the Lease, as `kubectl annotate ... ledger-` does. */
  | 'ledger-stripped';

export const CHURN_ACTIONS: readonly ChurnAction[] = [
  'crash', 'graceful', 'partition', 'outage', 'twin', 'delete', 'duration-removed', 'metadata-churn', 'lost-answer-graceful',
  'slow-api', 'retry-after', 'ledger-stripped',
];

export interface ChurnResult {
  config: ChurnConfig;
  actions: Record<ChurnAction, number>;
  /** Leadership changes seen (a new interval starting after another). */
  failovers: number;
  /**
   * Seconds of the churn window, and for the job without claims (`claim: false`, the behaviour of
   * every leader election): how many had it run by two candidates / by none.
   */
  seconds: number;
  doubleRunSeconds: number;
  idleSeconds: number;
  runs: number;
  /**
   * The same per-second cron with claims and `missedRuns: 'runEach'`: ticks (scheduled fire
   * times in the window) run more than once, run by nobody, and runs that were catch-ups.
   */
  claimed: {
    runs: number;
    ticksRunTwice: number;
    ticksRunByNobody: number;
    catchUpRuns: number;
    missedSeconds: number[];
    interruptedSeconds: number[];
    /** Each tick run more than once: who ran it, in which term, and whether as a catch-up (for the JSON). */
    twice: { second: number; runs: { process: string; term: number | null; catchUp: boolean; at: number }[] }[];
  };
  /** When (epoch second) each fault was forced, for reading the missed ticks against. */
  timeline: { second: number; action: ChurnAction }[];
  /** Each claimed run writes (tick, fencing token) to a store that rejects a token lower than one it has seen. */
  fencedWrites: { accepted: number; staleRejected: number };
  /** Pairs of leadership intervals that overlapped (must be 0). */
  overlaps: number;
  /** Runs whose term (fencing token) was lower than an earlier run's (must be 0). */
  termRegressions: number;
  /** From each action until a leader (a new one, for crash/graceful/partition) ran the show again. */
  recoveryMs: Record<ChurnAction, Summary>;
  /** The sharded variant, when configured. */
  sharded?: ShardedChurnResult;
}

interface Run {
  second: number;
  /** When it started (epoch ms). */
  at: number;
  /** The process that ran it (two processes may share one identity). */
  process: string;
  term: number | null;
  claimed: boolean;
  catchUp: boolean;
}

/** A store that fences: it rejects a write whose token is lower than the highest it has seen. */
class FencedStore {
  private highest = -1n;
  accepted = 0;
  staleRejected = 0;

  write(token: string | null): void {
    const value = token === null ? -1n : BigInt(token);
    if (value < this.highest) {
      this.staleRejected++;
      return;
    }
    this.highest = value;
    this.accepted++;
  }
}

const RUNS = Symbol('churn-runs');
const PROCESS = Symbol('churn-process');
const STORE = Symbol('churn-store');

/** Every candidate's job: a cron tick each second that records which process ran it, when, under which term. */
@Injectable()
class ChurnJob {
  constructor(
    @Inject(PROCESS) private readonly process: string,
    @Inject(RUNS) private readonly runs: Run[],
    @Inject(STORE) private readonly store: FencedStore,
  ) {}

  /** What every leader election gives: each leader runs what its own clock says is due. */
  @Cron('* * * * * *')
  @LeaderOnly({ claim: false })
  tick(): void {
    this.runs.push({ second: Math.floor(Date.now() / 1000), at: Date.now(), process: this.process, term: currentLeaderJob()?.term ?? null, claimed: false, catchUp: false });
  }

  /** Each tick claimed in the Lease, and every missed one caught up. */
  @Cron('* * * * * *')
  @LeaderOnly({ missedRuns: 'runEach', maxMissedRuns: 60 })
  claimedTick(): void {
    const job = currentLeaderJob()!;
    this.store.write(job.fencingToken);
    this.runs.push({ second: Math.floor(job.scheduledAt!.getTime() / 1000), at: Date.now(), process: this.process, term: job.term, claimed: true, catchUp: job.catchUp });
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
  const store = new FencedStore();
  // Fire times a new leader reported as claimed by a leader that died before recording how they
  // ended: with the default interruptedRun 'skip' they are not run again (at most once).
  const interrupted = new Set<number>();
  const unlisten = benchLogger.listen((_level, message) => {
    const reported = interruptedTicks(message);
    if (reported?.job.endsWith('.claimedTick')) for (const fireTime of reported.fireTimes) interrupted.add(Math.floor(fireTime / 1000));
  });
  const faultLog: { second: number; action: ChurnAction }[] = [];
  const live: NestCandidate[] = [];
  const closing: Promise<void>[] = [];
  const actions = Object.fromEntries(CHURN_ACTIONS.map((a) => [a, 0])) as Record<ChurnAction, number>;
  const recovery = Object.fromEntries(CHURN_ACTIONS.map((a) => [a, [] as number[]])) as Record<ChurnAction, number[]>;
  let serial = 0;
  /** Each process is tracked under its API user, unique even where identities repeat. */
  const spawn = async (identity = `churn-${serial + 1}`) => {
    const user = `process-${++serial}`;
    const candidate = await startLeaseCandidate({
      server,
      identity,
      user,
      leaseName: 'churn',
      timings: config.timings,
      providers: [ChurnJob, { provide: RUNS, useValue: runs }, { provide: PROCESS, useValue: user }, { provide: STORE, useValue: store }],
    });
    timeline.track(user, candidate.leader);
    live.push(candidate);
    return candidate;
  };
  const retire = (candidate: NestCandidate) => {
    live.splice(live.indexOf(candidate), 1);
    // A crashed leader's close waits for its held requests to time out; the churn goes on meanwhile.
    closing.push(closeCandidate(candidate));
  };
  const leaderNow = async () => {
    await timeline.until(() => timeline.current() !== undefined, AbortSignal.timeout(30_000));
    return live.find((c) => c.user === timeline.current())!;
  };
  const nextLeader = (after: NestCandidate) => timeline.nextLeader(after.user);
  /** Cut off from the API, then the Lease edited by an operator; healed once another leads. */
  const editWhileCutOff = async (leader: NestCandidate, edit: () => void) => {
    server.faults.partition(leader.user, true);
    edit();
    await nextLeader(leader);
    server.faults.partition(leader.user, false);
  };

  let startSecond = 0;
  let endSecond = 0;
  try {
    for (let i = 0; i < config.candidates; i++) await spawn();
    await leaderNow();
    // Until the claimed job has run once, there is no ledger entry to catch up from.
    while (!runs.some((run) => run.claimed)) await sleep(50);
    startSecond = Math.floor(Date.now() / 1000) + 1;
    const deadline = performance.now() + config.durationMs;
    const cycle = config.actions ?? CHURN_ACTIONS;
    for (let step = 0; performance.now() < deadline; step++) {
      const action = cycle[step % cycle.length]!;
      const leader = await leaderNow();
      actions[action]++;
      faultLog.push({ second: Math.floor(Date.now() / 1000), action });
      const actedAt = performance.now();
      switch (action) {
        case 'crash':
          server.faults.partition(leader.user, true);
          retire(leader);
          await spawn();
          await nextLeader(leader);
          break;
        case 'graceful':
          retire(leader);
          await spawn();
          await nextLeader(leader);
          break;
        case 'partition':
          server.faults.partition(leader.user, true);
          await nextLeader(leader);
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
        case 'twin': {
          // The leader's node is cut off and a replacement with the same name starts; once
          // another process leads, the old one comes back, sees the twin, and is retired.
          server.faults.partition(leader.user, true);
          await spawn(leader.identity);
          await nextLeader(leader);
          server.faults.partition(leader.user, false);
          await sleep(1_000);
          retire(leader);
          break;
        }
        case 'delete':
          await editWhileCutOff(leader, () => server.deleteLease('default', 'churn'));
          break;
        case 'duration-removed':
          await editWhileCutOff(leader, () => {
            const lease = server.getLease('default', 'churn');
            if (!lease) return;
            const { leaseDurationSeconds: _removed, ...spec } = lease.spec;
            server.putLease('default', { ...lease, spec });
          });
          break;
        case 'metadata-churn': {
          const churner = setInterval(() => {
            const lease = server.getLease('default', 'churn');
            if (lease) server.putLease('default', { ...lease, metadata: { ...lease.metadata, labels: { synced: String(Date.now()) } } });
          }, 100);
          try {
            server.faults.partition(leader.user, true);
            retire(leader);
            await spawn();
            await nextLeader(leader);
          } finally {
            clearInterval(churner);
          }
          break;
        }
        case 'slow-api':
          server.faults.latencyMs = 1_200;
          await sleep(3_000 + Math.random() * 2_000);
          server.faults.latencyMs = 0;
          await leaderNow();
          break;
        case 'retry-after':
          server.faults.failNext(2, 429, { retryAfterSeconds: 2, when: (request) => request.user === leader.user });
          await sleep(4_000);
          await leaderNow();
          break;
        case 'ledger-stripped': {
          const lease = server.getLease('default', 'churn');
          if (lease) {
            const { [LEDGER_ANNOTATION]: _stripped, ...annotations } = lease.metadata.annotations ?? {};
            server.putLease('default', { ...lease, metadata: { ...lease.metadata, annotations } });
          }
          // Then the leader crashes: the next one must not rerun what the stripped ledger held.
          server.faults.partition(leader.user, true);
          retire(leader);
          await spawn();
          await nextLeader(leader);
          break;
        }
        case 'lost-answer-graceful': {
          const renewsBefore = server.counts(leader.user).update;
          server.faults.loseAnswers(1, leader.user);
          // Wait until the leader's renew has been applied and its answer lost.
          while (server.counts(leader.user).update === renewsBefore) await sleep(20);
          retire(leader);
          await spawn();
          await nextLeader(leader);
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
    unlisten();
    await server.close();
  }

  const inWindow = (run: Run) => run.second >= startSecond && run.second <= endSecond;
  const claimedRuns = runs.filter((run) => run.claimed && inWindow(run));
  const claimedTicks = new Map<number, number>();
  for (const run of claimedRuns) claimedTicks.set(run.second, (claimedTicks.get(run.second) ?? 0) + 1);
  const legacyRuns = runs.filter((run) => !run.claimed);
  const bySecond = new Map<number, Set<string>>();
  for (const run of legacyRuns) {
    if (!inWindow(run)) continue;
    if (!bySecond.has(run.second)) bySecond.set(run.second, new Set());
    bySecond.get(run.second)!.add(run.process);
  }
  const seconds = endSecond - startSecond + 1;
  let termRegressions = 0;
  for (let i = 1; i < legacyRuns.length; i++) if ((legacyRuns[i].term ?? 0) < (legacyRuns[i - 1].term ?? 0)) termRegressions++;
  return {
    config,
    actions,
    failovers: timeline.intervals.length - 1,
    seconds,
    doubleRunSeconds: [...bySecond.values()].filter((who) => who.size > 1).length,
    idleSeconds: seconds - bySecond.size,
    runs: legacyRuns.length,
    claimed: {
      runs: claimedRuns.length,
      ticksRunTwice: [...claimedTicks.values()].filter((n) => n > 1).length,
      ticksRunByNobody: seconds - claimedTicks.size,
      catchUpRuns: claimedRuns.filter((run) => run.catchUp).length,
      missedSeconds: Array.from({ length: seconds }, (_, i) => startSecond + i).filter((second) => !claimedTicks.has(second)),
      interruptedSeconds: [...interrupted].filter((second) => second >= startSecond && second <= endSecond).sort(),
      twice: [...claimedTicks].filter(([, n]) => n > 1).map(([second]) => ({
        second,
        runs: claimedRuns.filter((run) => run.second === second).map(({ process, term, catchUp, at }) => ({ process, term, catchUp, at })),
      })),
    },
    timeline: faultLog,
    fencedWrites: { accepted: store.accepted, staleRejected: store.staleRejected },
    overlaps: countOverlaps(timeline.intervals),
    termRegressions,
    recoveryMs: Object.fromEntries(Object.entries(recovery).map(([k, v]) => [k, summarize(v)])) as Record<ChurnAction, Summary>,
  };
}

/** Intervals that start before an earlier-starting one has ended (an open one never ends). */
export function countOverlaps(intervals: LeadershipInterval[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let overlaps = 0;
  let latestEnd = -Infinity;
  for (const interval of sorted) {
    if (interval.start < latestEnd) overlaps++;
    latestEnd = Math.max(latestEnd, interval.end ?? Infinity);
  }
  return overlaps;
}
