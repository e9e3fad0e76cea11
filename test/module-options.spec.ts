import { Inject, Injectable, Module, type INestApplication } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClusterLeaderService,
  LEASE_DEFAULTS,
  LeaderElectionConfigError,
  LeaderElectionModule,
  LeaderOnly,
  SIDECAR_DEFAULTS,
  type LeaderElectionModuleOptions,
} from '../lib/index.js';
import { resolveOptions, type ResolveEnvironment, type ResolvedElection } from '../lib/options/resolve-options.js';
import { closeAll, compileApp, startApp, useFakeTime } from './support/nest-app.js';

const apps: INestApplication[] = [];

afterEach(async () => {
  await closeAll(apps.splice(0));
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

async function start(spec: Parameters<typeof startApp>[0]) {
  const started = await startApp(spec);
  apps.push(started.app);
  return { ...started, leader: started.app.get(ClusterLeaderService) };
}

/** Outside Kubernetes, no pod variables, no service account: only what a test adds. */
function environment(overrides: Partial<ResolveEnvironment> & { env?: NodeJS.ProcessEnv } = {}): ResolveEnvironment {
  return { env: {}, readServiceAccountNamespace: () => undefined, hostname: () => 'laptop', ...overrides };
}

function configErrorOf(options: unknown, env: ResolveEnvironment = environment()): LeaderElectionConfigError {
  try {
    resolveOptions(options as LeaderElectionModuleOptions, env);
  } catch (error) {
    if (error instanceof LeaderElectionConfigError) return error;
    throw error;
  }
  throw new Error('resolveOptions accepted the options');
}

function defaultElection(options: LeaderElectionModuleOptions, env: ResolveEnvironment = environment()): ResolvedElection {
  return resolveOptions(options, env).elections[0]!;
}

const SETTINGS = Symbol('SETTINGS');

/** A stand-in for a ConfigModule: one module that exports the app's settings. */
@Module({ providers: [{ provide: SETTINGS, useValue: { podName: 'pod-from-settings', drainTimeoutMs: 2_500 } }], exports: [SETTINGS] })
class SettingsModule {}

describe('LeaderElectionModule.forRoot / forRootAsync', () => {
  it('forRoot starts the election it describes', async () => {
    const { leader } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' } });

    expect(leader.identity).toBe('pod-a');
    expect(leader.isLeader()).toBe(true);
    expect(leader.elections()).toEqual(['default']);
  });

  it('forRootAsync builds the options from injected providers of an imported module', async () => {
    const { leader } = await start({
      leaderElectionModule: LeaderElectionModule.forRootAsync({
        imports: [SettingsModule],
        inject: [SETTINGS],
        useFactory: (settings: { podName: string; drainTimeoutMs: number }) => ({
          backend: 'standalone',
          identity: settings.podName,
          drainTimeoutMs: settings.drainTimeoutMs,
          elections: { reports: { backend: 'standalone' } },
        }),
      }),
    });

    expect(leader.identity).toBe('pod-from-settings');
    expect(leader.isLeader()).toBe(true);
    expect(leader.isLeader('reports')).toBe(true);
  });

  it('forRootAsync rejects bad options from the factory when the app is compiled', async () => {
    const compiling = compileApp({
      leaderElectionModule: LeaderElectionModule.forRootAsync({
        useFactory: async () => ({ backend: 'standalone', identity: '' }),
      }),
    });

    await expect(compiling).rejects.toThrow(LeaderElectionConfigError);
    await expect(compiling).rejects.toMatchObject({ option: 'identity', value: '' });
  });
});

@Injectable()
class FeatureJobs {
  runs = 0;

  constructor(@Inject(ClusterLeaderService) readonly leader: ClusterLeaderService) {}

  @Interval('feature-job', 1_000)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

/** A feature module that does not import LeaderElectionModule. */
@Module({ providers: [FeatureJobs] })
class FeatureModule {}

@Injectable()
class FeatureJobWithoutService {
  runs = 0;

  @Interval('feature-job-without-service', 1_000)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

@Module({ providers: [FeatureJobWithoutService] })
class ServiceFreeFeatureModule {}

describe('module scope', () => {
  it('is global by default: a feature module injects ClusterLeaderService and its job is gated', async () => {
    useFakeTime();
    const { app } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' }, imports: [FeatureModule] });

    await vi.advanceTimersByTimeAsync(3_000);

    const jobs = app.get(FeatureJobs);
    expect(jobs.leader.isLeader()).toBe(true);
    expect(jobs.runs).toBe(3);
    expect(jobs.leader.jobCounters()['FeatureJobs.tick']).toEqual({ runs: 3, skipped: 0, failed: 0 });
  });

  it('honours isGlobal: false: a feature module that does not import it cannot inject ClusterLeaderService', async () => {
    const compiling = compileApp({
      leaderElectionModule: LeaderElectionModule.forRoot({ backend: 'standalone', identity: 'pod-a', isGlobal: false }),
      imports: [FeatureModule],
    });

    await expect(compiling).rejects.toThrow(/can't resolve dependencies of the FeatureJobs \(\?\)/);
  });

  it('with isGlobal: false still gates @LeaderOnly jobs anywhere in the app', async () => {
    useFakeTime();
    const { app, leader } = await start({
      leaderElectionModule: LeaderElectionModule.forRoot({ backend: 'standalone', identity: 'pod-a', isGlobal: false }),
      imports: [ServiceFreeFeatureModule],
    });

    await vi.advanceTimersByTimeAsync(2_000);

    expect(app.get(FeatureJobWithoutService).runs).toBe(2);
    expect(leader.jobCounters()['FeatureJobWithoutService.tick']).toEqual({ runs: 2, skipped: 0, failed: 0 });
  });
});

const lease = (options: Record<string, unknown>) => ({ backend: 'lease', lease: { name: 'app-leader', ...options } });
const sidecar = (options: Record<string, unknown>) => ({ backend: 'sidecar', sidecar: options });

describe('option validation', () => {
  it.each([
    { problem: 'options that are not an object', options: null, option: 'options', value: null, fix: 'Pass an object to LeaderElectionModule.forRoot().' },
    { problem: 'an unknown backend', options: { backend: 'zookeeper' }, option: 'backend', value: 'zookeeper', fix: "Use one of 'auto', 'lease', 'sidecar', 'standalone'." },
    { problem: 'an empty identity', options: { identity: '' }, option: 'identity', value: '', fix: "Set it to this pod's name, or leave it out to use MY_POD_NAME, POD_NAME or HOSTNAME." },
    { problem: 'a blank identity', options: { identity: '   ' }, option: 'identity', value: '   ', fix: "Set it to this pod's name" },
    { problem: 'a typo in a top-level key', options: { drainTimeout: 5_000 }, option: 'drainTimeout', value: 5_000, fix: 'There is no such option; did you mean `drainTimeoutMs`' },
    { problem: 'a typo in a lease key', options: lease({ leaseDuration: 15_000 }), option: 'lease.leaseDuration', value: 15_000, fix: 'did you mean `lease.leaseDurationMs`' },
    { problem: 'a typo in a sidecar key', options: sidecar({ pollInterval: 1_000 }), option: 'sidecar.pollInterval', value: 1_000, fix: 'did you mean `sidecar.pollIntervalMs`' },
    { problem: 'an unknown key with no near match', options: { replicas: 3 }, option: 'replicas', value: 3, fix: 'There is no such option. Known options here: identity, elections, drainTimeoutMs' },
    { problem: 'a sidecar url that is not http', options: sidecar({ url: 'ftp://localhost:4040' }), option: 'sidecar.url', value: 'ftp://localhost:4040', fix: "Use an http URL such as 'http://localhost:4040'" },
    { problem: 'a sidecar url without a scheme', options: sidecar({ url: 'localhost:4040' }), option: 'sidecar.url', value: 'localhost:4040', fix: "Use an http URL such as 'http://localhost:4040'" },
    { problem: 'a sidecar url that is not a URL', options: sidecar({ url: 'not a url' }), option: 'sidecar.url', value: 'not a url', fix: 'Use an http URL' },
    { problem: 'a sidecar url that is not a string', options: sidecar({ url: 4040 }), option: 'sidecar.url', value: 4040, fix: 'Use an http URL' },
    { problem: 'a sidecar request timeout above the poll interval', options: sidecar({ pollIntervalMs: 1_000, requestTimeoutMs: 1_500 }), option: 'sidecar.requestTimeoutMs', value: 1_500, fix: 'It must not exceed sidecar.pollIntervalMs (1000)' },
    { problem: 'a fractional poll interval', options: sidecar({ pollIntervalMs: 1.5 }), option: 'sidecar.pollIntervalMs', value: 1.5, fix: 'Use a whole number of milliseconds greater than 0.' },
    { problem: 'a negative poll interval', options: sidecar({ pollIntervalMs: -1_000 }), option: 'sidecar.pollIntervalMs', value: -1_000, fix: 'greater than 0' },
    { problem: 'a zero request timeout', options: sidecar({ requestTimeoutMs: 0 }), option: 'sidecar.requestTimeoutMs', value: 0, fix: 'greater than 0' },
    { problem: 'a timing given as a string', options: sidecar({ pollIntervalMs: '1000' }), option: 'sidecar.pollIntervalMs', value: '1000', fix: 'Use a whole number of milliseconds' },
    { problem: 'a negative drain timeout', options: { drainTimeoutMs: -1 }, option: 'drainTimeoutMs', value: -1, fix: 'Use a whole number of milliseconds, 0 or more.' },
    { problem: 'a fractional retry period', options: lease({ retryPeriodMs: 2_000.5 }), option: 'lease.retryPeriodMs', value: 2_000.5, fix: 'Use a whole number of milliseconds greater than 0.' },
    { problem: 'a lease without a name', options: { backend: 'lease' }, option: 'lease.name', value: undefined, fix: "Name the Lease with a lowercase DNS-1123 name unique to this app in its namespace, e.g. 'my-app-leader'" },
    { problem: 'a lease name that is not DNS-1123', options: lease({ name: 'Bad_Name' }), option: 'lease.name', value: 'Bad_Name', fix: 'lowercase letters, digits' },
    { problem: 'a lease name longer than 253 characters', options: lease({ name: 'a'.repeat(254) }), option: 'lease.name', value: 'a'.repeat(254), fix: 'at most 253 characters' },
    { problem: 'a lease duration that is not whole seconds', options: lease({ leaseDurationMs: 15_500 }), option: 'lease.leaseDurationMs', value: 15_500, fix: 'A Lease stores its duration in whole seconds; use a multiple of 1000, e.g. 16000.' },
    { problem: 'a lease duration not above the renew deadline', options: lease({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), option: 'lease.leaseDurationMs', value: 10_000, fix: 'It must be greater than lease.renewDeadlineMs (10000)' },
    { problem: 'a renew deadline not above 1.2 x the retry period', options: lease({ renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }), option: 'lease.renewDeadlineMs', value: 2_400, fix: 'It must be greater than 1.2 x lease.retryPeriodMs (2400)' },
    { problem: 'a lease request timeout above the renew deadline', options: lease({ requestTimeoutMs: 10_001 }), option: 'lease.requestTimeoutMs', value: 10_001, fix: 'It must not exceed lease.renewDeadlineMs (10000)' },
    { problem: 'a namespace that is not a DNS-1123 label', options: lease({ namespace: 'Team_A' }), option: 'lease.namespace', value: 'Team_A', fix: 'Use a Kubernetes namespace name' },
    { problem: 'releaseOnShutdown that is not a boolean', options: lease({ releaseOnShutdown: 'yes' }), option: 'lease.releaseOnShutdown', value: 'yes', fix: 'Use true or false.' },
    { problem: 'fastFailover given as a string', options: lease({ fastFailover: 'yes' }), option: 'lease.fastFailover', value: 'yes', fix: "Use true, false, or { container: '<the container this app runs in>' }" },
    { problem: 'a fastFailover container that is not a container name', options: lease({ fastFailover: { container: 'App_1' } }), option: 'lease.fastFailover.container', value: 'App_1', fix: 'as the pod spec names it (a DNS-1123 label)' },
    { problem: 'a typo inside fastFailover', options: lease({ fastFailover: { contain: 'app' } }), option: 'lease.fastFailover.contain', value: 'app', fix: 'did you mean `lease.fastFailover.container`' },
    { problem: 'zero shards', options: { ...lease({}), shards: 0 }, option: 'shards', value: 0, fix: 'Use a whole number from 1 (not split) to 64' },
    { problem: 'more shards than the bound', options: { ...lease({}), shards: 65 }, option: 'shards', value: 65, fix: 'Use a whole number from 1 (not split) to 64' },
    { problem: 'a fractional number of shards', options: { ...lease({}), shards: 2.5 }, option: 'shards', value: 2.5, fix: 'Use a whole number' },
    { problem: 'shards given as a string', options: { ...lease({}), shards: '4' }, option: 'shards', value: '4', fix: 'Use a whole number' },
    { problem: 'shards on the sidecar backend', options: { ...sidecar({}), shards: 4 }, option: 'shards', value: 4, fix: 'shards need the lease backend' },
    { problem: "an election's shards on the sidecar backend", options: { elections: { reports: { backend: 'sidecar', shards: 2 } } }, option: 'elections.reports.shards', value: 2, fix: 'shards need the lease backend' },
    { problem: "an election named like another election's shard", options: { ...lease({}), shards: 2, elections: { 'default-shard-1': lease({ name: 'other' }) } }, option: 'elections.default-shard-1', value: 'default-shard-1', fix: "Election 'default' is split into 2 shards named default-shard-0 to default-shard-1" },
    { problem: "two elections sharing shard Lease names (one's Lease is another's shard)", options: { ...lease({ name: 'jobs' }), shards: 3, elections: { reports: lease({ name: 'jobs-shard-2' }) } }, option: 'elections.reports.lease.name', value: 'jobs-shard-2', fix: "Election 'default-shard-2' already uses the Lease default/jobs-shard-2 (an election split into shards uses the Leases <lease.name>-shard-0, -1, ...)" },
    { problem: 'two split elections on the same Lease name', options: { ...lease({ name: 'jobs' }), shards: 2, elections: { reports: { ...lease({ name: 'jobs' }), shards: 2 } } }, option: 'elections.reports.lease.name', value: 'jobs-shard-0', fix: "Election 'default-shard-0' already uses the Lease default/jobs-shard-0" },
    { problem: 'a kubeConfig that is not a KubeConfig', options: lease({ kubeConfig: { clusters: [] } }), option: 'lease.kubeConfig', value: '(not a KubeConfig)', fix: 'Pass a KubeConfig from @kubernetes/client-node' },
    { problem: "an extra election named 'default'", options: { elections: { default: { backend: 'standalone' } } }, option: 'elections.default', value: { backend: 'standalone' }, fix: "The election 'default' is the one described by the top-level options; give this election another name." },
    { problem: 'an election name with spaces', options: { elections: { 'nightly reports': {} } }, option: 'elections.nightly reports', value: 'nightly reports', fix: 'Election names use letters, digits' },
    { problem: 'an election that is not an object', options: { elections: { reports: 'lease' } }, option: 'elections.reports', value: 'lease', fix: "Pass an object with the election's options." },
    { problem: 'a typo inside an election', options: { elections: { reports: { backend: 'lease', lease: { name: 'reports', renewDeadline: 1 } } } }, option: 'elections.reports.lease.renewDeadline', value: 1, fix: 'did you mean `elections.reports.lease.renewDeadlineMs`' },
    { problem: 'two elections on the same Lease', options: { ...lease({}), elections: { reports: lease({}) } }, option: 'elections.reports.lease.name', value: 'app-leader', fix: "Election 'default' already uses the Lease default/app-leader; give each election its own Lease." },
    { problem: 'a callback that is not a function', options: { onStartedLeading: 'log it' }, option: 'onStartedLeading', value: 'log it', fix: 'Pass a function, or leave it out.' },
    { problem: "an election's callback that is not a function", options: { elections: { reports: { onNewLeader: true } } }, option: 'elections.reports.onNewLeader', value: true, fix: 'Pass a function' },
    { problem: 'elections given as an array', options: { elections: ['reports'] }, option: 'elections', value: ['reports'], fix: 'Pass an object of election options keyed by election name' },
    { problem: 'elections given as a string', options: { elections: 'reports' }, option: 'elections', value: 'reports', fix: 'Pass an object of election options keyed by election name' },
  ])('rejects $problem, naming the option and the fix', ({ options, option, value, fix }) => {
    const error = configErrorOf(options);

    expect(error).toBeInstanceOf(LeaderElectionConfigError);
    expect(error.name).toBe('LeaderElectionConfigError');
    expect(error.option).toBe(option);
    expect(error.value).toEqual(value);
    expect(error.message).toMatch(new RegExp(`^LeaderElectionModule: option \`${escapeRegExp(option)}\` is `));
    expect(error.message).toContain(fix);
  });

  it('says why a lease needs a name when backend auto chose it inside Kubernetes', () => {
    const error = configErrorOf({}, environment({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' } }));

    expect(error.option).toBe('lease.name');
    expect(error.message).toContain("Backend 'auto' chose 'lease' because KUBERNETES_SERVICE_HOST is set, and a Lease needs a name.");
  });

  it('rejects a missing identity when no pod name can be found anywhere', () => {
    const error = configErrorOf({}, environment({ env: { MY_POD_NAME: ' ', HOSTNAME: '' }, hostname: () => '' }));

    expect(error.option).toBe('identity');
    expect(error.message).toContain('No pod name was found (MY_POD_NAME, POD_NAME, HOSTNAME and the host name are empty).');
  });

  it.each([
    { problem: 'an unknown backend', leaderElection: { backend: 'zookeeper' }, option: 'backend' },
    { problem: 'an invalid lease name', leaderElection: { backend: 'lease', lease: { name: 'Bad_Name' } }, option: 'lease.name' },
  ])('stops the app from compiling on $problem', async ({ leaderElection, option }) => {
    const compiling = compileApp({ leaderElection: leaderElection as LeaderElectionModuleOptions });

    await expect(compiling).rejects.toThrow(LeaderElectionConfigError);
    await expect(compiling).rejects.toMatchObject({ option });
  });
});

describe('option blocks for a backend not chosen here', () => {
  it.each([
    ['lease.name', { lease: { name: 'Bad_Name' } }],
    ['lease.leaseDuration', { lease: { name: 'ok', leaseDuration: 15 } }],
    ['sidecar.url', { backend: 'standalone', sidecar: { url: 'localhost:4040' } }],
  ])('are still checked (%s), so a mistake shows outside the cluster first', (option, options) => {
    expect(configErrorOf(options).option).toBe(option);
  });
});

describe('identity resolution', () => {
  const podEnv = { MY_POD_NAME: 'from-my-pod-name', POD_NAME: 'from-pod-name', HOSTNAME: 'from-hostname' };

  it.each([
    { source: 'the identity option', options: { identity: 'from-option' }, env: podEnv, identity: 'from-option' },
    { source: 'MY_POD_NAME', options: {}, env: podEnv, identity: 'from-my-pod-name' },
    { source: 'POD_NAME', options: {}, env: { ...podEnv, MY_POD_NAME: undefined }, identity: 'from-pod-name' },
    { source: 'POD_NAME when MY_POD_NAME is blank', options: {}, env: { ...podEnv, MY_POD_NAME: ' ' }, identity: 'from-pod-name' },
    { source: 'HOSTNAME', options: {}, env: { HOSTNAME: 'from-hostname' }, identity: 'from-hostname' },
    { source: 'the host name', options: {}, env: {}, identity: 'laptop' },
  ])('comes from $source first', ({ options, env, identity }) => {
    const resolved = resolveOptions({ backend: 'standalone', ...options }, environment({ env }));

    expect(resolved.identity).toBe(identity);
    expect(resolved.elections.map((election) => election.identity)).toEqual([identity]);
  });
});

describe('namespace resolution', () => {
  it.each([
    { source: 'the namespace option', namespace: 'from-option', env: { POD_NAMESPACE: 'from-env' }, serviceAccount: 'from-file', expected: 'from-option' },
    { source: 'POD_NAMESPACE', namespace: undefined, env: { POD_NAMESPACE: 'from-env' }, serviceAccount: 'from-file', expected: 'from-env' },
    { source: "the service account's namespace file", namespace: undefined, env: {}, serviceAccount: 'from-file', expected: 'from-file' },
    { source: "'default'", namespace: undefined, env: {}, serviceAccount: undefined, expected: 'default' },
  ])('comes from $source first', ({ namespace, env, serviceAccount, expected }) => {
    const election = defaultElection(
      { backend: 'lease', lease: { name: 'app-leader', ...(namespace ? { namespace } : {}) } },
      environment({ env, readServiceAccountNamespace: () => serviceAccount }),
    );

    expect(election.backend === 'lease' && election.lease.namespace).toBe(expected);
  });
});

/**
 * 'auto' with no Lease block: the types require `lease.name` for 'auto' (it holds a Lease whenever
 * it runs in a cluster), but the runtime accepts it outside a cluster, as JavaScript callers and
 * untyped configuration may pass it.
 */
const AUTO_WITHOUT_LEASE = { identity: 'pod-a' } as LeaderElectionModuleOptions;

describe("backend 'auto'", () => {
  it('chooses standalone outside Kubernetes and says why', () => {
    const election = defaultElection(AUTO_WITHOUT_LEASE);

    expect(election.backend).toBe('standalone');
    expect(election.autoReason).toContain('KUBERNETES_SERVICE_HOST is not set');
  });

  it('chooses lease when KUBERNETES_SERVICE_HOST is set', () => {
    const election = defaultElection(
      { identity: 'pod-a', lease: { name: 'app-leader' } },
      environment({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', POD_NAMESPACE: 'shop' } }),
    );

    expect(election).toMatchObject({ backend: 'lease', lease: { name: 'app-leader', namespace: 'shop' } });
    expect(election.autoReason).toContain('KUBERNETES_SERVICE_HOST is set');
  });

  it('leaves no reason when the backend was chosen explicitly', () => {
    expect(defaultElection({ identity: 'pod-a', backend: 'standalone' }).autoReason).toBeUndefined();
  });
});

describe('startup messages', () => {
  it("warn when 'auto' chose standalone, saying why and that several replicas outside Kubernetes would all run every job", async () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
    const { leader, logger } = await start({ leaderElection: AUTO_WITHOUT_LEASE });

    expect(leader.isLeader()).toBe(true);
    expect(logger.messages('warn')).toEqual([
      "Election 'default': backend 'auto' chose 'standalone' because KUBERNETES_SERVICE_HOST is not set (not running inside Kubernetes), " +
        'so this process leads alone, without asking anyone: several replicas started outside Kubernetes all lead, and all run every job. ' +
        "Fine for one process on a laptop or in CI. To run several replicas outside Kubernetes, use backend 'lease' with a kubeconfig (KUBECONFIG or lease.kubeConfig).",
    ]);
    expect(logger.messages('log', "backend 'auto'")).toEqual([]);
  });

  it('say that this pod leads once, not once more as "the leader is"', async () => {
    const { logger } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' } });

    expect(logger.messages('log', "Election 'default'")).toEqual([
      "Election 'default': this pod (pod-a) is now the leader: backend 'standalone' always leads.",
    ]);
  });

  it('warn when standalone runs inside Kubernetes, where every replica would lead', async () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    const { logger } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' } });

    expect(logger.messages('warn')).toEqual([
      expect.stringContaining("Election 'default' uses backend 'standalone' inside Kubernetes (KUBERNETES_SERVICE_HOST is set): every replica leads"),
    ]);
  });
});

describe('shards', () => {
  it('split a Lease election into elections <name>-shard-<i> on the Leases <lease>-shard-<i>, with the same timings', () => {
    const resolved = resolveOptions({ identity: 'pod-a', backend: 'lease', lease: { name: 'jobs', leaseDurationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 1_000 }, shards: 3, elections: { mail: { backend: 'lease', lease: { name: 'mail' } } } }, environment());
    expect(resolved.elections.map((election) => election.name)).toEqual(['default-shard-0', 'default-shard-1', 'default-shard-2', 'mail']);
    expect(resolved.elections.slice(0, 3).map((election) => election.backend === 'lease' && [election.lease.name, election.lease.leaseDurationMs, election.shard])).toEqual([
      ['jobs-shard-0', 6_000, { group: 'default', index: 0, count: 3 }],
      ['jobs-shard-1', 6_000, { group: 'default', index: 1, count: 3 }],
      ['jobs-shard-2', 6_000, { group: 'default', index: 2, count: 3 }],
    ]);
    expect(resolved.shardGroups).toEqual([{ name: 'default', shards: ['default-shard-0', 'default-shard-1', 'default-shard-2'] }]);
  });

  it('are not split where one process leads everything (auto outside Kubernetes, standalone), and say so at start', async () => {
    const resolved = resolveOptions({ identity: 'pod-a', lease: { name: 'jobs' }, shards: 4 }, environment());
    expect(resolved.elections.map((election) => election.name)).toEqual(['default']);
    expect(resolved.shardsNotInForce).toEqual([{ election: 'default', shards: 4, backend: 'standalone' }]);
    const { logger } = await start({ leaderElection: { identity: 'pod-a', lease: { name: 'jobs' }, shards: 4 } });
    expect(logger.messages('warn', "Election 'default': shards: 4 is not in force on the standalone backend (backend 'auto' chose it: KUBERNETES_SERVICE_HOST is not set")).toHaveLength(1);
  });
});

describe('defaults', () => {
  it("are Kubernetes' own for a Lease", () => {
    const election = defaultElection({ identity: 'pod-a', backend: 'lease', lease: { name: 'app-leader' } });

    expect(election.backend === 'lease' && election.lease).toEqual({
      name: 'app-leader',
      namespace: 'default',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      requestTimeoutMs: 5_000,
      releaseOnShutdown: true,
      kubeConfig: undefined,
    });
    expect(LEASE_DEFAULTS).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
  });

  it.each([
    [true, {}],
    [{}, {}],
    [{ container: 'app' }, { container: 'app' }],
  ])('turn fast failover on with lease.fastFailover %j (off by default)', (fastFailover, resolved) => {
    const on = defaultElection({ identity: 'pod-a', backend: 'lease', lease: { name: 'app-leader', fastFailover } });
    const off = defaultElection({ identity: 'pod-a', backend: 'lease', lease: { name: 'app-leader', fastFailover: false } });

    expect(on.backend === 'lease' && on.lease.fastFailover).toEqual(resolved);
    expect(off.backend === 'lease' && off.lease.fastFailover).toBeUndefined();
  });

  it.each([
    { renewDeadlineMs: 10_000, leaseDurationMs: 15_000, retryPeriodMs: 2_000, requestTimeoutMs: 5_000 },
    { renewDeadlineMs: 1_500, leaseDurationMs: 2_000, retryPeriodMs: 1_000, requestTimeoutMs: 1_000 },
    { renewDeadlineMs: 30_000, leaseDurationMs: 60_000, retryPeriodMs: 5_000, requestTimeoutMs: 15_000 },
  ])('gives a Lease request timeout of max(1000, renewDeadlineMs / 2) = $requestTimeoutMs', ({ requestTimeoutMs, ...timings }) => {
    const election = defaultElection({ identity: 'pod-a', backend: 'lease', lease: { name: 'app-leader', ...timings } });

    expect(election.backend === 'lease' && election.lease.requestTimeoutMs).toBe(requestTimeoutMs);
  });

  it('poll the sidecar at http://localhost:4040 every second', () => {
    const election = defaultElection({ identity: 'pod-a', backend: 'sidecar' });

    expect(election.backend === 'sidecar' && { ...election.sidecar, url: election.sidecar.url.href }).toEqual({
      url: 'http://localhost:4040/',
      pollIntervalMs: 1_000,
      requestTimeoutMs: 500,
      maxBodyBytes: 4_096,
    });
    expect(SIDECAR_DEFAULTS).toMatchObject({ url: 'http://localhost:4040', pollIntervalMs: 1_000 });
  });

  it('keep the sidecar request timeout within a short poll interval', () => {
    const election = defaultElection({ identity: 'pod-a', backend: 'sidecar', sidecar: { pollIntervalMs: 200 } });

    expect(election.backend === 'sidecar' && election.sidecar.requestTimeoutMs).toBe(200);
  });

  it('wait up to 10 s for running jobs on shutdown', () => {
    expect(resolveOptions({ backend: 'standalone', identity: 'pod-a' }, environment()).drainTimeoutMs).toBe(10_000);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
