import type { INestApplication, ModuleMetadata, Provider } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { ClusterLeaderService, LeaderElectionModule, type LeaderElectionModuleOptions, type LeaseOptions } from '../../lib/index.js';
import { LeaderElectionControlModule, type LeaderElectionControlOptions } from '../../lib/control-http/index.js';
import type { LeaseCandidates } from './lease-candidates.js';
import { RecordingLogger } from './nest-app.js';

export interface ControlAppSpec {
  identity: string;
  /** The Lease backend on this cluster's test apiserver; without it, `leaderElection` decides. */
  cluster?: LeaseCandidates;
  lease?: Partial<LeaseOptions>;
  /** More of LeaderElectionModule's options on the cluster, e.g. `elections` (their Leases on the same apiserver). */
  module?: Omit<LeaderElectionModuleOptions, 'identity' | 'backend' | 'lease'>;
  /** The module's options when there is no cluster. @default standalone */
  leaderElection?: LeaderElectionModuleOptions;
  /** LeaderElectionControlModule.forRoot()'s options; null: the module is not imported. */
  control?: LeaderElectionControlOptions | null;
  providers?: Provider[];
  imports?: ModuleMetadata['imports'];
}

export interface ControlApp {
  app: INestApplication;
  leader: ClusterLeaderService;
  /** http://127.0.0.1:<port> */
  url: string;
  logger: RecordingLogger;
  /** fetch() of a path of the app, e.g. `/leader/api/jobs`. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POST with a JSON body (or none). */
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

/**
 * A real Nest HTTP app (the Express platform) with ScheduleModule, LeaderElectionModule and
 * LeaderElectionControlModule, listening on a free port of 127.0.0.1. Close it with `app.close()`.
 */
export async function startControlApp({ identity, cluster, lease = {}, module = {}, leaderElection, control = {}, providers = [], imports = [] }: ControlAppSpec): Promise<ControlApp> {
  const logger = cluster?.logger ?? new RecordingLogger();
  const kubeConfig = cluster?.server.kubeConfig(cluster.user(identity));
  const options: LeaderElectionModuleOptions = cluster
    ? {
        drainTimeoutMs: 200,
        ...module,
        elections: Object.fromEntries(
          Object.entries(module.elections ?? {}).map(([name, election]) => [name, election.lease ? { ...election, lease: { namespace: 'default', kubeConfig, ...election.lease } } : election]),
        ),
        identity,
        backend: 'lease',
        lease: { namespace: 'default', kubeConfig, ...lease, name: lease.name ?? cluster.leaseName },
      }
    : (leaderElection ?? { backend: 'standalone', identity });
  const moduleRef = await Test.createTestingModule({
    imports: [ScheduleModule.forRoot(), LeaderElectionModule.forRoot(options), ...(control === null ? [] : [LeaderElectionControlModule.forRoot(control)]), ...imports],
    providers,
  })
    .setLogger(logger)
    .compile();
  // forceCloseConnections: a browser keeps its connections open, and close() would wait for them.
  const app = moduleRef.createNestApplication({ logger, forceCloseConnections: true });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const request = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  return {
    app,
    leader: app.get(ClusterLeaderService),
    url,
    logger,
    request,
    post: (path, body, headers = {}) =>
      request(path, {
        method: 'POST',
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      }),
  };
}
