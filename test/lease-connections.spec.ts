import { Logger } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { KubeConfig } from '@kubernetes/client-node';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseLock, type LeaseConnectionOptions } from '../lib/electors/lease/resourcelock/lease-lock.js';
import { LeaseElector } from '../lib/electors/lease/lease.elector.js';
import { ClusterLeaderService, LeaderElectionModule } from '../lib/index.js';
import { ElectionState } from '../lib/leadership/election-state.js';
import type { ResolvedLease } from '../lib/options/resolve-options.js';
import { KubeApiServer, selfSignedCertificate, type RequestEventInfo, type Verb } from './support/kube-apiserver/index.js';
import { RecordingLogger } from './support/nest-app.js';

/**
 * The Lease client's connections, counted where they arrive: at the test apiserver. A leader
 * renews over one kept-alive connection (plus its watch's), with fresh credentials on every
 * request, recovers from the server closing idle connections, and leaves no socket behind.
 */

const LEASE = 'connections-lease';
/** Quick renewals (10 per second), so a test sees many of them in little time. */
const TIMINGS = { leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 100, requestTimeoutMs: 1_000 };
const CERTIFICATE = selfSignedCertificate();

let server: KubeApiServer | undefined;
let logs: RecordingLogger;
const cleanups: (() => unknown)[] = [];

beforeEach(() => {
  logs = new RecordingLogger();
  Logger.overrideLogger(logs);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.close();
  server = undefined;
  vi.useRealTimers();
});

async function startServer(tls = false): Promise<KubeApiServer> {
  server = await KubeApiServer.start(tls ? { tls: CERTIFICATE } : {});
  return server;
}

/** The elector, its lock and its state, wired as LeaseElector.create wires them, with lock options. */
function startElector(identity: string, kubeConfig: KubeConfig, connections: LeaseConnectionOptions = {}) {
  const lease: ResolvedLease = { name: LEASE, namespace: 'default', releaseOnShutdown: true, ...TIMINGS };
  const lock = new LeaseLock(kubeConfig, lease.namespace, lease.name, lease.requestTimeoutMs, connections);
  const state = new ElectionState('default', identity);
  const elector = new LeaseElector(state, lease, lock);
  const stop = async () => {
    state.close();
    await elector.stop();
  };
  cleanups.push(stop);
  elector.start();
  return { lock, state, stop };
}

/** Resolves when `user` has sent `count` more requests with `verb` that were answered `status`. */
function requests(target: KubeApiServer, user: string, verb: Verb, count: number, status = 200): Promise<RequestEventInfo[]> {
  const seen: RequestEventInfo[] = [];
  return new Promise((resolve) => {
    const listener = (info: RequestEventInfo) => {
      if (info.user !== user || info.verb !== verb || info.status !== status) return;
      seen.push(info);
      if (seen.length < count) return;
      target.off('request', listener);
      resolve(seen);
    };
    target.on('request', listener);
  });
}

/** Every request `user` sends from now on, answered or not. */
function record(target: KubeApiServer, user: string): RequestEventInfo[] {
  const seen: RequestEventInfo[] = [];
  const listener = (info: RequestEventInfo) => void (info.user === user && seen.push(info));
  target.on('request', listener);
  cleanups.push(() => target.off('request', listener));
  return seen;
}

const leading = (state: ElectionState) => new Promise<void>((resolve) => {
  const subscription = state.changes.subscribe((s) => s.isLeader && (resolve(), queueMicrotask(() => subscription.unsubscribe())));
});

/** The kept-alive agent a lock uses for the current kubeconfig (the one it would give client-node's). */
async function sharedAgent(lock: LeaseLock): Promise<Agent> {
  const { agent } = await lock.kubeConfig.applyToFetchOptions({ method: 'GET' });
  return lock.agentFor(agent as Agent);
}

