import type { LedgerEntry } from './ledger-record.js';

/**
 * The last fire time at or before `untilMs` (wall-clock ms) of a job that may claim ahead now;
 * undefined when it may not (paused, its cron switched off or stopped) or has none.
 */
export type ClaimAhead = (untilMs: number) => number | undefined;

/**
 * The job ledger of one election, as the gate uses it. The Lease backend keeps it in its Lease,
 * written by the leader with the same conditional PUT that renews the Lease; other backends have
 * no storage to keep one in, and their jobs do not claim ticks.
 */
export interface TickLedger {
  /** The job's last claim as this process knows it (the Lease's, with its own unwritten claims and records). */
  entry(key: string): LedgerEntry | undefined;
  /**
   * Milliseconds since the job's last claim was made, measured on this process's own monotonic
   * clock (never another pod's wall clock), and never more than the truth: the cadence of an
   * @Interval() job across pods. Undefined when the job has no entry.
   */
  sinceClaimMs(key: string): number | undefined;
  /**
   * The job's last claim is still open but provably never ran: the term that made it released the
   * Lease, which happens only once that term's jobs have finished and recorded how they ended
   * (a claim whose write was applied while its answer was lost, given up at shutdown).
   */
  claimNeverRan(key: string): boolean;
  /**
   * Records the claim with a conditional write that renews the Lease too (one write carries every
   * claim made meanwhile). Resolves true only once a write carrying it succeeded within this
   * process's current term `entry.term`, which is still running: then, and only then, may the
   * tick run. A write that fails leaves the claim for the next one of the term (a retry period,
   * or the server's Retry-After, later); the term ending, shutdown, or `notAfterMs` (wall-clock
   * ms) passing before any write carried it, resolves false. With `ahead`, the term's writes
   * from then on claim the job's fire times a little ahead, and a claim inside that window
   * resolves true at once, without a write.
   */
  claim(key: string, entry: LedgerEntry, notAfterMs?: number, ahead?: ClaimAhead): Promise<boolean>;
  /** Records how a claimed run ended; written with the next write, never over a later entry. */
  complete(key: string, entry: LedgerEntry): void;
  /**
   * Records a run made without a claim (`claim: false`), written with the next write: a later
   * version that claims this job does not catch up the ticks it ran.
   */
  ranUnclaimed(key: string, entry: LedgerEntry): void;
  /**
   * Marks the job's fire times up to `entry.fireTime` as done without running them (a resume that
   * skips what the pause missed), with the next write of this pod, never over a later entry.
   */
  skipTo(key: string, entry: LedgerEntry): void;
}
