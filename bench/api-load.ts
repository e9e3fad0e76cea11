import { KubeApiServer, type Verb } from '../test/support/kube-apiserver/index.js';
import { BareCandidate } from './bare-candidate.js';
import { closeCandidate, startLeaseCandidate, type LeaseTimings } from './nest-candidate.js';
import { sleep, summarize, waitUntil, type Summary } from './stats.js';

export interface ApiLoadConfig {
  timings: LeaseTimings;
  /** Candidate counts; at or above `bareFrom` they are bare electors instead of Nest apps. */
  sizes: number[];
  bareFrom: number;
  windowMs: number;
}

export type PerMinute = Partial<Record<Verb | 'total', number>>;

export interface ApiLoadFigure {
  candidates: number;
  kind: 'nest' | 'bare';
  windowMs: number;
  leader: PerMinute;
  /** Mean over the followers. */
  follower: PerMinute;
  /** Each follower's total requests per minute, across followers. */
  followerTotals: Summary;
  /** Every request of every candidate, per minute. */
  all: number;
  /** The leader's raw request counts in the window, and the renewals due in it (window / retryPeriod). */
  leaderRequests: Partial<Record<Verb, number>>;
  renewalsDue: number;
  /** The leader's PUTs divided by the renewals due. */
  leaderWritesPerRenew: number;
  leaderChanged: boolean;
  clientGo: { leader: PerMinute; follower: PerMinute; all: number };
  /** Ours divided by client-go's, in total requests per minute. */
  ratio: { leader: number; follower: number; all: number };
}

export interface ApiLoadResult {
  timings: LeaseTimings;
  /** Watches end after timeoutSeconds (300-600 s), so a follower re-opens one every 7.5 min on average. */
  amortizedWatchesPerFollowerPerMinute: number;
  figures: ApiLoadFigure[];
}

interface Handle {
  user: string;
  leader(): string | null;
  stop(): Promise<void>;
}

/**
 * Requests per minute by verb in steady state, for the leader and the average follower, against
 * client-go's polling computed from its code (tools/leaderelection): the leader renews with one PUT
 * per retry period (fast path), and a follower GETs once per retryPeriod x (1 + 1.2 x rand) =
 * 1.6 x retryPeriod on average. Every size runs on its own apiserver, side by side (steady state
 * is nearly idle, so they do not disturb each other).
 */
export async function measureApiLoad(config: ApiLoadConfig): Promise<ApiLoadResult> {
  const figures = await Promise.all(config.sizes.map((size) => runSize(config, size)));
  return { timings: config.timings, amortizedWatchesPerFollowerPerMinute: 60 / 450, figures };
}

async function runSize(config: ApiLoadConfig, size: number): Promise<ApiLoadFigure> {
  const { timings, windowMs } = config;
  const kind = size >= config.bareFrom ? 'bare' : 'nest';
  const server = await KubeApiServer.start();
  const handles: Handle[] = [];
  const leaseName = `load-${size}`;
  try {
    for (let i = 0; i < size; i++) {
      const identity = `load-${size}-${i}`;
      if (kind === 'nest') {
        const candidate = await startLeaseCandidate({ server, identity, leaseName, timings });
        handles.push({ user: identity, leader: () => candidate.leader.leader(), stop: () => closeCandidate(candidate) });
      } else {
        server.addUser(identity);
        const candidate = new BareCandidate(identity, identity, server.kubeConfig(identity), leaseName, timings);
        candidate.start();
        handles.push({ user: identity, leader: () => candidate.state.state.leader, stop: () => candidate.stop() });
      }
    }
    const agreed = () => {
      const leader = handles[0].leader();
      return leader !== null && handles.every((h) => h.leader() === leader);
    };
    await waitUntil(() => agreed() && server.openWatches() === size, 60_000, `${size} candidates to settle`, 20);
    await sleep(timings.retryPeriodMs);

    const leader = handles[0].leader()!;
    server.resetCounts();
    const started = performance.now();
    await sleep(windowMs);
    const elapsed = performance.now() - started;
    const perMinute = (count: number) => (count * 60_000) / elapsed;
    const leaderChanged = handles[0].leader() !== leader;

    const leaderCounts = server.counts(leader);
    const followers = handles.filter((h) => h.user !== leader);
    const followerSum: Record<string, number> = {};
    for (const follower of followers) {
      for (const [verb, count] of Object.entries(server.counts(follower.user))) followerSum[verb] = (followerSum[verb] ?? 0) + count;
      followerSum.total = (followerSum.total ?? 0) + server.totalRequests(follower.user);
    }
    const leaderPerMinute = nonZero({ ...leaderCounts, total: server.totalRequests(leader) }, perMinute);
    const followerPerMinute = nonZero(followerSum, (count) => perMinute(count / followers.length));
    const all = perMinute(server.totalRequests());

    const renewalsPerMinute = 60_000 / timings.retryPeriodMs;
    const clientGoFollower = 60_000 / (1.6 * timings.retryPeriodMs);
    const clientGo = {
      leader: { update: renewalsPerMinute, total: renewalsPerMinute },
      follower: { get: clientGoFollower, total: clientGoFollower },
      all: renewalsPerMinute + (size - 1) * clientGoFollower,
    };
    return {
      candidates: size,
      kind,
      windowMs: elapsed,
      leader: leaderPerMinute,
      follower: followerPerMinute,
      followerTotals: summarize(followers.map((f) => perMinute(server.totalRequests(f.user)))),
      all,
      leaderRequests: Object.fromEntries(Object.entries(leaderCounts).filter(([, n]) => n > 0)),
      renewalsDue: elapsed / timings.retryPeriodMs,
      leaderWritesPerRenew: leaderCounts.update / (elapsed / timings.retryPeriodMs),
      leaderChanged,
      clientGo,
      ratio: {
        leader: (leaderPerMinute.total ?? 0) / clientGo.leader.total,
        follower: (followerPerMinute.total ?? 0) / clientGo.follower.total,
        all: all / clientGo.all,
      },
    };
  } finally {
    await Promise.all(handles.map((h) => h.stop()));
    await server.close();
  }
}

/** Per-minute rates of the verbs that were used (the total always). */
function nonZero(counts: Record<string, number>, rate: (count: number) => number): PerMinute {
  return Object.fromEntries(Object.entries(counts).filter(([k, v]) => v > 0 || k === 'total').map(([k, v]) => [k, rate(v)]));
}
