import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderOnly, type LeaseOptions } from '../lib/index.js';
import { LeaseWatch } from '../lib/electors/lease/resourcelock/lease-watch.js';
import type { LeaseApiError } from '../lib/electors/lease/resourcelock/lease-api.error.js';
import { INCARNATION_ANNOTATION } from '../lib/electors/lease/resourcelock/lease-record.js';
import { KubeApiServer, type RequestEventInfo } from './support/kube-apiserver/index.js';
import { LeaseCandidates, quietWindow } from './support/lease-candidates.js';
import { deferred } from './support/nest-app.js';

/**
 * The holes of issue 7 that need real apps and real time: several Nest apps on the test
 * apiserver, every leadership interval recorded, and no two allowed to overlap.
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

/** A job that ignores its AbortSignal and runs until the test lets it finish. */
@Injectable()
class StubbornJob {
  readonly started = deferred();
  readonly finish = deferred();
  private running = false;

  @Interval(20)
  @LeaderOnly()
  async work(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.started.resolve();
    await this.finish.promise;
  }
}

describe('Lease backend: safety with real apps (issue 7)', () => {
  const cluster = new LeaseCandidates('safety-lease');
  beforeEach(() => cluster.setUp());
  afterEach(() => cluster.tearDown());

  it('1. a second process with the leader\'s identity never leads beside it, and the first one says so', async () => {
    const first = await cluster.startTracked({ identity: 'pod-a', lease: FAST }, 'pod-a#1');
    await cluster.timeline.until(() => first.leader.isLeader());
    // The node is cut off; a replacement with the same pod name starts and takes over once
    // the first's lease has run out.
    cluster.server.faults.partition('pod-a', true);
    const second = await cluster.startTracked({ identity: 'pod-a', user: 'pod-a-2', lease: FAST }, 'pod-a#2');
    await cluster.timeline.until(() => second.leader.isLeader());
    cluster.server.faults.partition('pod-a', false);
    // Back on the network, the first sees the second renew a record naming its own identity.
    await cluster.logger.waitFor('warn', 'another live process with this pod\'s identity (pod-a)');
    expect(first.leader.isLeader()).toBe(false);
    expect(second.leader.isLeader()).toBe(true);
    expect(cluster.server.getLease('default', 'safety-lease')!.metadata.annotations?.[INCARNATION_ANNOTATION]).toBeDefined();
    cluster.timeline.assertNoOverlap();
  });

  it('2. a job that outlives drainTimeoutMs keeps the Lease from being released; a follower waits for its expiry', async () => {
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, module: { drainTimeoutMs: 100 }, providers: [StubbornJob] });
    await cluster.timeline.until(() => a.leader.isLeader());
    const b = await cluster.startTracked({ identity: 'pod-b', lease: FAST });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const job = a.app.get(StubbornJob);
    await job.started.promise;
    await cluster.close(a);
    const closedAt = performance.now();
    expect(cluster.holder()).toBe('pod-a');
    expect(b.leader.isLeader()).toBe(false);
    await cluster.logger.waitFor('warn', 'not releasing the Lease default/safety-lease because its jobs are still running');
    await cluster.timeline.until(() => b.leader.isLeader());
    // b took over only when a's lease ran out by its own observation (a renewed up to a
    // retry period before stopping).
    expect(performance.now() - closedAt).toBeGreaterThanOrEqual(FAST.leaseDurationMs! - FAST.retryPeriodMs! - 50);
    job.finish.resolve();
    cluster.timeline.assertNoOverlap();
  });

  it('4. a follower of a Lease pinned for a month sends nothing, and no timer overflows', async () => {
    cluster.server.putLease('default', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'safety-lease', namespace: 'default' },
      spec: { holderIdentity: 'pinned-pod', leaseDurationSeconds: 30 * 24 * 3600, leaseTransitions: 1, renewTime: '2026-12-01T09:00:00.000000Z' },
    });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST });
      await cluster.timeline.until(() => a.leader.leader() === 'pinned-pod');
      await waitForOpenWatch(cluster.server, 'pod-a');
      cluster.server.resetCounts();
      await quietWindow(1_000);
      const { watch, ...requests } = cluster.server.counts('pod-a');
      expect(Object.values(requests).reduce((sum, n) => sum + n, 0)).toBe(0);
      expect(watch).toBe(0);
      expect(warnings).not.toContain('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('6. a pod that is shutting down acquires nothing, even a Lease released while it drains', async () => {
    // y leads the 'reports' Lease; x leads its own and follows 'reports'.
    const y = await cluster.startTracked({ identity: 'pod-y', lease: { ...FAST, name: 'reports' } });
    await cluster.timeline.until(() => y.leader.isLeader());
    const x = await cluster.start({
      identity: 'pod-x',
      lease: FAST,
      module: { drainTimeoutMs: 10_000, elections: { reports: { backend: 'lease', lease: { ...FAST, name: 'reports' } } } },
      providers: [StubbornJob],
    });
    const job = x.app.get(StubbornJob);
    await job.started.promise;
    await cluster.timeline.until(() => x.leader.leader('reports') === 'pod-y');
    const closingX = cluster.close(x); // drains its stubborn job for up to 10 s
    await cluster.close(y); // releases 'reports'
    expect(cluster.holder('reports')).toBe('');
    await quietWindow(4 * FAST.retryPeriodMs!);
    expect(cluster.holder('reports')).toBe('');
    job.finish.resolve();
    await closingX;
  });

  it('8. shutdown does not wait for the round in flight: the release gets one request timeout, after the drain', async () => {
    const requestTimeoutMs = 1_000;
    const a = await cluster.startTracked({ identity: 'pod-a', lease: { ...FAST, requestTimeoutMs } });
    await cluster.timeline.until(() => a.leader.isLeader());
    // The next renew meets a 409 (someone touched the metadata), and every answer is slow: the
    // round in flight would take a conflict, a re-read and a write, 800 ms each.
    const lease = cluster.server.getLease('default', 'safety-lease')!;
    cluster.server.putLease('default', { ...lease, metadata: { ...lease.metadata, labels: { touched: 'yes' } } });
    cluster.server.resetCounts();
    cluster.server.faults.latencyMs = 800;
    await expect.poll(() => cluster.server.counts('pod-a').update, { interval: 10 }).toBe(1);
    const started = performance.now();
    await cluster.close(a);
    const took = performance.now() - started;
    // The round in flight is aborted at once; the release (409, then a re-read) has one request
    // timeout in all, and gives up when it runs out.
    expect(took).toBeLessThan(requestTimeoutMs + 400);
    expect(cluster.logger.messages('warn', 'could not release the Lease')).toHaveLength(1);
  });

  it('9. honours Retry-After on 429 before the next request', async () => {
    cluster.user('pod-a');
    cluster.server.faults.failNext(1, 429, { retryAfterSeconds: 1 });
    const times: number[] = [];
    const onRequest = (info: RequestEventInfo) => {
      if (info.user === 'pod-a' && info.verb !== 'watch') times.push(performance.now());
    };
    cluster.server.on('request', onRequest);
    const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST });
    await cluster.timeline.until(() => a.leader.isLeader());
    cluster.server.off('request', onRequest);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1_000 - 20);
    await cluster.logger.waitFor('warn', '429 TooManyRequests');
  });
});

