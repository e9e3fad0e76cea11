import type { ElectionHealth } from '../observability/election-health.js';

/** `GET /<path>/api/elections`: this pod, whether the mutating endpoints are on, and each election's state and health. */
export interface ControlElectionsAnswer {
  /** This pod's identity. */
  identity: string;
  /** Whether the mutating endpoints are mounted (the dashboard shows its buttons then). */
  mutations: boolean;
  /** Each election, as `ClusterLeaderService.health(election)` reports it. */
  elections: ElectionHealth[];
}
