import type { ElectionState } from '../leadership/election-state.js';
import type { ResolvedElection } from '../options/resolve-options.js';
import type { ElectionJobs, LeaderElector } from './leader-elector.interface.js';
import { LeaseElector } from './lease/lease.elector.js';
import { SidecarElector } from './sidecar.elector.js';
import { StandaloneElector } from './standalone.elector.js';

export function createElector(election: ResolvedElection, state: ElectionState, jobs: ElectionJobs): LeaderElector {
  switch (election.backend) {
    case 'standalone':
      return new StandaloneElector(state);
    case 'sidecar':
      return new SidecarElector(state, election.sidecar);
    case 'lease':
      return LeaseElector.create(state, election.lease, jobs);
  }
}
