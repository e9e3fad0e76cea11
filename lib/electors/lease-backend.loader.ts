import { optionPrefix, type ResolvedElection } from '../options/resolve-options.js';
import type { KubeConfig } from '@kubernetes/client-node';
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
  const [{ loadKubeConfig }, { LeaseElector }, { ShardBalancer }] = await Promise.all([
    import('./lease/resourcelock/kube-config.js'),
    import('./lease/lease.elector.js'),
    import('./lease/shard-balancer.js'),
  ]);
  // The shards of a split election share its one KubeConfig, loaded once.
  const byOption = new Map<string, KubeConfig>();
  const kubeConfigs = new Map(
    leaseElections.map((election) => {
      const configured = election.shard?.group ?? election.name;
      let kubeConfig = byOption.get(configured);
      if (kubeConfig === undefined) {
        kubeConfig = loadKubeConfig(optionPrefix(configured), election.lease.kubeConfig);
        byOption.set(configured, kubeConfig);
      }
      return [election.name, kubeConfig] as const;
    }),
  );
  return {
    kubeConfigs,
    createElector: (state, lease, kubeConfig, jobs) => LeaseElector.create(state, lease, kubeConfig, jobs),
    balanceShards: (election, electors, lease) => new ShardBalancer(election, (electors as InstanceType<typeof LeaseElector>[]).map((elector) => elector.seat), lease),
  };
}
