import type { INestApplicationContext } from '@nestjs/common';
import { ClusterLeaderService, type LeadershipState } from '../lib/index.js';
import { SidecarStandIn } from '../test/support/sidecar-stand-in.js';
import { startNestApp } from './nest-candidate.js';
import { sleep, summarize, waitUntil, type Summary } from './stats.js';

export interface SidecarFailoverConfig {
  pollIntervalsMs: number[];
  trials: number;
}

export interface SidecarFigure {
  pollIntervalMs: number;
  /** From the sidecar's answer changing until the new pod leads AND the old one no longer does. */
  switchMs: Summary;
  /** How long both pods believed they led (the new one before the old one's next poll). */
  dualLeaderMs: Summary;
  /** Trials with any dual-leader window. */
  dualLeaderTrials: number;
  samplesMs: number[];
}

export interface SidecarFailoverResult {
  candidates: number;
  figures: SidecarFigure[];
}

const PODS = ['pod-a', 'pod-b', 'pod-c'];

/**
 * Three Nest apps with `backend: 'sidecar'`, all asking one stand-in (as if every pod's sidecar
 * agreed at once, the best case for the original pattern). Each trial switches the named leader at
 * a random point of the poll cycle and times, from the pods' own change events, until the new pod
 * leads and the old one has stopped.
 */
export async function measureSidecarFailover(config: SidecarFailoverConfig): Promise<SidecarFailoverResult> {
  const figures: SidecarFigure[] = [];
  for (const pollIntervalMs of config.pollIntervalsMs) {
    const standIn = await SidecarStandIn.start(PODS[0]);
    const apps: INestApplicationContext[] = [];
    try {
      for (const identity of PODS) {
        // Pods start at different moments, so their polls are out of phase, as in a real rollout.
        await sleep(pollIntervalMs * Math.random());
        apps.push(await startNestApp({ identity, backend: 'sidecar', sidecar: { url: standIn.url, pollIntervalMs } }));
      }
      const services = apps.map((app) => app.get(ClusterLeaderService));
      await waitUntil(() => services[0].isLeader() && services.every((s) => s.leader() === PODS[0]), 5_000, 'the first sidecar leader');
      const samples: number[] = [];
      const dual: number[] = [];
      for (let trial = 0; trial < config.trials; trial++) {
        const from = trial % PODS.length;
        const to = (from + 1) % PODS.length;
        await sleep(pollIntervalMs * Math.random());
        const newLeads = whenState(services[to], (s) => s.isLeader);
        const oldStopped = whenState(services[from], (s) => !s.isLeader);
        const changedAt = performance.now();
        standIn.leader = PODS[to];
        const [newAt, oldAt] = await Promise.all([newLeads, oldStopped]);
        samples.push(Math.max(newAt, oldAt) - changedAt);
        dual.push(Math.max(0, oldAt - newAt));
        // Let every pod see the new answer before the next switch.
        await waitUntil(() => services.every((s) => s.leader() === PODS[to]), 5_000, 'all pods to agree');
      }
      figures.push({
        pollIntervalMs,
        switchMs: summarize(samples),
        dualLeaderMs: summarize(dual),
        dualLeaderTrials: dual.filter((d) => d > 0).length,
        samplesMs: samples,
      });
    } finally {
      for (const app of apps) await app.close();
      await standIn.close();
    }
  }
  return { candidates: PODS.length, figures };
}

/** The monotonic time at which the pod's leadership first satisfies `predicate`. */
function whenState(service: ClusterLeaderService, predicate: (state: LeadershipState) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const subscription = service.changes().subscribe((state) => {
      if (!predicate(state)) return;
      const at = performance.now();
      queueMicrotask(() => subscription.unsubscribe());
      resolve(at);
    });
  });
}
