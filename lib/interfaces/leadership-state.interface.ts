/** What one election looks like from this pod, as emitted on every change. */
export interface LeadershipState {
  /** The election's name. */
  election: string;
  /** This pod's identity. */
  identity: string;
  /** True while this pod may act as the leader. */
  isLeader: boolean;
  /** The leader this pod observes, or null when none is known (fail closed). */
  leader: string | null;
  /**
   * The term of the current leadership: the Lease's `leaseTransitions`, which grows with every
   * change of holder while the Lease object exists and restarts at 0 when it is re-created. Not a
   * fencing token (use `currentLeaderJob().fencingToken` in a job). Null for backends without terms.
   */
  term: number | null;
}
