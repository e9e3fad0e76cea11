import type { LedgerEntry } from '../../ledger/ledger-record.js';
import type { ClaimAhead, TickLedger } from '../../ledger/tick-ledger.interface.js';
import type { LeaseRounds, RoundsContext } from './lease-rounds.js';
import type { PendingWrites } from './pending-writes.js';

/** What the claims need from the elector. */
export interface ClaimsContext extends RoundsContext {
  readonly rounds: LeaseRounds;
  /** Sends a write soon, carrying every claim made meanwhile. */
  readonly writes: PendingWrites;
}

/**
 * The job ledger of one election as the gate uses it (TickLedger), kept in the election's Lease.
 * A claim is visible to the next plan at once, and is made good at once inside the window the
 * term's writes claim ahead (see claim-windows.ts), else by the next write of this process's term
 * that carries it (see PendingWrites: sent soon, unless the API asked for a pause,
 * or the round that renews anyway); a write that fails leaves its claims for the next one while
 * the term lasts.
 */
export class LeaseClaims implements TickLedger {
  constructor(private readonly context: ClaimsContext) {}

  entry(key: string): LedgerEntry | undefined {
    return this.context.ledger.entry(key);
  }

  sinceClaimMs(key: string): number | undefined {
    return this.context.ledger.sinceClaimMs(key);
  }

  claimNeverRan(key: string): boolean {
    return this.context.ledger.claimNeverRan(key);
  }

  claim(key: string, entry: LedgerEntry, notAfterMs = Number.POSITIVE_INFINITY, ahead?: ClaimAhead): Promise<boolean> {
    const { rounds, ledger, observation, state } = this.context;
    if (rounds.stopped || !rounds.holding || rounds.handingOver || entry.term !== rounds.ownTerm?.leaseTransitions || !state.isLeader()) {
      return Promise.resolve(false);
    }
    if (!ledger.writable(observation.lease)) return Promise.resolve(false);
    // Inside the window a write of this term claimed ahead: no write of its own (claim-windows.ts).
    if (ledger.claimInWindow(key, entry, ahead)) return Promise.resolve(true);
    const claimed = ledger.claim(key, entry, notAfterMs, ahead);
    this.context.writes.request();
    return claimed;
  }

  complete(key: string, entry: LedgerEntry): void {
    this.context.ledger.complete(key, entry);
  }

  ranUnclaimed(key: string, entry: LedgerEntry): void {
    this.context.ledger.record(key, entry);
  }

  skipTo(key: string, entry: LedgerEntry): void {
    // Settled up to the entry, like a run that ended: the term's own view and window move on too.
    this.context.ledger.complete(key, entry);
  }
}