describe('Load invariant: at most one round per retry period, at most three requests a round (issue 7.4)', () => {
  const cluster = new LeaseCandidates('load-lease');
  beforeEach(() => cluster.setUp());
  afterEach(() => cluster.tearDown());

  const retryPeriodMs = 100;
  const timings: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 1_000, renewDeadlineMs: 700, retryPeriodMs, requestTimeoutMs: 200 };
  const windowMs = 1_500;
  const maxRounds = Math.ceil(windowMs / retryPeriodMs) + 1;

  const pinned = (server: KubeApiServer) =>
    server.putLease('default', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'load-lease', namespace: 'default' },
      spec: { holderIdentity: 'pinned-pod', leaseDurationSeconds: 2_500_000, leaseTransitions: 1 },
    });

  it.each<[string, (server: KubeApiServer) => () => void]>([
    ['a Lease pinned past the timer limit', (server) => (pinned(server), () => {})],
    ['an API outage (503)', (server) => ((server.faults.outage = true), () => (server.faults.outage = false))],
    ['429 on every request, without Retry-After', (server) => {
      const timer = setInterval(() => server.faults.pendingFailures < 5 && server.faults.failNext(5, 429, { retryAfterSeconds: 0 }), 5);
      return () => clearInterval(timer);
    }],
    ['metadata written every 10 ms (conflicts for every write from cache)', (server) => {
      const timer = setInterval(() => {
        const lease = server.getLease('default', 'load-lease');
        if (lease) server.putLease('default', { ...lease, metadata: { ...lease.metadata, labels: { tick: String(Date.now()) } } });
      }, 10);
      return () => clearInterval(timer);
    }],
    ['the Lease deleted every 50 ms', (server) => {
      const timer = setInterval(() => server.deleteLease('default', 'load-lease'), 50);
      return () => clearInterval(timer);
    }],
    ['watches that end as soon as they open', (server) => {
      const onRequest = (info: RequestEventInfo) => info.verb === 'watch' && info.status === 200 && setImmediate(() => server.faults.endWatches());
      server.on('request', onRequest);
      return () => server.off('request', onRequest);
    }],
  ])('with %s', async (_case, fault) => {
    const heal = fault(cluster.server);
    try {
      await cluster.start({ identity: 'pod-a', lease: timings });
      await cluster.start({ identity: 'pod-b', lease: timings });
      cluster.server.resetCounts();
      await quietWindow(windowMs);
      for (const user of ['pod-a', 'pod-b']) {
        const { watch, ...requests } = cluster.server.counts(user);
        const sent = Object.values(requests).reduce((sum, n) => sum + n, 0);
        expect(sent, `${user}: requests in ${windowMs} ms`).toBeLessThanOrEqual(3 * maxRounds);
        expect(watch, `${user}: watches opened in ${windowMs} ms`).toBeLessThanOrEqual(maxRounds);
      }
    } finally {
      heal();
    }
  });
});

