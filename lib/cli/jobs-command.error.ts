/** The `kubectl-leader` exit status (docs/operating-jobs.md#exit-status). */
export const EXIT_OK = 0;
/** The run or backfill did not succeed, or the command could not do its work. */
export const EXIT_FAILED = 1;
/** A bad command line, or a job the Lease does not know. */
export const EXIT_USAGE = 2;
/** No outcome within --timeout (the request stays in the Lease). */
export const EXIT_TIMEOUT = 3;

/**
 * Why a `kubectl-leader` command stops: one line for the user (what happened and what to do), and
 * the exit status it ends with.
 */
export class JobsCommandError extends Error {
  override readonly name = 'JobsCommandError';

  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
