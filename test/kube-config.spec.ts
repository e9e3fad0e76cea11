import type { INestApplication } from '@nestjs/common';
import { KubeConfig } from '@kubernetes/client-node';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService, LeaderElectionConfigError, type LeaderElectionModuleOptions, type LeaseOptions } from '../lib/index.js';
import { loadKubeConfig, SERVICE_ACCOUNT_TOKEN_FILE } from '../lib/electors/lease/resourcelock/kube-config.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { closeAll, compileApp } from './support/nest-app.js';

/**
 * A Lease election's kubeconfig is loaded and checked when the app is compiled: every way it can
 * never work stops the app with a LeaderElectionConfigError naming what to change, instead of a
 * raw ENOENT at bootstrap or a TLS complaint from deep inside client-node on every request.
 */

const apps: INestApplication[] = [];
let home: string;

beforeEach(async () => {
  // An empty home (no ~/.kube/config), no KUBECONFIG, not inside a pod: only what a test adds.
  home = await mkdtemp(join(tmpdir(), 'kube-config-spec-'));
  vi.stubEnv('HOME', home);
  vi.stubEnv('KUBECONFIG', undefined);
  vi.stubEnv('KUBERNETES_SERVICE_HOST', undefined);
  vi.stubEnv('KUBERNETES_SERVICE_PORT', undefined);
});

afterEach(async () => {
  await closeAll(apps.splice(0));
  vi.unstubAllEnvs();
  await rm(home, { recursive: true, force: true });
});

const leaseApp = (lease: Partial<LeaseOptions> = {}): LeaderElectionModuleOptions => ({
  backend: 'lease',
  identity: 'pod-a',
  lease: { name: 'app-leader', namespace: 'default', ...lease },
});

async function compileError(options: LeaderElectionModuleOptions): Promise<LeaderElectionConfigError> {
  const compiling = compileApp({ leaderElection: options });
  await expect(compiling).rejects.toThrow(LeaderElectionConfigError);
  return compiling.then(
    () => expect.unreachable(),
    (error: LeaderElectionConfigError) => error,
  );
}

async function writeKubeConfig(name: string, yaml: string): Promise<string> {
  const file = join(home, name);
  await writeFile(file, yaml);
  return file;
}

const kubeConfigYaml = ({ server = 'https://10.0.0.1:6443', skipTls = false, currentContext = 'dev', cluster = 'dev-cluster', user = 'dev-user' } = {}) => `
apiVersion: v1
kind: Config
clusters:
  - name: dev-cluster
    cluster:
      server: ${server}
${skipTls ? '      insecure-skip-tls-verify: true\n' : ''}users:
  - name: dev-user
    user:
      token: secret-token
contexts:
  - name: dev
    context:
      cluster: ${cluster}
      user: ${user}
current-context: ${currentContext}
`;

describe('backend lease: finding a kubeconfig', () => {
  it('refuses a KUBECONFIG that names no file, naming the variable, its value and the fix', async () => {
    vi.stubEnv('KUBECONFIG', join(home, 'missing-config'));

    const error = await compileError(leaseApp());

    expect(error.option).toBe('KUBECONFIG');
    expect(error.value).toBe(join(home, 'missing-config'));
    expect(error.message).toBe(
      `LeaderElectionModule: option \`KUBECONFIG\` is "${join(home, 'missing-config')}". No file exists at "${join(home, 'missing-config')}". ` +
        'Point KUBECONFIG at an existing kubeconfig file, unset it to use ~/.kube/config (or the pod\'s ServiceAccount inside Kubernetes), or pass `lease.kubeConfig`.',
    );
  });

  it('names the missing file among several in KUBECONFIG', async () => {
    const present = await writeKubeConfig('present', kubeConfigYaml());
    vi.stubEnv('KUBECONFIG', `${present}:${join(home, 'absent')}`);

    const error = await compileError(leaseApp());

    expect(error.option).toBe('KUBECONFIG');
    expect(error.message).toContain(`No file exists at "${join(home, 'absent')}".`);
    expect(error.message).not.toContain(`"${present}",`);
  });

  it('refuses to run outside Kubernetes with no kubeconfig at all, pointing at auto and standalone', async () => {
    const error = await compileError(leaseApp());

    expect(error.option).toBe('lease.kubeConfig');
    expect(error.message).toContain(`this process runs outside Kubernetes (KUBERNETES_SERVICE_HOST is not set) and KUBECONFIG is not set, ${join(home, '.kube', 'config')} does not exist and no ServiceAccount token is mounted`);
    expect(error.message).toContain("use backend 'auto' (which leads alone outside Kubernetes) or 'standalone'");
  });

  it('inside a pod without a mounted token, says to mount it', () => {
    const inPodWithoutToken = { env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, fileExists: () => false, homeDir: () => null };

    expect(() => loadKubeConfig('', undefined, inPodWithoutToken)).toThrow(
      `no home directory was found and no ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE}). Inside Kubernetes, mount the ServiceAccount token (automountServiceAccountToken: true`,
    );
  });

  it('names the election whose kubeconfig is missing', async () => {
    const error = await compileError({
      backend: 'standalone',
      identity: 'pod-a',
      elections: { reports: { backend: 'lease', lease: { name: 'reports-leader', namespace: 'default' } } },
    });

    expect(error.option).toBe('elections.reports.lease.kubeConfig');
  });

  it("does not look for one when backend 'auto' leads alone outside Kubernetes", async () => {
    const { app } = await compileApp({ leaderElection: { identity: 'pod-a', lease: { name: 'app-leader' } } });
    apps.push(app);
    await app.init();

    expect(app.get(ClusterLeaderService).isLeader()).toBe(true);
  });
});