describe('a leader renewing over one LeaseLock', () => {
  it('opens one connection for its requests and one for its watch, not one per renew', async () => {
    const api = await startServer();
    api.addUser('pod-a');
    const sent = record(api, 'pod-a');
    const renewed = requests(api, 'pod-a', 'update', 20);
    const { state } = startElector('pod-a', api.kubeConfig('pod-a'));
    await renewed;

    expect(state.isLeader()).toBe(true);
    expect(api.counts('pod-a')).toMatchObject({ get: 1, create: 1, watch: 1 });
    expect(api.counts('pod-a').update).toBeGreaterThanOrEqual(20);
    // The watch opened before the renewals and is still open on its own connection: the
    // renewals did not queue behind it.
    expect(sent.slice(0, 3).map((info) => info.verb)).toEqual(['get', 'create', 'watch']);
    expect(api.openWatches('pod-a')).toBe(1);
    expect(api.connections('pod-a')).toEqual({ accepted: 2, open: 2, tlsHandshakes: 0, tlsResumed: 0 });
  });

  it('did not before: client-node alone opens a connection per request (reuseConnections: false)', async () => {
    const api = await startServer();
    api.addUser('pod-a');
    const renewed = requests(api, 'pod-a', 'update', 20);
    startElector('pod-a', api.kubeConfig('pod-a'), { reuseConnections: false });
    await renewed;

    expect(api.connections('pod-a').accepted).toBe(api.totalRequests('pod-a'));
    expect(api.connections('pod-a').accepted).toBeGreaterThanOrEqual(23);
  });

  it('over HTTPS: two TLS handshakes in all, the second resuming the first session', async () => {
    const api = await startServer(true);
    api.addUser('pod-a');
    const renewed = requests(api, 'pod-a', 'update', 20);
    const { state } = startElector('pod-a', api.kubeConfig('pod-a'));
    await renewed;

    expect(state.isLeader()).toBe(true);
    expect(api.connections('pod-a')).toEqual({ accepted: 2, open: 2, tlsHandshakes: 2, tlsResumed: 1 });
  });

  it('over HTTPS before: a full TLS handshake per request', async () => {
    const api = await startServer(true);
    api.addUser('pod-a');
    const renewed = requests(api, 'pod-a', 'update', 10);
    startElector('pod-a', api.kubeConfig('pod-a'), { reuseConnections: false });
    await renewed;

    const { accepted, tlsHandshakes, tlsResumed } = api.connections('pod-a');
    expect(tlsHandshakes).toBe(api.totalRequests('pod-a'));
    expect({ accepted, tlsResumed }).toEqual({ accepted: tlsHandshakes, tlsResumed: 0 });
  });

  it('keeps a silent watch open past the idle timeout, which only closes unused connections', async () => {
    const api = await startServer();
    api.addUser('pod-b');
    // Held by someone else for a minute, and never written: the follower's watch hears nothing.
    api.putLease('default', {
      metadata: { name: LEASE },
      spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 60, acquireTime: '2026-11-24T09:00:00.000000Z', renewTime: '2026-11-24T09:00:00.000000Z', leaseTransitions: 0 },
    });
    const watching = requests(api, 'pod-b', 'watch', 1);
    const { lock, state } = startElector('pod-b', api.kubeConfig('pod-b'), { idleSocketTimeoutMs: 200 });
    await watching;
    const agent = await sharedAgent(lock);
    const busy = Object.values(agent.sockets).flat() as Socket[];
    expect(busy).toHaveLength(1);

    // The socket's idle timer fires while the watch waits for events...
    await once(busy[0]!, 'timeout');
    expect(busy[0]!.destroyed).toBe(false);
    expect(api.openWatches('pod-b')).toBe(1);

    // ...and the stream still delivers: the holder's next renewal arrives over it.
    const seen = new Promise<void>((resolve) => {
      const subscription = state.changes.subscribe((s) => s.leader === 'pod-c' && (resolve(), queueMicrotask(() => subscription.unsubscribe())));
    });
    api.putLease('default', {
      metadata: { name: LEASE },
      spec: { holderIdentity: 'pod-c', leaseDurationSeconds: 60, acquireTime: '2026-11-24T09:01:00.000000Z', renewTime: '2026-11-24T09:01:00.000000Z', leaseTransitions: 1 },
    });
    await seen;
    expect(api.counts('pod-b')).toMatchObject({ watch: 1, get: 1 });
    expect(api.connections('pod-b').accepted).toBe(1);
  });
});

describe('a follower', () => {
  it('re-opens an ended watch on the connection the last one used', async () => {
    const api = await startServer(true);
    api.addUser('pod-a');
    api.addUser('pod-b');
    const leader = startElector('pod-a', api.kubeConfig('pod-a'));
    await leading(leader.state);
    const watching = requests(api, 'pod-b', 'watch', 1);
    startElector('pod-b', api.kubeConfig('pod-b'));
    await watching;
    expect(api.connections('pod-b')).toMatchObject({ accepted: 1, tlsHandshakes: 1 });

    // A watch that ran its course is re-opened at once (one that ends at once is retried later,
    // with a poll meanwhile): let it run for more than a retry period, timed by the renewals.
    await requests(api, 'pod-a', 'update', 2);
    // As the apiserver does when timeoutSeconds runs out (every 5-10 minutes).
    const rewatched = requests(api, 'pod-b', 'watch', 1);
    api.faults.endWatches('pod-b');
    await rewatched;

    expect(api.openWatches('pod-b')).toBe(1);
    expect(api.connections('pod-b')).toMatchObject({ accepted: 1, open: 1, tlsHandshakes: 1 });
  });
});

