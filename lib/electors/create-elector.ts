import type { KubeConfig } from '@kubernetes/client-node';
import type { ElectionState } from '../leadership/election-state.js';
import type { ResolvedElection } from '../options/resolve-options.js';
import type { ElectionJobs, LeaderElector } from './leader-elector.interface.js';
import { LeaseElector } from './lease/lease.elector.js';
import { SidecarElector } from './sidecar.elector.js';
import { StandaloneElector } from './standalone.elector.js';

/**
 * Builds the elector of one election. The orchestrator uses this one unless the module provides
 * another under ELECTOR_FACTORY (the testing module does, to drive leadership from a test).
 */
export type ElectorFactory = (election: ResolvedElection, state: ElectionState, jobs: ElectionJobs) => LeaderElector;

/** Injection token of a replacement ElectorFactory. */
export const ELECTOR_FACTORY = Symbol('nestjs-cluster-leader:elector-factory');

/** @param kubeConfigs the Lease elections' KubeConfigs, by election, loaded and checked at startup */
export function createElector(
  election: ResolvedElection,
  state: ElectionState,
  kubeConfigs: ReadonlyMap<string, KubeConfig>,
  jobs: ElectionJobs,
): LeaderElector {
  switch (election.backend) {
    case 'standalone':
      return new StandaloneElector(state);
    case 'sidecar':
      return new SidecarElector(state, election.sidecar);
    case 'lease': {
      const kubeConfig = kubeConfigs.get(election.name);
      if (kubeConfig === undefined) throw new Error(`Election '${election.name}': no KubeConfig was loaded at startup.`);
      return LeaseElector.create(state, election.lease, kubeConfig, jobs);
    }
  }
}
