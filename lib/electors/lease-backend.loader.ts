import { DEFAULT_ELECTION } from '../leader-election.constants.js';
import type { ResolvedElection } from '../options/resolve-options.js';
import type { LeaseBackend } from './elector-factory.js';

/**
 * Loads the Lease backend (the elector, and @kubernetes/client-node under it) when an election uses
 * it, and loads and checks each Lease election's kubeconfig; resolves undefined when none does, so
 * that a standalone or sidecar app never loads client-node. Runs while the app is created (an
 * async provider), so an unusable kubeconfig stops the app before it starts, with a
 * LeaderElectionConfigError that says what to fix.
 */
export async function loadLeaseBackend(elections: readonly ResolvedElection[]): Promise<LeaseBackend | undefined> {
  const leaseElections = elections.filter((election) => election.backend === 'lease');
  if (leaseElections.length === 0) return undefined;
  const [{ loadKubeConfig }, { LeaseElector }] = await Promise.all([
    import('./lease/resourcelock/kube-config.js'),
    import('./lease/lease.elector.js'),
  ]);
  const kubeConfigs = new Map(
    leaseElections.map((election) => [
      election.name,
      loadKubeConfig(election.name === DEFAULT_ELECTION ? '' : `elections.${election.name}.`, election.lease.kubeConfig),
    ] as const),
  );
  return { kubeConfigs, createElector: (state, lease, kubeConfig, jobs) => LeaseElector.create(state, lease, kubeConfig, jobs) };
}