describe('with a proxy-url', () => {
  it("uses client-node's proxy agent as it is, a new one per request as before", async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://10.0.0.1:6443', proxyUrl: 'http://proxy.example:3128', skipTLSVerify: false }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c',
    });
    const lock = new LeaseLock(kubeConfig, 'default', LEASE, 1_000);
    cleanups.push(() => lock.abortAll());
    const first = await sharedAgent(lock);
    const second = await sharedAgent(lock);

    expect(first.constructor.name).toBe('HttpsProxyAgent');
    expect(second).not.toBe(first);
  });
});

describe('credentials stay fresh on a kept-alive connection', () => {
  it('uses a rotated service-account token file from the next request on, on the same connection', async () => {
    const api = await startServer();
    const oldToken = api.addUser('sa-before-rotation');
    const newToken = api.addUser('sa-after-rotation');
    const dir = mkdtempSync(join(tmpdir(), 'lease-connections-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, oldToken);
    // What loadFromCluster() builds inside a pod: the projected token, re-read by client-node.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'in-cluster', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'in-cluster-user', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
      contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster-user' }],
      currentContext: 'in-cluster',
    });
    const renewedBefore = requests(api, 'sa-before-rotation', 'update', 3);
    const { state } = startElector('pod-a', kubeConfig);
    await renewedBefore;
    expect(state.isLeader()).toBe(true);

    // The kubelet rotates the token; client-node (like client-go) re-reads the file once it is a
    // minute old, by the wall clock: move the wall clock, and only it, a minute on.
    writeFileSync(tokenFile, newToken);
    const connectionsBefore = api.connections().accepted;
    const after = record(api, 'sa-after-rotation');
    const renewedAfter = requests(api, 'sa-after-rotation', 'update', 3);
    vi.setSystemTime(Date.now() + 61_000);
    await renewedAfter;
    // From now on the old token is refused: a request still sending it would fail.
    api.setRules('sa-before-rotation', []);
    const stillOld = record(api, 'sa-before-rotation');
    await requests(api, 'sa-after-rotation', 'update', 3);

    expect(state.isLeader()).toBe(true);
    expect(stillOld).toEqual([]);
    expect(after.every((info) => info.status === 200)).toBe(true);
    // The renewals carried the new token over the connection that was already open.
    expect(api.connections().accepted).toBe(connectionsBefore);
  });

  it("uses an exec plugin's new token from the next request on, on the same connection", async () => {
    const api = await startServer();
    const oldToken = api.addUser('exec-before');
    const newToken = api.addUser('exec-after');
    const dir = mkdtempSync(join(tmpdir(), 'lease-connections-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, oldToken);
    // A credential plugin whose answer carries no expiry: client-node runs it for every request.
    const credential = '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}';
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'exec-user', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'sh', args: ['-c', `printf '${credential}' "$(cat '${tokenFile}')"`] } }],
      contexts: [{ name: 'c', cluster: 'c', user: 'exec-user' }],
      currentContext: 'c',
    });
    const renewedBefore = requests(api, 'exec-before', 'update', 2);
    const { state } = startElector('pod-a', kubeConfig);
    await renewedBefore;
    const connectionsBefore = api.connections().accepted;

    const renewedAfter = requests(api, 'exec-after', 'update', 2);
    writeFileSync(tokenFile, newToken);
    await renewedAfter;

    expect(state.isLeader()).toBe(true);
    expect(api.connections().accepted).toBe(connectionsBefore);
  });

  it('moves to a new connection when the client certificate files change, closing the old one', async () => {
    const api = await startServer(true);
    const token = api.addUser('pod-a');
    const dir = mkdtempSync(join(tmpdir(), 'lease-connections-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const certFile = join(dir, 'client.crt');
    const keyFile = join(dir, 'client.key');
    const first = selfSignedCertificate('pod-a-1');
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'tls', server: api.url, caData: Buffer.from(CERTIFICATE.cert).toString('base64'), skipTLSVerify: false }],
      users: [{ name: 'pod-a', token, certFile, keyFile }],
      contexts: [{ name: 'tls', cluster: 'tls', user: 'pod-a' }],
      currentContext: 'tls',
    });
    const renewed = requests(api, 'pod-a', 'update', 3);
    const { state } = startElector('pod-a', kubeConfig);
    await renewed;
    expect(api.connections('pod-a')).toMatchObject({ accepted: 2, open: 2 });

    const second = selfSignedCertificate('pod-a-2');
    writeFileSync(certFile, second.cert);
    writeFileSync(keyFile, second.key);
    await requests(api, 'pod-a', 'update', 3);

    expect(state.isLeader()).toBe(true);
    // A new agent made one new connection, with a full handshake (the one resumed session is from
    // before the change); the renewals' old connection closed when its request ended. The watch
    // keeps its own until it ends, then closes too.
    await vi.waitFor(() => expect(api.connections('pod-a')).toMatchObject({ accepted: 3, open: 2, tlsHandshakes: 3, tlsResumed: 1 }));
    expect(api.openWatches('pod-a')).toBe(1);
    api.faults.endWatches('pod-a');
    await requests(api, 'pod-a', 'watch', 1);
    await vi.waitFor(() => expect(api.connections('pod-a')).toMatchObject({ accepted: 4, open: 2 }));
  });
});

