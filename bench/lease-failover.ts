import { CONTAINER_ANNOTATION } from '../lib/electors/lease/container-evidence.js';
import { containerStartTime } from '../lib/electors/lease/container-start.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { LeadershipTimeline } from '../test/support/leadership-timeline.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings, type NestCandidate } from './nest-candidate.js';
import { sleep, summarize, waitUntil, type Summary } from './stats.js';

/**
 * `crash-pod`: a crash with fast failover (issue 16) on, the kubelet reporting the crashed
 * container terminated after a random 0-1 s (its PLEG relists containers every second).
 */
export type FailoverKind = 'crash' | 'graceful' | 'crash-pod';

export interface LeaseFailoverConfig {
  timings: Record<string, LeaseTimings>;
  /** Trials per kind and timing name, e.g. { crash: { default: 2, short: 5 } }. */
  trials: Record<FailoverKind, Record<string, number>>;
  /** Crash trials (of any timing) run this many side by side. */
  crashConcurrency: number;
}

export interface FailoverFigure {
  kind: FailoverKind;
  timingName: string;
  timings: LeaseTimings;
  /** Milliseconds from the crash or close() until another candidate led, per trial. */
  samplesMs: number[];
  summary: Summary;
  /** crash-pod: milliseconds from the kubelet's report of the crash until another candidate led. */
  afterReport?: Summary;
  /** Trials in which two candidates' leadership intervals overlapped (must be 0). */
  overlaps: number;
}

export interface LeaseFailoverResult {
  crashModel: string;
  kubeletModel: string;
  candidates: number;
  figures: FailoverFigure[];
}

const CANDIDATES = 3;
let trialCounter = 0;

/**
 * Three Nest-app candidates per trial, each on its own fresh Lease in one test apiserver. A crash is
 * a leader started with `releaseOnShutdown: false` and then closed: like a killed process it writes
 * nothing more, and its sockets (the watch included) close. Partitioning it instead would model a
 * cut network, where the pod still runs and believes it leads until its renew deadline.
 */
export async function measureLeaseFailover(config: LeaseFailoverConfig): Promise<LeaseFailoverResult> {
  const server = await KubeApiServer.start();
  const figures: FailoverFigure[] = [];
  try {
    for (const kind of ['graceful', 'crash', 'crash-pod'] as const) {
      const planned = Object.entries(config.trials[kind]).flatMap(([timingName, count]) => Array<string>(count).fill(timingName));
      // Graceful handovers take milliseconds: one at a time, so no other trial's startup (Nest
      // boots synchronously for tens of ms) can delay the one being timed. Crash trials wait
      // seconds for a lease to run out, mostly idle: several run side by side.
      const concurrency = kind === 'graceful' ? 1 : config.crashConcurrency;
      const outcomes: (TrialOutcome & { timingName: string })[] = [];
      for (let done = 0; done < planned.length; done += concurrency) {
        const batch = planned.slice(done, done + concurrency);
        const results = await runBatch(server, kind, batch.map((name) => config.timings[name]));
        outcomes.push(...results.map((result, i) => ({ ...result, timingName: batch[i] })));
      }
      for (const timingName of Object.keys(config.trials[kind])) {
        const mine = outcomes.filter((o) => o.timingName === timingName);
        figures.push({
          kind,
          timingName,
          timings: config.timings[timingName],
          samplesMs: mine.map((o) => o.takeoverMs),
          summary: summarize(mine.map((o) => o.takeoverMs)),
          ...(kind === 'crash-pod' && { afterReport: summarize(mine.map((o) => o.afterReportMs!)) }),
          overlaps: mine.filter((o) => o.overlapped).length,
        });
      }
    }
  } finally {
    await server.close();
  }
  return {
    crashModel: 'leader started with releaseOnShutdown: false, then app.close(): no further writes, its connections close',
    kubeletModel: `the test API server writes the crashed container's status as the kubelet does (terminated, then restarted), ${KUBELET_DELAY_MS} ms at most after the crash (uniform)`,
    candidates: CANDIDATES,
    figures,
  };
}

