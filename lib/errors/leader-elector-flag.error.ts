/**
 * A bad command line for the `nestjs-cluster-leader-elector` command: the message names the flag,
 * the value and the fix. The command prints it and exits with status 2.
 */
export class LeaderElectorFlagError extends Error {
  override readonly name = 'LeaderElectorFlagError';

  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}
