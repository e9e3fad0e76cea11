import type { KubeConfig } from '@kubernetes/client-node';
import type { ElectionState } from '../leadership/election-state.js';
import type { ResolvedElection } from '../options/resolve-options.js';
import { buildElector } from './elector-factory.js';
import type { ElectionJobs, LeaderElector } from './leader-elector.interface.js';
import { LeaseElector } from './lease/lease.elector.js';

/**
 * The elector of one election, with the Lease backend loaded up front: for the
 * `nestjs-cluster-leader-elector` command, which always holds a Lease. The module loads it only
 * when an election needs it (lease-backend.loader.ts).
 *
 * @param kubeConfigs the Lease elections' KubeConfigs, by election, loaded and checked at startup
 */
export function createElector(
  election: ResolvedElection,
  state: ElectionState,
  kubeConfigs: ReadonlyMap<string, KubeConfig>,
  jobs: ElectionJobs,
): LeaderElector {
  return buildElector(election, state, jobs, {
    kubeConfigs,
    createElector: (...args) => LeaseElector.create(...args),
    balanceShards: () => {
      throw new Error(`Election '${election.name}': the elector bin runs one election, never a split one.`);
    },
  });
}
