import { KubeApiServer, selfSignedCertificate } from '../test/support/kube-apiserver/index.js';
import { BareCandidate } from './bare-candidate.js';
import type { LeaseTimings } from './nest-candidate.js';
import { sleep, waitUntil } from './stats.js';

export interface ConnectionsConfig {
  timings: LeaseTimings;
  /** One leader and the rest followers. */
  candidates: number;
  windowMs: number;
}

/** Per minute, for one candidate. */
export interface ConnectionRates {
  requests: number;
  /** TCP connections the server accepted. */
  connections: number;
  /** TLS handshakes, and of those the full ones (a key exchange) and the resumed ones. */
  tlsHandshakes: number;
  tlsFull: number;
  tlsResumed: number;
}

export interface ConnectionsFigure {
  /** 'before': client-node's own agent per request (reuseConnections: false); 'after': kept alive. */
  mode: 'before' | 'after';
  windowMs: number;
  leader: ConnectionRates;
  /** Mean over the followers. */
  follower: ConnectionRates;
  /** The leader's connections still open at the end of the window. */
  leaderOpenAtEnd: number;
  leaderChanged: boolean;
}

export interface ConnectionsResult {
  timings: LeaseTimings;
  candidates: number;
  transport: 'https (self-signed certificate as the cluster CA)';
  figures: ConnectionsFigure[];
}

/**
 * Connections and TLS handshakes per minute in steady state at the given timings, for the leader
 * and the average follower, before (a new agent, so a new connection, per request: client-node
 * 1.4 alone) and after (one kept-alive agent per LeaseLock). Both run at once, each on its own
 * HTTPS test apiserver, as bare electors (the same lock and algorithm a Nest app runs).
 */
export async function measureConnections(config: ConnectionsConfig): Promise<ConnectionsResult> {
  const certificate = selfSignedCertificate();
  const figures = await Promise.all(
    (['before', 'after'] as const).map((mode) => runMode(config, mode, certificate)),
  );
  return { timings: config.timings, candidates: config.candidates, transport: 'https (self-signed certificate as the cluster CA)', figures };
}

async function runMode(config: ConnectionsConfig, mode: 'before' | 'after', tls: { cert: string; key: string }): Promise<ConnectionsFigure> {
  const { timings, windowMs } = config;
  const server = await KubeApiServer.start({ tls });
  const candidates: BareCandidate[] = [];
  const leaseName = `connections-${mode}`;
  try {
    for (let i = 0; i < config.candidates; i++) {
      const identity = `${leaseName}-${i}`;
      server.addUser(identity);
      const candidate = new BareCandidate(identity, identity, server.kubeConfig(identity), leaseName, timings, {
        reuseConnections: mode === 'after',
      });
      candidate.start();
      candidates.push(candidate);
    }
    const agreed = () => {
      const leader = candidates[0].state.state.leader;
      return leader !== null && candidates.every((c) => c.state.state.leader === leader);
    };
    await waitUntil(() => agreed() && server.openWatches() === config.candidates, 30_000, `${mode}: candidates to settle`, 20);
    await sleep(timings.retryPeriodMs);

    const leader = candidates[0].state.state.leader!;
    server.resetCounts();
    const started = performance.now();
    await sleep(windowMs);
    const elapsed = performance.now() - started;
    const rates = (user: string): ConnectionRates => {
      const perMinute = (count: number) => (count * 60_000) / elapsed;
      const stats = server.connections(user);
      return {
        requests: perMinute(server.totalRequests(user)),
        connections: perMinute(stats.accepted),
        tlsHandshakes: perMinute(stats.tlsHandshakes),
        tlsFull: perMinute(stats.tlsHandshakes - stats.tlsResumed),
        tlsResumed: perMinute(stats.tlsResumed),
      };
    };
    const followers = candidates.filter((c) => c.user !== leader).map((c) => rates(c.user));
    const mean = (key: keyof ConnectionRates) => followers.reduce((sum, f) => sum + f[key], 0) / Math.max(1, followers.length);
    return {
      mode,
      windowMs: elapsed,
      leader: rates(leader),
      follower: { requests: mean('requests'), connections: mean('connections'), tlsHandshakes: mean('tlsHandshakes'), tlsFull: mean('tlsFull'), tlsResumed: mean('tlsResumed') },
      leaderOpenAtEnd: server.connections(leader).open,
      leaderChanged: candidates[0].state.state.leader !== leader,
    };
  } finally {
    await Promise.all(candidates.map((c) => c.stop()));
    await server.close();
  }
}
