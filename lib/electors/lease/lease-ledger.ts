import type { V1Lease } from '@kubernetes/client-node';
import { decodeLedger, encodeLedger, LEDGER_ANNOTATION, type LedgerEntry } from '../../ledger/ledger-record.js';

/** What a write of the ledger carries, to be settled once the write's outcome is known. */
export interface LedgerWrite {
  /** The annotation value to write, or undefined to leave the annotation as it is. */
  value: string | undefined;
  /** The pending entries this write carries. */
  carried: ReadonlyMap<string, LedgerEntry>;
}

/**
 * The job ledger kept in the election's Lease (the `nestjs-cluster-leader/ledger` annotation),
 * from the elector's side: the entries the Lease holds, plus the updates this process has made
 * and not yet written. Every write of the elector (acquire, renew, claim, release) carries the
 * whole ledger, built on the Lease it is conditional on, so the ledger is as linearizable as the
 * Lease itself: a write based on an outdated ledger is a 409, never a lost claim.
 */
export class LeaseLedger {
  private readonly pending = new Map<string, LedgerEntry>();
  /**
   * Keys whose pending entry puts back an older one (a claim that may have been applied though
   * its tick never ran): it wins over the Lease's entry, but only within the term that made it.
   */
  private readonly rollbacks = new Set<string>();
  /** Problems of the last decoded value, kept to report each once. */
  private lastProblems = '';
  /**
   * The ledger annotation of the last Lease seen. When the Lease is deleted, a candidate that
   * re-creates it writes this ledger into the new one, as it carries on the term count: deleting
   * the Lease must not make a new leader forget which ticks already ran.
   */
  private remembered: string | undefined;
  /** The last value decoded: the gate asks on every tick, the Lease changes every renew. */
  private decoded: { value: string | undefined; result: ReturnType<typeof decodeLedger> } | undefined;

  constructor(private readonly onProblem: (problem: string) => void) {}

  /** The ledger as this process knows it: the Lease's entries, its own unwritten updates on top. */
  entry(lease: V1Lease | null, key: string): LedgerEntry | undefined {
    return this.effective(key, this.decode(lease).ledger.get(key));
  }

  /**
   * This process's update wins over the Lease's entry if it is a rollback of its own term, or if
   * it is not older: an update from an earlier term of ours (a completion not yet written when
   * the term ended) must never undo a later claim by another leader.
   */
  private effective(key: string, stored: LedgerEntry | undefined): LedgerEntry | undefined {
    const mine = this.pending.get(key);
    if (mine === undefined) return stored;
    if (this.rollbacks.has(key) || stored === undefined || mine.fireTime >= stored.fireTime) return mine;
    return stored;
  }

  /** Whether this process may write the ledger of this Lease (false: a newer format, leave it). */
  writable(lease: V1Lease | null): boolean {
    return this.decode(lease).newerVersion === undefined;
  }

  /** Every Lease the elector takes in: the ledger to carry over should the Lease be deleted. */
  seen(lease: V1Lease): void {
    this.remembered = lease.metadata?.annotations?.[LEDGER_ANNOTATION];
  }

  /** Adds an update, written with the next write. */
  update(key: string, entry: LedgerEntry): void {
    this.pending.set(key, entry);
    this.rollbacks.delete(key);
  }

  /** Puts an older entry back with the next write, whatever the Lease says (this term only). */
  rollback(key: string, entry: LedgerEntry): void {
    this.pending.set(key, entry);
    this.rollbacks.add(key);
  }

  /**
   * A new term of this process begins. Its completions of earlier runs are still facts and are
   * written (unless a later claim supersedes them, see effective()); its rollbacks are not.
   */
  newTerm(): void {
    for (const key of this.rollbacks) this.pending.delete(key);
    this.rollbacks.clear();
  }

  /** The annotation for a write conditional on `lease`. */
  prepare(lease: V1Lease | null): LedgerWrite {
    const decoded = this.decode(lease);
    const carried = new Map(this.pending);
    // Nothing new for a Lease that holds its ledger already: leave the annotation as it is.
    if (decoded.newerVersion !== undefined || (carried.size === 0 && lease !== null && lease.metadata?.annotations?.[LEDGER_ANNOTATION] !== undefined)) {
      return { value: undefined, carried: new Map() };
    }
    if (carried.size === 0 && decoded.ledger.size === 0) return { value: undefined, carried };
    const merged = new Map(decoded.ledger);
    for (const [key, entry] of carried) {
      if (this.effective(key, decoded.ledger.get(key)) === entry) merged.set(key, entry);
      else this.forget(key, entry); // superseded by a later claim in the Lease
    }
    const { value, evicted } = encodeLedger(merged);
    if (evicted.length > 0) this.onProblem(`the ledger is full; dropped the entries of ${evicted.join(', ')}`);
    return { value, carried };
  }

  /** The write succeeded: what it carried is in the Lease now (unless updated again meanwhile). */
  written({ carried }: LedgerWrite): void {
    for (const [key, entry] of carried) this.forget(key, entry);
  }

  /** Drops an update that was not written (a failed claim: the tick did not run). */
  forget(key: string, entry: LedgerEntry): void {
    if (this.pending.get(key) !== entry) return;
    this.pending.delete(key);
    this.rollbacks.delete(key);
  }

  private decode(lease: V1Lease | null) {
    const value = lease === null ? this.remembered : lease.metadata?.annotations?.[LEDGER_ANNOTATION];
    if (this.decoded !== undefined && this.decoded.value === value) return this.decoded.result;
    const decoded = decodeLedger(value);
    this.decoded = { value, result: decoded };
    const problems = decoded.newerVersion !== undefined
      ? `it was written in format ${decoded.newerVersion}, newer than this version knows; no tick is claimed until this pod is updated`
      : decoded.problems.join('; ');
    if (problems !== '' && problems !== this.lastProblems) this.onProblem(problems);
    this.lastProblems = problems;
    return decoded;
  }
}