/** The kubelet's PLEG relists containers every second: it sees a crash within that. */
const KUBELET_DELAY_MS = 1_000;

interface TrialOutcome {
  takeoverMs: number;
  afterReportMs?: number;
  overlapped: boolean;
}

/** Sets every trial of the batch up first, then fails each leader over at a random moment. */
async function runBatch(server: KubeApiServer, kind: FailoverKind, timings: LeaseTimings[]): Promise<TrialOutcome[]> {
  const trials: Trial[] = [];
  try {
    for (const t of timings) trials.push(await Trial.start(server, kind, t));
    await Promise.all(trials.map((trial) => trial.settled()));
    return await Promise.all(trials.map((trial) => trial.failOver()));
  } finally {
    await Promise.all(trials.map((trial) => trial.stop()));
  }
}

class Trial {
  private readonly timeline = new LeadershipTimeline();

  private constructor(
    private readonly server: KubeApiServer,
    private readonly timings: LeaseTimings,
    private readonly candidates: NestCandidate[],
    private readonly kind: FailoverKind,
    private readonly leaseName: string,
  ) {
    for (const candidate of candidates) this.timeline.track(candidate.identity, candidate.leader);
  }

  static async start(server: KubeApiServer, kind: FailoverKind, timings: LeaseTimings): Promise<Trial> {
    const id = ++trialCounter;
    const leaseName = `failover-${id}`;
    const candidates: NestCandidate[] = [];
    for (let i = 0; i < CANDIDATES; i++) {
      const identity = `failover-${id}-${String.fromCharCode(97 + i)}`;
      // Its pod, started (by this machine's clock, as a kubelet stamps it) when "its container" did.
      if (kind === 'crash-pod') server.pods.create('default', { name: identity, nodeName: `node-${i}`, at: containerStartTime() as Date });
      candidates.push(
        await startLeaseCandidate({ server, identity, leaseName, timings, releaseOnShutdown: kind === 'graceful', fastFailover: kind === 'crash-pod' }),
      );
    }
    return new Trial(server, timings, candidates, kind, leaseName);
  }

  /**
   * Steady state: one leader, known to all, and every candidate watching the Lease (crash-pod: the
   * leader's record names its container, and the followers watch its pod too).
   */
  async settled(): Promise<void> {
    const pods = this.kind === 'crash-pod';
    await waitUntil(
      () => {
        const leader = this.timeline.current();
        return (
          leader !== undefined &&
          (!pods || this.server.getLease('default', this.leaseName)?.metadata.annotations?.[CONTAINER_ANNOTATION] !== undefined) &&
          this.candidates.every((c) => c.leader.leader() === leader && this.server.openWatches(c.user) === (pods && c.identity !== leader ? 2 : 1))
        );
      },
      20_000,
      'a settled election',
    );
  }

  async failOver(): Promise<TrialOutcome> {
    // A random point of the renew cycle: a crash can land anywhere in it.
    await sleep(this.timings.retryPeriodMs * Math.random());
    const leader = this.timeline.current()!;
    const candidate = this.candidates.find((c) => c.identity === leader)!;
    const failedAt = performance.now();
    const next = this.timeline.nextLeader(leader);
    await closeCandidate(candidate);
    let reportedAt: number | undefined;
    if (this.kind === 'crash-pod') {
      await sleep(Math.max(0, failedAt + KUBELET_DELAY_MS * Math.random() - performance.now()));
      reportedAt = performance.now();
      this.server.pods.restartContainer('default', leader, { exitCode: 137, reason: 'Error' });
    }
    const successor = await next;
    const takeoverMs = this.timeline.openInterval(successor)!.start - failedAt;
    const afterReportMs = reportedAt === undefined ? undefined : this.timeline.openInterval(successor)!.start - reportedAt;
    let overlapped = false;
    try {
      this.timeline.assertNoOverlap();
    } catch {
      overlapped = true;
    }
    return { takeoverMs, afterReportMs, overlapped };
  }

  async stop(): Promise<void> {
    this.timeline.stop();
    await Promise.all(this.candidates.map((c) => closeCandidate(c)));
  }
}
