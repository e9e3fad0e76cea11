import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { LeadershipTimeline } from '../test/support/leadership-timeline.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings } from './nest-candidate.js';
import { summarize, type Summary } from './stats.js';

/**
 * How long a leader's `app.close()` takes (no job running, so the drain is instant), in the
 * states that used to stretch it: the API healthy, the API slow while a round meets a conflict
 * (a 409, a re-read and a write, each slow), and the API hung. This is the part of the pod's
 * terminationGracePeriodSeconds that the library spends after the drain.
 */
export type ShutdownCondition = 'healthy' | 'slow-with-conflict' | 'hung';

export interface ShutdownTimeConfig {
  timings: LeaseTimings;
  trials: number;
}

export interface ShutdownTimeResult {
  timings: LeaseTimings;
  requestTimeoutMs: number;
  figures: { condition: ShutdownCondition; closeMs: Summary; released: number; samplesMs: number[] }[];
}

let serial = 0;

export async function measureShutdownTime(config: ShutdownTimeConfig): Promise<ShutdownTimeResult> {
  const requestTimeoutMs = Math.max(1_000, Math.floor(config.timings.renewDeadlineMs / 2));
  const figures: ShutdownTimeResult['figures'] = [];
  for (const condition of ['healthy', 'slow-with-conflict', 'hung'] as const) {
    const samplesMs: number[] = [];
    let released = 0;
    for (let trial = 0; trial < config.trials; trial++) {
      const outcome = await closeOnce(config.timings, condition, requestTimeoutMs);
      samplesMs.push(outcome.closeMs);
      if (outcome.released) released++;
    }
    figures.push({ condition, closeMs: summarize(samplesMs), released, samplesMs });
  }
  return { timings: config.timings, requestTimeoutMs, figures };
}

async function closeOnce(timings: LeaseTimings, condition: ShutdownCondition, requestTimeoutMs: number): Promise<{ closeMs: number; released: boolean }> {
  const server = await KubeApiServer.start();
  const timeline = new LeadershipTimeline();
  const leaseName = `shutdown-${++serial}`;
  try {
    const leader = await startLeaseCandidate({ server, identity: `leader-${serial}`, leaseName, timings });
    timeline.track(leader.identity, leader.leader);
    await timeline.until(() => leader.leader.isLeader(), AbortSignal.timeout(30_000));
    if (condition === 'slow-with-conflict') {
      const lease = server.getLease('default', leaseName)!;
      server.putLease('default', { ...lease, metadata: { ...lease.metadata, labels: { touched: 'yes' } } });
      server.faults.latencyMs = Math.floor(requestTimeoutMs * 0.8);
      // Close while the next renew is on its way.
      const renews = server.counts(leader.user).update;
      while (server.counts(leader.user).update === renews) await new Promise((resolve) => setTimeout(resolve, 5));
    } else if (condition === 'hung') {
      server.faults.hang = true;
    }
    const started = performance.now();
    await closeCandidate(leader);
    const closeMs = performance.now() - started;
    // Read before healing: a held request may still be applied once the fault ends.
    const released = server.getLease('default', leaseName)?.spec.holderIdentity === '';
    server.faults.reset();
    return { closeMs, released };
  } finally {
    timeline.stop();
    await server.close();
  }
}
