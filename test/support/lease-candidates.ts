import type { ModuleMetadata, Provider } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { ClusterLeaderService, LeaderElectionModule, type LeaderElectionModuleOptions, type LeaseOptions } from '../../lib/index.js';
import { KubeApiServer } from './kube-apiserver/index.js';
import { LeadershipTimeline } from './leadership-timeline.js';
import { RecordingLogger } from './nest-app.js';

export interface LeaseCandidate {
  identity: string;
  user: string;
  app: TestingModule;
  leader: ClusterLeaderService;
  closed: boolean;
}

export interface CandidateSpec {
  identity: string;
  /** The API server user it authenticates as. @default identity */
  user?: string;
  /** The default election's Lease options (name, namespace and kubeConfig are filled in). */
  lease?: Partial<LeaseOptions>;
  /** Anything else for LeaderElectionModule.forRoot(). */
  module?: Omit<LeaderElectionModuleOptions, 'identity' | 'backend' | 'lease'>;
  providers?: Provider[];
  /** More modules for the app (e.g. TerminusModule). */
  imports?: ModuleMetadata['imports'];
}

/**
 * Real Nest apps electing on the test apiserver, all tracked on one leadership timeline.
 * `setUp()`/`tearDown()` in beforeEach/afterEach give a fresh server per test and close
 * everything after it. They share one logger: Nest's Logger is global to the process, so the
 * last app's `setLogger` would receive every app's lines anyway.
 */
export class LeaseCandidates {
  server!: KubeApiServer;
  timeline!: LeadershipTimeline;
  logger!: RecordingLogger;
  readonly all: LeaseCandidate[] = [];
  private readonly users = new Set<string>();

  constructor(readonly leaseName: string) {}

  async setUp(): Promise<void> {
    this.server = await KubeApiServer.start();
    this.timeline = new LeadershipTimeline();
    this.logger = new RecordingLogger();
    this.all.length = 0;
    this.users.clear();
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.all.filter((c) => !c.closed).map((c) => c.app.close()));
    this.timeline.stop();
    await this.server.close();
  }

  /** Adds the API user once; several processes of one identity share its credentials. */
  user(name: string): string {
    if (!this.users.has(name)) {
      this.server.addUser(name);
      this.users.add(name);
    }
    return name;
  }

  async start({ identity, user = identity, lease = {}, module = {}, providers = [], imports = [] }: CandidateSpec): Promise<LeaseCandidate> {
    this.user(user);
    const kubeConfig = this.server.kubeConfig(user);
    const elections = Object.fromEntries(
      Object.entries(module.elections ?? {}).map(([name, election]) => [
        name,
        election.lease ? { ...election, lease: { namespace: 'default', kubeConfig, ...election.lease } } : election,
      ]),
    );
    const app = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        LeaderElectionModule.forRoot({
          ...module,
          elections,
          identity,
          backend: 'lease',
          lease: { namespace: 'default', kubeConfig, ...lease, name: lease.name ?? this.leaseName },
        }),
        ...imports,
      ],
      providers,
    })
      .setLogger(this.logger)
      .compile();
    await app.init();
    const candidate: LeaseCandidate = { identity, user, app, leader: app.get(ClusterLeaderService), closed: false };
    this.all.push(candidate);
    return candidate;
  }

  /** Starts it and records its leadership on the timeline under `label` (default: identity). */
  async startTracked(spec: CandidateSpec, label = spec.identity): Promise<LeaseCandidate> {
    const candidate = await this.start(spec);
    this.timeline.track(label, candidate.leader);
    return candidate;
  }

  async close(candidate: LeaseCandidate): Promise<void> {
    candidate.closed = true;
    await candidate.app.close();
  }

  holder(name = this.leaseName): string | undefined {
    return this.server.getLease('default', name)?.spec.holderIdentity;
  }
}

/** Resolves after `ms` of real time: only for windows in which something must NOT happen. */
export function quietWindow(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
