import type { KubeConfig } from '@kubernetes/client-node';
import { LeaseLock, type LeaseConnectionOptions } from '../lib/electors/lease/resourcelock/lease-lock.js';
import { LeaseElector } from '../lib/electors/lease/lease.elector.js';
import { ElectionState } from '../lib/leadership/election-state.js';
import type { ResolvedLease } from '../lib/options/resolve-options.js';
import type { LeaseTimings } from './nest-candidate.js';

/**
 * A candidate without Nest: the elector, its lock and its leadership state, wired as the module
 * wires them. Same algorithm and same API calls as a Nest app, a fraction of the memory, so
 * hundreds fit in one process.
 */
export class BareCandidate {
  readonly state: ElectionState;
  private readonly elector: LeaseElector;

  constructor(
    readonly identity: string,
    /** The API server user it authenticates as. */
    readonly user: string,
    kubeConfig: KubeConfig,
    leaseName: string,
    timings: LeaseTimings,
    /** The lock's connection handling; the connections bench turns reuse off to measure the old way. */
    connections: LeaseConnectionOptions = {},
  ) {
    const lease: ResolvedLease = {
      name: leaseName,
      namespace: 'default',
      ...timings,
      // The module's default: half the renew deadline, at least a second.
      requestTimeoutMs: Math.max(1000, Math.floor(timings.renewDeadlineMs / 2)),
      releaseOnShutdown: true,
      kubeConfig,
    };
    this.state = new ElectionState('default', identity);
    this.elector = new LeaseElector(this.state, lease, new LeaseLock(kubeConfig, lease.namespace, lease.name, lease.requestTimeoutMs, connections));
  }

  start(): void {
    this.elector.start();
  }

  /** The module's shutdown order: stop leading first, then stop the elector (which releases). */
  async stop(): Promise<void> {
    this.state.close();
    await this.elector.stop();
  }
}
