import { describeValue } from '../leader-election.messages.js';

/**
 * A bad option, found at startup. The message names the option, the value and the fix, so the
 * app refuses to start instead of running with an election that can never work.
 */
export class LeaderElectionConfigError extends Error {
  override readonly name = 'LeaderElectionConfigError';

  /**
   * @param option the option (or environment variable) to change, e.g. `lease.renewDeadlineMs`
   * @param value the value it has
   * @param fix what to do about it
   */
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly fix: string,
  ) {
    super(`LeaderElectionModule: option \`${option}\` is ${describeValue(value)}. ${fix}`);
  }
}
