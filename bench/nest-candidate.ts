import { Module, type INestApplicationContext, type Provider } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ClusterLeaderService, LeaderElectionModule, type LeaderElectionModuleOptions } from '../lib/index.js';
import type { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { benchLogger } from './bench-logger.js';

/** A Lease's timings, as the module's `lease` options take them. */
export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
export const SHORT_TIMINGS: LeaseTimings = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

/** One candidate: a whole Nest application context, as a pod would run it. */
export interface NestCandidate {
  identity: string;
  /** The API server user it authenticates as (its own unless shared), for counts and partitions. */
  user: string;
  app: INestApplicationContext;
  leader: ClusterLeaderService;
  closed: boolean;
}

/** A real Nest application (ScheduleModule + LeaderElectionModule + the given providers). */
export async function startNestApp(options: LeaderElectionModuleOptions, providers: Provider[] = []): Promise<INestApplicationContext> {
  class BenchCandidateModule {}
  Module({ imports: [ScheduleModule.forRoot(), LeaderElectionModule.forRoot(options)], providers })(BenchCandidateModule);
  return NestFactory.createApplicationContext(BenchCandidateModule, { logger: benchLogger, abortOnError: false });
}

export interface LeaseCandidateSpec {
  server: KubeApiServer;
  identity: string;
  /** Its API user; a second process with the same identity gets its own. @default identity */
  user?: string;
  leaseName: string;
  timings: LeaseTimings;
  /** false models a process that dies: it never writes the release. @default true */
  releaseOnShutdown?: boolean;
  /** lease.fastFailover (its pod must exist in the server, named as its identity). @default false */
  fastFailover?: boolean;
  /** The module's `shards`: the default election split over this many Leases. @default 1 (not split) */
  shards?: number;
  providers?: Provider[];
}

/** A Lease-backend candidate with its own API user (named after it), so its requests count apart. */
export async function startLeaseCandidate(spec: LeaseCandidateSpec): Promise<NestCandidate> {
  const user = spec.user ?? spec.identity;
  spec.server.addUser(user);
  const app = await startNestApp(
    {
      identity: spec.identity,
      backend: 'lease',
      lease: {
        name: spec.leaseName,
        namespace: 'default',
        kubeConfig: spec.server.kubeConfig(user),
        ...spec.timings,
        releaseOnShutdown: spec.releaseOnShutdown ?? true,
        fastFailover: spec.fastFailover ?? false,
      },
      ...(spec.shards !== undefined && { shards: spec.shards }),
    },
    spec.providers,
  );
  return { identity: spec.identity, user, app, leader: app.get(ClusterLeaderService), closed: false };
}

export async function closeCandidate(candidate: NestCandidate): Promise<void> {
  if (candidate.closed) return;
  candidate.closed = true;
  await candidate.app.close();
}
