import type { KubeConfig } from '@kubernetes/client-node';
import type { ElectionState } from '../leadership/election-state.js';
import type { ResolvedElection, ResolvedLease } from '../options/resolve-options.js';
import type { ElectionJobs, LeaderElector } from './leader-elector.interface.js';
import { SidecarElector } from './sidecar.elector.js';
import { StandaloneElector } from './standalone.elector.js';

/**
 * Builds the elector of one election. The orchestrator uses buildElector() unless the module
 * provides another under ELECTOR_FACTORY (the testing module does, to drive leadership from a test).
 */
export type ElectorFactory = (election: ResolvedElection, state: ElectionState, jobs: ElectionJobs) => LeaderElector;

/** Injection token of a replacement ElectorFactory. */
export const ELECTOR_FACTORY = Symbol('nestjs-cluster-leader:elector-factory');

/**
 * The Lease backend's code, and the checked KubeConfig of each Lease election. It is loaded only
 * when an election uses the Lease (see lease-backend.loader.ts): @kubernetes/client-node costs a
 * standalone or sidecar app about 0.4 s and 55 MB to load, for nothing.
 */
export interface LeaseBackend {
  /** The KubeConfig of each election on the Lease backend, by election name, loaded at startup. */
  readonly kubeConfigs: ReadonlyMap<string, KubeConfig>;
  createElector(state: ElectionState, lease: ResolvedLease, kubeConfig: KubeConfig, jobs: ElectionJobs): LeaderElector;
  /**
   * Spreads the shards of a split election over the pods: `electors` are its shards' (built by
   * createElector), in shard order. Returns what stops it (when shutdown begins).
   */
  balanceShards(election: string, electors: readonly LeaderElector[], lease: ResolvedLease): { start(): void; stop(): void };
}

/** Injection token of the loaded LeaseBackend (undefined when no election uses the Lease). */
export const LEASE_BACKEND = Symbol('nestjs-cluster-leader:lease-backend');

/**
 * The elector of one election. `lease` must be the loaded Lease backend when the election uses it.
 */
export function buildElector(
  election: ResolvedElection,
  state: ElectionState,
  jobs: ElectionJobs,
  lease: LeaseBackend | undefined,
): LeaderElector {
  switch (election.backend) {
    case 'standalone':
      return new StandaloneElector(state);
    case 'sidecar':
      return new SidecarElector(state, election.sidecar);
    case 'lease': {
      const kubeConfig = lease?.kubeConfigs.get(election.name);
      if (lease === undefined || kubeConfig === undefined) throw new Error(`Election '${election.name}': the Lease backend and its KubeConfig were not loaded at startup.`);
      return lease.createElector(state, election.lease, kubeConfig, jobs);
    }
  }
}
