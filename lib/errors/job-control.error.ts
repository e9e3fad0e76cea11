/**
 * A call to steer a job (pause, resume, runNow, backfill) that cannot be carried out as asked: its
 * election keeps no shared state (not the Lease backend), or a backfill's range is wrong. The
 * message names what was asked, why not, and the fix.
 */
export class JobControlError extends Error {
  override readonly name = 'JobControlError';
}