describe('the server closing kept-alive connections', () => {
  it('closing idle connections between renewals costs no failed renewal: the next one connects again', async () => {
    const api = await startServer();
    api.addUser('pod-a');
    const renewed = requests(api, 'pod-a', 'update', 3);
    const { state } = startElector('pod-a', api.kubeConfig('pod-a'));
    await renewed;
    const seen = record(api, 'pod-a');

    for (let i = 0; i < 3; i++) {
      await requests(api, 'pod-a', 'update', 1);
      api.faults.closeIdleConnections();
    }
    await requests(api, 'pod-a', 'update', 2);

    expect(state.isLeader()).toBe(true);
    expect(seen.filter((info) => info.status !== 200)).toEqual([]);
    expect(api.connections('pod-a').accepted).toBeGreaterThanOrEqual(4);
    expect(logs.messages('warn')).toEqual([]);
  });

  it('a renewal caught by the close fails once; the leader keeps leading and the next one succeeds', async () => {
    const api = await startServer();
    api.addUser('pod-a');
    const renewed = requests(api, 'pod-a', 'update', 3);
    const { state } = startElector('pod-a', api.kubeConfig('pod-a'));
    await renewed;
    const changes: boolean[] = [];
    const subscription = state.changes.subscribe((s) => changes.push(s.isLeader));
    cleanups.push(() => subscription.unsubscribe());

    api.faults.dropNextOnReusedConnection();
    await logs.waitFor('warn', 'update failed');
    await requests(api, 'pod-a', 'update', 3);

    expect(changes).toEqual([true]);
    expect(state.isLeader()).toBe(true);
    expect(logs.messages('warn')).toEqual([expect.stringContaining('update failed: ECONNRESET')]);
    expect(logs.messages('log', 'answers again')).toHaveLength(1);
  });
});

describe('stopping', () => {
  it('an app that leads closes every connection it made when it shuts down', async () => {
    const api = await startServer(true);
    api.addUser('pod-a');
    const renewed = requests(api, 'pod-a', 'update', 5);
    const app = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        LeaderElectionModule.forRoot({
          identity: 'pod-a',
          backend: 'lease',
          lease: { name: LEASE, namespace: 'default', kubeConfig: api.kubeConfig('pod-a'), leaseDurationMs: 2_000, renewDeadlineMs: 1_000, retryPeriodMs: 100 },
        }),
      ],
    })
      .setLogger(logs)
      .compile();
    await app.init();
    cleanups.push(() => app.close());
    await renewed;
    expect(app.get(ClusterLeaderService).isLeader()).toBe(true);
    expect(api.connections('pod-a')).toMatchObject({ accepted: 2, open: 2, tlsHandshakes: 2 });

    await app.close();

    expect(api.getLease('default', LEASE)?.spec.holderIdentity).toBe(''); // released, then closed
    await vi.waitFor(() => expect(api.connections()).toMatchObject({ open: 0 }));
    // Shutdown aborts a renew still in flight rather than wait for it (issue 7.8), which destroys
    // its socket: the release may then need one more connection.
    expect(api.connections('pod-a').accepted).toBeLessThanOrEqual(3);
  });

  it('a follower that stops closes its watch connection; the leader keeps its own', async () => {
    const api = await startServer();
    api.addUser('pod-a');
    api.addUser('pod-b');
    const leader = startElector('pod-a', api.kubeConfig('pod-a'));
    await leading(leader.state);
    const watching = requests(api, 'pod-b', 'watch', 1);
    const follower = startElector('pod-b', api.kubeConfig('pod-b'));
    await watching;
    expect(api.connections('pod-b').open).toBeGreaterThanOrEqual(1);

    await follower.stop();

    await vi.waitFor(() => expect(api.connections('pod-b').open).toBe(0));
    expect(api.openWatches('pod-a')).toBe(1);
    expect(leader.state.isLeader()).toBe(true);
  });
});
