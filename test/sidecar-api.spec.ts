import { Injectable, type INestApplication, type Provider } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { filter, firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClusterLeaderService,
  currentLeaderJob,
  LeaderElectionConfigError,
  LeaderOnly,
  type LeaderElectionModuleOptions,
} from '../lib/index.js';
import { ElectionState } from '../lib/leadership/election-state.js';
import { resolveOptions, type ResolveEnvironment } from '../lib/options/resolve-options.js';
import { answeredLeaderName, leaderElectorBody } from '../lib/sidecar-api/leader-elector-answer.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { closeAll, deferred, startApp, type RecordingLogger } from './support/nest-app.js';
import { RawHttpConnection } from './support/raw-http-connection.js';
import { countedResources, extraResources } from './support/active-resources.js';

/**
 * `serveSidecarApi`: the app answers on the leader-elector sidecar's port exactly as the sidecar
 * did, from its own election. Compared over raw TCP with the recorded answers of the real one.
 */

/** The recorded answers (test/fixtures/leader-elector/README.md), as the bytes on the wire. */
const RECORDED = (() => {
  const readme = readFileSync(new URL('./fixtures/leader-elector/README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/^```\n([\s\S]*?)\n```$/gm)].map((match) => match[1]!.split('\n'));
  const wire = (lines: string[]) => {
    const blank = lines.indexOf('');
    return `${lines.slice(0, blank).join('\r\n')}\r\n\r\n${lines.slice(blank + 1).join('\n')}`;
  };
  const [leader, noLeader] = blocks.filter((lines) => lines[0] === 'HTTP/1.1 200 OK');
  // The README shows the "no leader" answer without its Date line, but Go's net/http writes Date on
  // every answer of this handler (it never touches the headers), as the first recording shows; the
  // comparison puts it back in the place Go writes it.
  const date = leader!.find((line) => line.startsWith('Date: '))!;
  return { leader: wire(leader!), noLeader: wire([noLeader![0]!, date, ...noLeader!.slice(1)]), date };
})();

const GO_DATE = /^Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/m;

/** The answer with its Date value replaced by the recording's, after checking Go's format. */
function normalised(response: Buffer): string {
  const text = response.toString('latin1');
  expect(text).toMatch(GO_DATE);
  const sent = Date.parse(GO_DATE.exec(text)![0].slice('Date: '.length));
  expect(Math.abs(sent - Date.now())).toBeLessThan(5_000);
  return text.replace(GO_DATE, RECORDED.date);
}

const GET = 'GET / HTTP/1.1\r\nHost: localhost:4040\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';

const apps: INestApplication[] = [];
const connections: RawHttpConnection[] = [];
const blockers: Server[] = [];

afterEach(async () => {
  await Promise.all(connections.splice(0).map((connection) => connection.close()));
  await closeAll(apps.splice(0));
  await Promise.all(blockers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

/** Starts an app serving the sidecar's answer on a free port; resolves with that port. */
async function startServing(leaderElection: LeaderElectionModuleOptions, providers: Provider[] = []) {
  const started = await startApp({ leaderElection: { serveSidecarApi: { port: 0 }, ...leaderElection }, providers });
  apps.push(started.app);
  const port = await servedPort(started.logger);
  return { ...started, port, leader: started.app.get(ClusterLeaderService) };
}

async function servedPort(logger: RecordingLogger): Promise<number> {
  const line = await logger.waitFor('log', /Answering as the leader-elector sidecar did/);
  return Number(/:(\d+) \(any path\)\.$/.exec(line)![1]);
}

async function connection(port: number): Promise<RawHttpConnection> {
  const opened = await RawHttpConnection.open(port);
  connections.push(opened);
  return opened;
}

/** One GET on a fresh connection; the body only. */
async function askedName(port: number): Promise<string> {
  const response = (await (await connection(port)).exchange(GET)).toString('latin1');
  return (JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { name: string }).name;
}

describe('serveSidecarApi: the answer on the wire', () => {
  it('is byte for byte the real sidecar\'s answer naming the leader (Date value aside)', async () => {
    const { port, logger } = await startServing({ backend: 'standalone', identity: 'pod-a' });

    const response = await (await connection(port)).exchange(GET);

    expect(normalised(response)).toBe(RECORDED.leader);
    expect(logger.messages('log', 'Answering as')).toEqual([
      `Answering as the leader-elector sidecar did, for election 'default', on http://127.0.0.1:${port} (any path).`,
    ]);
  });

  it('is byte for byte the real sidecar\'s "no leader" answer while no leader is known', async () => {
    // The Lease backend with no API server behind it: the election never learns a leader.
    const server = await KubeApiServer.start();
    server.addUser('pod-a');
    const kubeConfig = server.kubeConfig('pod-a');
    await server.close();
    const { port } = await startServing({ backend: 'lease', identity: 'pod-a', lease: { name: 'nobody-home', namespace: 'default', kubeConfig } });

    expect(normalised(await (await connection(port)).exchange(GET))).toBe(RECORDED.noLeader);
  });

  it('answers every method and path the same, several requests on one kept-alive connection', async () => {
    const { port } = await startServing({ backend: 'standalone', identity: 'pod-a' });
    const kept = await connection(port);
    const requests = [
      GET,
      'GET /leader HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n',
      'POST /anything/at/all HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
      'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
      'DELETE /leader HTTP/1.1\r\nHost: x\r\n\r\n',
      'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
      'PATCH /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
    ];

    for (const request of requests) {
      expect(normalised(await kept.exchange(request)), request).toBe(RECORDED.leader);
    }
    expect(kept.closedByServer).toBe(false);
  });

  it('answers HEAD with the same headers and no body, as Go does', async () => {
    const { port } = await startServing({ backend: 'standalone', identity: 'pod-a' });
    const kept = await connection(port);

    const head = await kept.exchange('HEAD /leader HTTP/1.1\r\nHost: x\r\n\r\n', { headOnly: true });
    // The same connection answers the next request at once: no body bytes were left in between.
    const next = await kept.exchange(GET);

    expect(normalised(head)).toBe(RECORDED.leader.slice(0, RECORDED.leader.indexOf('\r\n\r\n') + 4));
    expect(normalised(next)).toBe(RECORDED.leader);
  });

  it('says Connection: close after Content-Type and closes when the client asks to, as Go does', async () => {
    const { port } = await startServing({ backend: 'standalone', identity: 'pod-a' });
    const closing = await connection(port);

    const response = await closing.exchange('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await closing.serverClosed();

    const [head, body] = RECORDED.leader.split('\r\n\r\n');
    expect(normalised(response)).toBe(`${head}\r\nConnection: close\r\n\r\n${body}`);
  });

  it('writes the name as Go\'s json.Marshal does, HTML-safe escapes included', () => {
    expect(leaderElectorBody('pod-a').toString()).toBe('{"name":"pod-a"}');
    expect(leaderElectorBody('').toString()).toBe('{"name":""}');
    expect(leaderElectorBody('a<b>&"c"\u2028').toString()).toBe('{"name":"a\\u003cb\\u003e\\u0026\\"c\\"\\u2028"}');
  });
});

describe('serveSidecarApi: whom it names', () => {
  it('names this pod only while it may lead, else the leader it observes, else ""', () => {
    let now = 1_000;
    const state = new ElectionState('default', 'pod-a', {}, () => now);
    expect(answeredLeaderName(state)).toBe('');

    state.publish({ leader: 'pod-b', term: 3, leadingUntil: 0 });
    expect(answeredLeaderName(state)).toBe('pod-b');

    state.publish({ leader: 'pod-a', term: 4, leadingUntil: 2_000 });
    expect(answeredLeaderName(state)).toBe('pod-a');

    // Its renew deadline passed with no news: the Lease may still name it, the pod must not act.
    now = 2_000;
    expect(answeredLeaderName(state)).toBe('');

    state.publish({ leader: 'pod-a', term: 4, leadingUntil: 3_000 });
    state.close();
    expect(answeredLeaderName(state)).toBe('');
  });

  it('each pod answers the leader as its own election sees it, and follows a handover', async () => {
    const server = await KubeApiServer.start();
    try {
      const lease = (user: string) => {
        server.addUser(user);
        return { name: 'answered-lease', namespace: 'default', kubeConfig: server.kubeConfig(user), leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
      };
      const a = await startServing({ backend: 'lease', identity: 'pod-a', lease: lease('pod-a') });
      await a.leader.waitForLeadership();
      const b = await startServing({ backend: 'lease', identity: 'pod-b', lease: lease('pod-b') });
      await firstValueFrom(b.leader.changes().pipe(filter((state) => state.leader === 'pod-a')));

      expect(await askedName(a.port)).toBe('pod-a');
      expect(await askedName(b.port)).toBe('pod-a');

      await a.app.close();
      apps.splice(apps.indexOf(a.app), 1);
      await b.leader.waitForLeadership({ signal: AbortSignal.timeout(5_000) });

      expect(await askedName(b.port)).toBe('pod-b');
      await expect(RawHttpConnection.open(a.port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      await closeAll(apps.splice(0));
      await server.close();
    }
  });
});

@Injectable()
class RunningJob {
  readonly started = deferred();
  readonly release = deferred();

  @LeaderOnly()
  async run(): Promise<void> {
    expect(currentLeaderJob()).toBeDefined();
    this.started.resolve();
    await this.release.promise;
  }
}

describe('serveSidecarApi: lifecycle', () => {
  it('stops naming this pod as soon as shutdown begins, answers "" while jobs drain, then closes and leaves nothing behind', async () => {
    const before = countedResources();
    const { app, port } = await startServing({ backend: 'standalone', identity: 'pod-a' }, [RunningJob]);
    const job = app.get(RunningJob);
    const running = job.run();
    await job.started.promise;
    expect(await askedName(port)).toBe('pod-a');

    const closing = app.close();
    apps.splice(apps.indexOf(app), 1);
    // Shutdown has begun (the job's signal fired) but the job still runs: the port still answers.
    const kept = await connection(port);
    expect(normalised(await kept.exchange(GET))).toBe(RECORDED.noLeader);

    job.release.resolve();
    await closing;
    await running;
    await kept.serverClosed();
    await Promise.all(connections.splice(0).map((open) => open.close()));

    await expect(RawHttpConnection.open(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(extraResources(before)).toEqual({ TCPServerWrap: 0, TCPSocketWrap: 0, Timeout: 0 });
  });

  it('stops the app at startup, before any election starts, when the port is taken', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };

    const failed = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', serveSidecarApi: { port } } }).then(
      () => { throw new Error('the app started on a port in use'); },
      (error: unknown) => error,
    );

    expect(failed).toBeInstanceOf(LeaderElectionConfigError);
    expect((failed as LeaderElectionConfigError).option).toBe('serveSidecarApi.port');
    expect((failed as Error).message).toBe(
      `LeaderElectionModule: option \`serveSidecarApi.port\` is ${port}. Another process already listens on ` +
      `127.0.0.1:${port} (EADDRINUSE). If the pod still runs the leader-elector sidecar container, remove ` +
      'it: this app now answers in its place. Otherwise choose a free port.',
    );
  });
});

describe('serveSidecarApi: options', () => {
  const environment: ResolveEnvironment = { env: {}, readServiceAccountNamespace: () => undefined, hostname: () => 'laptop' };
  const resolved = (serveSidecarApi: unknown, extra: object = {}) =>
    resolveOptions({ backend: 'standalone', identity: 'pod-a', ...extra, serveSidecarApi } as LeaderElectionModuleOptions, environment).sidecarApi;
  const rejected = (serveSidecarApi: unknown, extra: object = {}) => {
    try {
      resolved(serveSidecarApi, extra);
    } catch (error) {
      if (error instanceof LeaderElectionConfigError) return { option: error.option, message: error.message };
      throw error;
    }
    throw new Error('accepted');
  };

  it('is off unless asked for; true means 127.0.0.1:4040 for the default election', () => {
    expect(resolved(undefined)).toBeUndefined();
    expect(resolved(false)).toBeUndefined();
    expect(resolved(true)).toEqual({ host: '127.0.0.1', port: 4040, election: 'default' });
    expect(resolved({ host: 'localhost', port: 0 })).toEqual({ host: '127.0.0.1', port: 0, election: 'default' });
    expect(resolved({ host: '::', election: 'reports' }, { elections: { reports: { backend: 'standalone' } } }))
      .toEqual({ host: '::', port: 4040, election: 'reports' });
  });

  it('rejects bad values with the option, the value and the fix', () => {
    expect(rejected('yes')).toEqual({ option: 'serveSidecarApi', message: expect.stringContaining('is "yes". Use true (answer on 127.0.0.1:4040), or an object') });
    expect(rejected({ port: 70_000 })).toEqual({ option: 'serveSidecarApi.port', message: expect.stringContaining('is 70000. Use a TCP port from 1 to 65535') });
    expect(rejected({ port: '4040' })).toMatchObject({ option: 'serveSidecarApi.port' });
    expect(rejected({ host: 'leader.example.com' })).toEqual({ option: 'serveSidecarApi.host', message: expect.stringContaining('is "leader.example.com". Use an IP address') });
    expect(rejected({ prot: 4040 })).toEqual({ option: 'serveSidecarApi.prot', message: expect.stringContaining('Known options here: port, host, election.') });
    expect(rejected({ election: 'reprots' })).toEqual({ option: 'serveSidecarApi.election', message: expect.stringContaining("Name a configured election (configured: 'default').") });
    expect(rejected(true, { backend: 'sidecar' })).toEqual({ option: 'serveSidecarApi.election', message: expect.stringContaining("Election 'default' asks a leader-elector sidecar itself") });
  });

  it('is a module-level option: inside an election it is an unknown key', () => {
    expect(() => resolveOptions({ backend: 'standalone', identity: 'pod-a', elections: { reports: { serveSidecarApi: true } as never } }, environment))
      .toThrow('option `elections.reports.serveSidecarApi` is true. There is no such option');
  });
});
