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
   * @param module the module whose option it is
   */
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly fix: string,
    readonly module: string = 'LeaderElectionModule',
  ) {
    super(`${module}: option \`${option}\` is ${describeValue(value)}. ${fix}`);
  }
}
