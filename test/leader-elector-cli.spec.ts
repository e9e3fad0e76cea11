import { EventEmitter, once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseGoDuration } from '../lib/cli/go-duration.js';
import { parseLeaderElectorFlags } from '../lib/cli/leader-elector-flags.js';
import { SERVICE_ACCOUNT_CA_FILE, SERVICE_ACCOUNT_TOKEN_FILE } from '../lib/electors/lease/resourcelock/kube-config.js';
import { LeaderElectorFlagError } from '../lib/errors/leader-elector-flag.error.js';
import { buildElectorCommand, ElectorProcess } from './support/elector-process.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { writeUserKubeConfig } from './support/kubeconfig-file.js';

/**
 * `nestjs-cluster-leader-elector`, the bin: compiled, run as real child processes with the old
 * sidecar's flags against the test API server (each with its own kubeconfig file and API user),
 * observed through its --http answer, its output, its exit status and the Lease itself.
 */

const LEASE = 'cli-lease';

beforeAll(() => buildElectorCommand(), 120_000);

describe('the bin as processes on one Lease', () => {
  let server: KubeApiServer;
  let directory: string;
  const processes: ElectorProcess[] = [];
  /** Every change of the Lease's holder as the API server stored it, in order. */
  const holders: { at: number; holder: string }[] = [];
  const holderChanged = new EventEmitter();

  beforeAll(async () => {
    server = await KubeApiServer.start();
    directory = await mkdtemp(join(tmpdir(), 'leader-elector-cli-'));
    server.on('request', ({ verb, status }) => {
      if ((verb !== 'update' && verb !== 'create') || status >= 300) return;
      const holder = server.getLease('default', LEASE)?.spec?.holderIdentity ?? '';
      if (holders.at(-1)?.holder === holder) return;
      holders.push({ at: performance.now(), holder });
      holderChanged.emit('change');
    });
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((elector) => elector.kill()));
  });

  afterAll(async () => {
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** Starts one candidate as a pod would run the sidecar container, with its own API user. */
  async function startElector(identity: string): Promise<{ elector: ElectorProcess; port: number }> {
    const elector = await spawnElector(identity, ['--http=127.0.0.1:0']);
    return { elector, port: await elector.servedPort() };
  }

  async function spawnElector(identity: string, flags: string[]): Promise<ElectorProcess> {
    const elector = new ElectorProcess(
      [`--election=${LEASE}`, '--election-namespace=default', `--id=${identity}`, '--ttl=2s', ...flags],
      { KUBECONFIG: await writeUserKubeConfig(server, identity, directory) },
    );
    processes.push(elector);
    return elector;
  }

  async function holderAfter(index: number, predicate: (holder: string) => boolean): Promise<{ at: number; holder: string }> {
    for (;;) {
      const found = holders.slice(index).find((change) => predicate(change.holder));
      if (found) return found;
      await once(holderChanged, 'change', { signal: AbortSignal.timeout(10_000) });
    }
  }

  /**
   * The name the process answers, asked until it equals `expected`. Separate processes on real
   * time: their HTTP answer is the only view in, and the bound keeps a broken one from hanging.
   */
  async function answersName(port: number, expected: string): Promise<string> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      const { name } = (await response.json()) as { name: string };
      if (name === expected || Date.now() > deadline) return name;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('one leads and answers its own name, the other answers the leader\'s; SIGTERM releases, the other takes over within a second, exit 0', async () => {
    const a = await startElector('pod-a');
    const first = await holderAfter(0, (holder) => holder === 'pod-a');
    const b = await startElector('pod-b');

    expect(await answersName(a.port, 'pod-a')).toBe('pod-a');
    expect(await answersName(b.port, 'pod-a')).toBe('pod-a');
    const response = await fetch(`http://127.0.0.1:${b.port}/anything`, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await response.text()).toBe('{"name":"pod-a"}');

    const index = holders.indexOf(first) + 1;
    const exit = await a.elector.stop();
    const released = await holderAfter(index, (holder) => holder === '');
    const takeover = await holderAfter(index, (holder) => holder === 'pod-b');

    expect(exit).toEqual({ code: 0, signal: null });
    expect(a.elector.log()).toContain(`Election 'default': released the Lease default/${LEASE} so another pod can take over at once.`);
    expect(holders.slice(index).map((change) => change.holder)).toEqual(['', 'pod-b']);
    expect(takeover.at - released.at).toBeLessThan(1_000);
    expect(await answersName(b.port, 'pod-b')).toBe('pod-b');

    expect(await b.elector.stop({ signal: 'SIGINT' })).toEqual({ code: 0, signal: null });
    expect(server.getLease('default', LEASE)?.spec?.holderIdentity).toBe('');
  });

  it('without --http serves nothing, and runs until signalled, through an API outage', async () => {
    const renewals = new EventEmitter();
    const countRenewals = ({ user, verb, status }: { user: string | null; verb: string; status: number }) => {
      if (user === 'pod-d' && verb === 'update' && status === 200) renewals.emit('renewal');
    };
    server.on('request', countRenewals);
    try {
      const index = holders.length;
      const elector = await spawnElector('pod-d', []);
      await holderAfter(index, (holder) => holder === 'pod-d');

      // Nothing in flight and only the library's (unref'd) retry timers: the process must not
      // take that for "done" and exit.
      await server.faults.refuseConnections(true);
      await elector.waitForLine(/WARN .*failed/);
      await server.faults.refuseConnections(false);
      await once(renewals, 'renewal', { signal: AbortSignal.timeout(10_000) });

      expect(await elector.stop()).toEqual({ code: 0, signal: null });
      expect(server.getLease('default', LEASE)?.spec?.holderIdentity).toBe('');
      expect(elector.log()).not.toContain('Answering as');
    } finally {
      server.off('request', countRenewals);
      await server.faults.refuseConnections(false);
    }
  });

  it('exits 1 naming --http when its port is taken, before it campaigns', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as { port: number };
      const kubeconfig = await writeUserKubeConfig(server, 'pod-c', directory);
      const elector = new ElectorProcess([`--election=${LEASE}`, '--id=pod-c', `--http=127.0.0.1:${port}`], { KUBECONFIG: kubeconfig });
      processes.push(elector);

      expect(await elector.exited).toEqual({ code: 1, signal: null });
      expect(elector.log()).toContain(`nestjs-cluster-leader-elector: --http=127.0.0.1:${port}: Another process already listens on 127.0.0.1:${port} (EADDRINUSE).`);
      expect(server.totalRequests('pod-c')).toBe(0);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
  it('releases on SIGTERM a Lease it acquired though the answer never came (issue 18.6)', async () => {
    const lease = 'cli-lost-answer-lease';
    server.faults.loseAnswers(1, 'pod-e');
    const elector = new ElectorProcess([`--election=${lease}`, '--election-namespace=default', '--id=pod-e', '--ttl=10s'], {
      KUBECONFIG: await writeUserKubeConfig(server, 'pod-e', directory),
    });
    processes.push(elector);
    // Its create was applied; its answer is held back until the command gives up on it.
    await expect.poll(() => server.getLease('default', lease)?.spec?.holderIdentity).toBe('pod-e');
    expect(await elector.stop()).toEqual({ code: 0, signal: null });
    expect(server.getLease('default', lease)?.spec?.holderIdentity).toBe('');
  });
});

describe('the bin without usable Kubernetes credentials', () => {
  let home: string;
  const processes: ElectorProcess[] = [];

  beforeAll(async () => {
    // An empty home: no ~/.kube/config unless a case writes one.
    home = await mkdtemp(join(tmpdir(), 'leader-elector-cli-home-'));
    await writeFile(join(home, 'not-a-kubeconfig'), 'clusters:\n  - name: broken\n');
    await writeFile(join(home, 'no-context'), 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((elector) => elector.kill()));
  });

  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  /** Runs the bin as a pod would, with --http, and returns how it ended and what it said. */
  async function failure(env: Record<string, string>, flags: string[] = []) {
    const elector = new ElectorProcess(['--election=cli-lease', '--id=pod-z', '--http=127.0.0.1:0', ...flags], { HOME: home, ...env });
    processes.push(elector);
    const exit = await elector.exited;
    return { exit, output: elector.output.map((line) => line.replaceAll(home, '<home>')) };
  }

  const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const mounted = existsSync(SERVICE_ACCOUNT_TOKEN_FILE);

  // Each case: exit 1 (as when it cannot start for any other reason), one line naming the variable
  // or flag, its value and the fix, and nothing served or campaigned before it.
  it.each([
    {
      problem: 'no kubeconfig at all, outside Kubernetes',
      env: {},
      says: `nestjs-cluster-leader-elector: KUBECONFIG is not set: <home>/.kube/config does not exist and no ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE}), and this process runs outside Kubernetes (KUBERNETES_SERVICE_HOST is not set). Set KUBECONFIG to a kubeconfig file (\`kubectl config view --minify --flatten > elector.kubeconfig\` writes one for your current context), or run it in a pod, where it uses the pod's ServiceAccount.`,
    },
    {
      problem: 'a KUBECONFIG that names no file',
      env: { KUBECONFIG: '<home>/missing' },
      says: 'nestjs-cluster-leader-elector: KUBECONFIG=<home>/missing: No file exists at "<home>/missing". Point KUBECONFIG at an existing kubeconfig file, or unset it to use ~/.kube/config (in a pod: the pod\'s ServiceAccount, or pass --use-cluster-credentials).',
    },
    {
      problem: 'a KUBECONFIG file that is not a kubeconfig',
      env: { KUBECONFIG: '<home>/not-a-kubeconfig' },
      says: 'nestjs-cluster-leader-elector: KUBECONFIG=<home>/not-a-kubeconfig: It could not be loaded: clusters[0].cluster is missing. Fix the file (kubectl config view shows what it holds), or point KUBECONFIG at another one.',
    },
    {
      problem: 'a KUBECONFIG file with no current context',
      env: { KUBECONFIG: '<home>/no-context' },
      says: 'nestjs-cluster-leader-elector: KUBECONFIG=<home>/no-context: Its current context is not set (contexts: none), so it names no cluster and no user. Select a context that names both (kubectl config use-context NAME, or current-context in the file).',
    },
    {
      problem: '--use-cluster-credentials outside a pod',
      env: {},
      flags: ['--use-cluster-credentials'],
      says: 'nestjs-cluster-leader-elector: --use-cluster-credentials: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so this process does not run in a Kubernetes pod (Kubernetes sets both in every container) and the API server\'s address is unknown. Outside a pod, or to use a kubeconfig file, drop --use-cluster-credentials: the command then reads KUBECONFIG, else ~/.kube/config.',
    },
    {
      problem: '--use-cluster-credentials with half of the API server\'s address',
      env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' },
      flags: ['--use-cluster-credentials'],
      says: 'nestjs-cluster-leader-elector: --use-cluster-credentials: KUBERNETES_SERVICE_PORT is not set (KUBERNETES_SERVICE_HOST is "10.96.0.1"), so this process does not run in a Kubernetes pod (Kubernetes sets both in every container) and the API server\'s address is unknown. Outside a pod, or to use a kubeconfig file, drop --use-cluster-credentials: the command then reads KUBECONFIG, else ~/.kube/config.',
    },
    ...(mounted
      ? [] // this machine is a pod with a token: the cases of a pod without one cannot be made here
      : [
          {
            problem: '--use-cluster-credentials in a pod without a mounted token',
            env: inPod,
            flags: ['--use-cluster-credentials'],
            says: `nestjs-cluster-leader-elector: --use-cluster-credentials: The API server is 10.96.0.1:443, but no ServiceAccount credentials are mounted: ${SERVICE_ACCOUNT_TOKEN_FILE} does not exist, ${SERVICE_ACCOUNT_CA_FILE} does not exist. Mount them (automountServiceAccountToken: true on the pod or its ServiceAccount). Outside a pod, or to use a kubeconfig file, drop --use-cluster-credentials: the command then reads KUBECONFIG, else ~/.kube/config.`,
          },
          {
            problem: 'no kubeconfig in a pod without a mounted token',
            env: inPod,
            says: `nestjs-cluster-leader-elector: KUBECONFIG is not set: <home>/.kube/config does not exist and no ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE}), although KUBERNETES_SERVICE_HOST is set (a pod). Mount the pod's ServiceAccount token (automountServiceAccountToken: true on the pod or its ServiceAccount), or set KUBECONFIG to a kubeconfig file.`,
          },
        ]),
  ])('exits 1 on $problem, naming it, its value and the fix', async ({ env, flags, says }) => {
    const resolved = Object.fromEntries(Object.entries(env).map(([name, value]) => [name, value.replace('<home>', home)]));

    const { exit, output } = await failure(resolved, flags);

    expect(exit).toEqual({ code: 1, signal: null });
    expect(output).toEqual([says]);
  });
});

describe('the bin\'s command line', () => {
  it('exits 2 on an unknown flag, naming it and listing the known ones', async () => {
    const elector = new ElectorProcess(['--election=x', '--electoin-namespace=default']);

    expect(await elector.exited).toEqual({ code: 2, signal: null });
    expect(elector.output).toEqual([
      'nestjs-cluster-leader-elector: unknown flag --electoin-namespace. Known flags: --election, --election-namespace, --http, --id, --ttl, --use-cluster-credentials, --help.',
      'Run nestjs-cluster-leader-elector --help for the flags.',
    ]);
  });

  it('prints its usage with --help and exits 0', async () => {
    const elector = new ElectorProcess(['--help']);

    expect(await elector.exited).toEqual({ code: 0, signal: null });
    expect(elector.output[0]).toBe('Usage: nestjs-cluster-leader-elector --election=<lease name> [flags]');
    for (const flag of ['--election=', '--election-namespace=', '--http=', '--id=', '--ttl=', '--use-cluster-credentials']) {
      expect(elector.log()).toContain(flag);
    }
  });

  it('maps the old sidecar\'s flags onto the library\'s Lease options: ttl, ttl/2, ttl/4', () => {
    const { options } = parseLeaderElectorFlags(['--election=my-app', '--id', 'pod-a', '--http=localhost:4040']);
    expect(options).toEqual({
      backend: 'lease',
      identity: 'pod-a',
      lease: { name: 'my-app', namespace: 'default', leaseDurationMs: 10_000, renewDeadlineMs: 5_000, retryPeriodMs: 2_500, requestTimeoutMs: 2_500 },
      serveSidecarApi: { host: 'localhost', port: 4040 },
    });
    expect(parseLeaderElectorFlags(['--election=a', '--ttl=1m', '--http=:4040']).options).toMatchObject({
      lease: { leaseDurationMs: 60_000, renewDeadlineMs: 30_000, retryPeriodMs: 15_000, requestTimeoutMs: 15_000 },
      serveSidecarApi: { host: '0.0.0.0', port: 4040 },
    });
    expect(parseLeaderElectorFlags(['--election=a', '--ttl=1s', '--http=[::1]:4040']).options).toMatchObject({
      lease: { leaseDurationMs: 1_000, renewDeadlineMs: 500, retryPeriodMs: 250, requestTimeoutMs: 500 },
      serveSidecarApi: { host: '::1', port: 4040 },
    });
    expect(parseLeaderElectorFlags(['--election=a']).options.serveSidecarApi).toBeUndefined();
    expect(parseLeaderElectorFlags(['--election=a', '--use-cluster-credentials']).useClusterCredentials).toBe(true);
  });

  it('names the flag, the value and the fix for every bad value', () => {
    const failure = (args: string[]) => {
      try {
        parseLeaderElectorFlags(args);
      } catch (error) {
        if (error instanceof LeaderElectorFlagError) return `${error.flag}: ${error.message}`;
        throw error;
      }
      throw new Error('accepted');
    };
    expect(failure(['--election=a', '--ttl=10'])).toBe("--ttl: nestjs-cluster-leader-elector: --ttl=10 is not a duration. Use Go's syntax, e.g. --ttl=10s or --ttl=1m.");
    expect(failure(['--election=a', '--ttl=1500ms'])).toBe('--ttl: nestjs-cluster-leader-elector: --ttl=1500ms is 1500 ms. A Lease stores its duration in whole seconds, at least 1: use e.g. --ttl=2s.');
    expect(failure(['--election=a', '--ttl', '--id=x'])).toBe('--ttl: nestjs-cluster-leader-elector: --ttl needs a value, e.g. --ttl=10s.');
    expect(failure(['--election=a', '--http=4040'])).toBe('--http: nestjs-cluster-leader-elector: --http=4040 is not a host:port address. Use e.g. --http=localhost:4040 (this pod only) or --http=:4040 (every interface).');
    expect(failure(['--election=a', 'extra'])).toContain('extra: nestjs-cluster-leader-elector: unexpected argument "extra".');
    expect(failure(['--election=a', '--use-cluster-credentials=maybe'])).toContain('use --use-cluster-credentials alone, or =true / =false.');
  });

  it('reads durations as Go does', () => {
    expect(parseGoDuration('10s')).toBe(10_000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('500ms')).toBe(500);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('1.1s')).toBe(1_100);
    expect(parseGoDuration('2500us')).toBe(2.5);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('-1s')).toBe(-1_000);
    for (const bad of ['', '10', 's', '1 s', '1d', '1s ', '.s', '1s2']) expect(parseGoDuration(bad), bad).toBeUndefined();
  });
});
