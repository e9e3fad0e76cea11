import type { LedgerEntry } from './ledger-record.js';

/**
 * The job ledger of one election, as the gate uses it. The Lease backend keeps it in its Lease,
 * written by the leader with the same conditional PUT that renews the Lease; other backends have
 * no storage to keep one in, and their jobs do not claim ticks.
 */
export interface TickLedger {
  /** The job's last claim as this process knows it (the Lease's, with its own unwritten updates). */
  entry(key: string): LedgerEntry | undefined;
  /**
   * Records the claim with one conditional write that renews the Lease too. Resolves true only if
   * the write succeeded within this process's current term `term`, which is still running: then,
   * and only then, may the tick run. Any failure (a conflict, the API down, the deadline passed,
   * another term, shutdown) resolves false.
   */
  claim(key: string, entry: LedgerEntry): Promise<boolean>;
  /** Records how a claimed run ended; written with the next renew (or the release). */
  complete(key: string, entry: LedgerEntry): void;
}