describe('backend lease: checking the kubeconfig', () => {
  it.each([
    {
      problem: 'no current context',
      yaml: kubeConfigYaml({ currentContext: '""' }),
      says: 'Its current context is not set (contexts: "dev"), so it names no cluster and no user.',
    },
    {
      problem: 'a current context that does not exist',
      yaml: kubeConfigYaml({ currentContext: 'prod' }),
      says: 'Its current context "prod" does not exist (contexts: "dev")',
    },
    {
      problem: 'a context naming an undefined cluster',
      yaml: kubeConfigYaml({ cluster: 'other-cluster' }),
      says: 'Its current context "dev" names the cluster "other-cluster", which it does not define (clusters: "dev-cluster").',
    },
    {
      problem: 'a context naming an undefined user',
      yaml: kubeConfigYaml({ user: 'other-user' }),
      says: 'Its current context "dev" names the user "other-user", which it does not define (users: "dev-user").',
    },
    {
      problem: 'a plain http:// server without insecure-skip-tls-verify',
      yaml: kubeConfigYaml({ server: 'http://127.0.0.1:8001' }),
      says: 'Its cluster "dev-cluster" has the plain-HTTP server http://127.0.0.1:8001, which @kubernetes/client-node refuses unless the cluster sets insecure-skip-tls-verify: true',
    },
  ])('refuses a KUBECONFIG file with $problem', async ({ yaml, says }) => {
    const file = await writeKubeConfig('config', yaml);
    vi.stubEnv('KUBECONFIG', file);

    const error = await compileError(leaseApp());

    expect(error.option).toBe('KUBECONFIG');
    expect(error.value).toBe(file);
    expect(error.message).toContain(says);
  });

  it('checks ~/.kube/config the same way, naming the file', async () => {
    await mkdir(join(home, '.kube'));
    await writeKubeConfig(join('.kube', 'config'), kubeConfigYaml({ user: 'nobody' }));

    const error = await compileError(leaseApp());

    expect(error.option).toBe('lease.kubeConfig');
    expect(error.value).toBe(`not set: loaded from ${join(home, '.kube', 'config')}`);
    expect(error.message).toContain('names the user "nobody", which it does not define');
  });

  it('reports a file that is not a kubeconfig with client-node\'s reason', async () => {
    vi.stubEnv('KUBECONFIG', await writeKubeConfig('config', 'clusters:\n  - name: broken\n'));

    const error = await compileError(leaseApp());

    expect(error.option).toBe('KUBECONFIG');
    expect(error.message).toContain('It could not be loaded: clusters[0].cluster is missing.');
  });

  it('checks a KubeConfig passed as lease.kubeConfig, without printing its contents', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeConfigYaml({ server: 'http://127.0.0.1:8001' }));

    const error = await compileError(leaseApp({ kubeConfig }));

    expect(error.option).toBe('lease.kubeConfig');
    expect(error.message).toContain('plain-HTTP server http://127.0.0.1:8001');
    expect(error.message).not.toContain('secret-token');
  });
});

describe('backend lease: a good kubeconfig', () => {
  let server: KubeApiServer;

  beforeEach(async () => {
    server = await KubeApiServer.start();
  });

  afterEach(async () => {
    await closeAll(apps.splice(0));
    await server.close();
  });

  it('from KUBECONFIG is the one the election uses', async () => {
    server.addUser('pod-a');
    vi.stubEnv('KUBECONFIG', await writeKubeConfig('config', server.kubeConfig('pod-a').exportConfig()));

    const { app } = await compileApp({ leaderElection: leaseApp() });
    apps.push(app);
    await app.init();
    const leadership = await app.get(ClusterLeaderService).waitForLeadership({ signal: AbortSignal.timeout(10_000) });

    expect(leadership).toMatchObject({ isLeader: true, leader: 'pod-a', term: 0 });
    expect(server.getLease('default', 'app-leader')?.spec?.holderIdentity).toBe('pod-a');
  });
});
