import { UNKNOWN_ELECTION_REQUESTED } from '../leader-election.messages.js';

/**
 * A `ClusterLeaderService` call named an election that the module does not configure: a typo, or
 * an election missing from the `elections` option. Thrown at the call (reading an election that
 * does not exist has no safe answer), never swallowed as "not leader".
 */
export class UnknownElectionError extends Error {
  override readonly name = 'UnknownElectionError';

  /**
   * @param election the name that was asked for
   * @param configured the names of the elections the module configures
   */
  constructor(
    readonly election: string,
    readonly configured: readonly string[],
  ) {
    super(UNKNOWN_ELECTION_REQUESTED(election, configured));
  }
}
