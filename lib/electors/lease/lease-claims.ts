import type { V1Lease } from '@kubernetes/client-node';
import type { LedgerEntry } from '../../ledger/ledger-record.js';
import type { TickLedger } from '../../ledger/tick-ledger.interface.js';
import type { LeaseRounds, RoundsContext } from './lease-rounds.js';

/** What the claims need from the elector. */
export interface ClaimsContext extends RoundsContext {
  readonly rounds: LeaseRounds;
  /** Runs `work` in the elector's write lane: after every write before it, never beside one. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** Plans the next round from what is known now. */
  replan(): void;
}

/**
 * The job ledger of one election as the gate uses it (TickLedger), kept in the election's Lease:
 * a claim of a tick is a conditional write of the ledger that renews the Lease too, made in the
 * elector's write lane, so it is ordered with the rounds and conditional on what they left.
 */
export class LeaseClaims implements TickLedger {
  constructor(private readonly context: ClaimsContext) {}

  entry(key: string): LedgerEntry | undefined {
    return this.context.ledger.entry(this.context.observation.lease, key);
  }

  claim(key: string, entry: LedgerEntry): Promise<boolean> {
    return this.context.exclusive(() => this.write(key, entry));
  }

  complete(key: string, entry: LedgerEntry): void {
    // How a run of ours ended is a fact even after the term ended: it is written with our next
    // write, if there is one, and never over a later claim (see LeaseLedger.effective()).
    if (entry.term === this.context.rounds.ownTerm?.leaseTransitions) this.context.ledger.update(key, entry);
  }

  /**
   * A claim of a tick: one conditional write of the ledger that renews the Lease too, within this
   * process's current term. A conflict re-reads and tries once more if the Lease is still ours;
   * any other failure, a change of term, or the renew deadline passing means the tick does not
   * run. The next renew is due a retry period after the claim, which renewed the Lease already.
   */
  private async write(key: string, entry: LedgerEntry): Promise<boolean> {
    const { rounds, ledger, observation, state, faults, clock, options, lock } = this.context;
    const term = rounds.ownTerm?.leaseTransitions;
    if (rounds.stopped || !rounds.holding || rounds.handingOver || entry.term !== term || !state.isLeader()) return false;
    if (!ledger.writable(observation.lease)) return false;
    // The API failed less than a retry period ago: the claim fails closed without a request, so
    // a job that ticks often cannot flood an API that is already down.
    if (faults.lastFailure !== null && clock.now() - rounds.lastAttemptAt < options.retryPeriodMs) return false;
    const previous = ledger.entry(observation.lease, key);
    ledger.update(key, entry);
    rounds.lastAttemptAt = clock.now();
    let outcome = await rounds.write();
    rounds.checkDeadline();
    if (outcome === 'conflict' && rounds.holding && !rounds.stopped) {
      let lease: V1Lease | null = null;
      try {
        lease = await lock.get();
      } catch (error) {
        outcome = rounds.failed('get', error);
      }
      rounds.checkDeadline();
      if (lease === null && outcome === 'conflict') rounds.leaseGone('the Lease was deleted');
      if (lease !== null) {
        rounds.observe(lease);
        if (rounds.holding && !rounds.stopped) outcome = await rounds.write();
        rounds.checkDeadline();
      }
    }
    const claimed = outcome === 'renewed' && rounds.holding && rounds.ownTerm?.leaseTransitions === term && state.isLeader();
    if (!claimed) {
      ledger.forget(key, entry);
      // A write whose answer was lost may have been applied: the Lease would then say this tick
      // is claimed, though it never ran. While this process still holds the Lease, its next write
      // puts the job's entry back as it was, so the tick counts as missed, not as interrupted.
      if (previous !== undefined && rounds.holding) ledger.rollback(key, previous);
    }
    this.context.replan();
    return claimed;
  }
}