describe('LeaseWatch (issue 7.11)', () => {
  let server: Server;
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('ends a stream whose line grows past the bound instead of buffering it', async () => {
    server = createServer((_request, response) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = 'x'.repeat(64 * 1024);
      const write = () => {
        while (!response.destroyed && response.write(chunk));
        if (!response.destroyed) response.once('drain', write);
      };
      write();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const api = await KubeApiServer.start();
    try {
      api.addUser('pod-a');
      const kubeConfig = api.kubeConfig('pod-a');
      (kubeConfig.getCurrentCluster() as { server: string }).server = `http://127.0.0.1:${port}`;
      const ended = deferred<LeaseApiError | null>();
      const watch = await LeaseWatch.start(
        { kubeConfig, namespace: 'default', name: 'l', agentFor: (perCall) => perCall },
        { timeoutSeconds: 60, connectTimeoutMs: 1_000 },
        { onOpen: () => {}, onEvent: () => {}, onExpired: () => {}, onEnd: (error) => ended.resolve(error) },
      );
      const error = await ended.promise;
      watch.stop();
      expect(error?.reason).toBe('BadStream');
      expect(error?.message).toContain('over');
    } finally {
      await api.close();
      server.closeAllConnections();
    }
  });
});

/** Resolves once `user` has a watch open (the elector's first round is over by then). */
async function waitForOpenWatch(server: KubeApiServer, user: string): Promise<void> {
  while (server.openWatches(user) === 0) {
    await new Promise<void>((resolve) => server.once('request', () => resolve()));
  }
}


