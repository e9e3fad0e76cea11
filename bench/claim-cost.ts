import { Injectable, type Provider } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { LeaderOnly } from '../lib/index.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { sleep, waitUntil } from './stats.js';

/**
 * What claiming ticks costs the API: a lone leader with one job, at the default timings, with the
 * job claiming its ticks and without (`claim: false`, the leader renews alone), for a job every
 * second, every 5 seconds and every minute. A claim is one conditional PUT that renews the Lease
 * too, and the next renew is due a retry period after it: rarer ticks cost almost nothing.
 */
export interface ClaimCostConfig {
  timings: LeaseTimings;
  windowMs: number;
}

export interface ClaimCostFigure {
  period: string;
  /** Lease writes per minute by the leader, with claims and without. */
  writesPerMinute: { claimed: number; unclaimed: number };
  extraWritesPerMinute: number;
}

export interface ClaimCostResult {
  timings: LeaseTimings;
  windowMs: number;
  figures: ClaimCostFigure[];
}

const PERIODS = [
  { period: 'every 1 s', cron: '* * * * * *' },
  { period: 'every 5 s', cron: '*/5 * * * * *' },
  { period: 'every 1 min', cron: '0 * * * * *' },
] as const;

function jobFor(cron: string, claim: boolean): Provider {
  @Injectable()
  class Job {
    @Cron(cron)
    @LeaderOnly({ claim })
    run(): void {}
  }
  return Job;
}

export async function measureClaimCost(config: ClaimCostConfig): Promise<ClaimCostResult> {
  const server = await KubeApiServer.start();
  const candidates: { period: string; claim: boolean; candidate: NestCandidate }[] = [];
  try {
    for (const [index, { period, cron }] of PERIODS.entries()) {
      for (const claim of [true, false]) {
        const candidate = await startLeaseCandidate({
          server,
          identity: `cost-${index}-${claim ? 'claimed' : 'unclaimed'}`,
          leaseName: `cost-${index}-${claim ? 'claimed' : 'unclaimed'}`,
          timings: config.timings,
          providers: [jobFor(cron, claim)],
        });
        candidates.push({ period, claim, candidate });
      }
    }
    await waitUntil(() => candidates.every(({ candidate }) => candidate.leader.isLeader()), 30_000, 'every candidate to lead its own Lease', 20);
    server.resetCounts();
    await sleep(config.windowMs);
    const perMinute = (user: string) => (server.counts(user).update * 60_000) / config.windowMs;
    const figures = PERIODS.map(({ period }) => {
      const of = (claim: boolean) => perMinute(candidates.find((c) => c.period === period && c.claim === claim)!.candidate.user);
      const claimed = of(true);
      const unclaimed = of(false);
      return { period, writesPerMinute: { claimed, unclaimed }, extraWritesPerMinute: claimed - unclaimed };
    });
    return { timings: config.timings, windowMs: config.windowMs, figures };
  } finally {
    await Promise.all(candidates.map(({ candidate }) => closeCandidate(candidate)));
    await server.close();
  }
}
