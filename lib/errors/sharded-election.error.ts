import { SHARDED_ELECTION_ASKED } from '../leader-election.messages.js';

/**
 * A `ClusterLeaderService` call asked who leads an election that is split into shards: each shard
 * has its own leader, so there is no one answer (and "not leader" would be a wrong one).
 */
export class ShardedElectionError extends Error {
  override readonly name = 'ShardedElectionError';

  /**
   * @param election the split election that was asked about
   * @param shards the names of its shards' elections
   */
  constructor(
    readonly election: string,
    readonly shards: readonly string[],
  ) {
    super(SHARDED_ELECTION_ASKED(election, shards));
  }
}
