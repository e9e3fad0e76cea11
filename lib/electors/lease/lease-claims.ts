import type { V1Lease } from '@kubernetes/client-node';
import { setSafeTimeout } from '../../leadership/timers.js';
import type { LedgerEntry } from '../../ledger/ledger-record.js';
import type { TickLedger } from '../../ledger/tick-ledger.interface.js';
import type { LeaseRounds, RoundsContext } from './lease-rounds.js';

/** What the claims need from the elector. */
export interface ClaimsContext extends RoundsContext {
  readonly rounds: LeaseRounds;
  /** Runs `work` in the elector's write lane: after every write before it, never beside one. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** The earliest (monotonic) time the next write may be sent: after a failure, its spacing or Retry-After. */
  writeAllowedAt(): number;
  /** Plans the next round from what is known now. */
  replan(): void;
}

/**
 * The job ledger of one election as the gate uses it (TickLedger), kept in the election's Lease.
 * A claim is visible to the next plan at once, and is made good by the next write of this
 * process's term that carries it: a write of its own, sent at once unless the API asked for a
 * pause, or the round that renews anyway. One write carries every claim made meanwhile, so a
 * slow API never queues a write per tick, and a write that fails leaves its claims for the next
 * one while the term lasts.
 */
export class LeaseClaims implements TickLedger {
  /** A write for the claims is queued or waiting out a pause: claims made meanwhile ride on it. */
  private writeQueued = false;
  private pauseTimer: NodeJS.Timeout | undefined;

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

  claim(key: string, entry: LedgerEntry, notAfterMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const { rounds, ledger, observation, state } = this.context;
    if (rounds.stopped || !rounds.holding || rounds.handingOver || entry.term !== rounds.ownTerm?.leaseTransitions || !state.isLeader()) {
      return Promise.resolve(false);
    }
    if (!ledger.writable(observation.lease)) return Promise.resolve(false);
    const claimed = ledger.claim(key, entry, notAfterMs);
    this.requestWrite();
    return claimed;
  }

  complete(key: string, entry: LedgerEntry): void {
    this.context.ledger.record(key, entry);
  }

  ranUnclaimed(key: string, entry: LedgerEntry): void {
    this.context.ledger.record(key, entry);
  }

  /** Shutdown: no write waits out a pause any more. */
  stop(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
  }

  private requestWrite(): void {
    if (this.writeQueued) return;
    this.writeQueued = true;
    const wait = this.context.writeAllowedAt() - this.context.clock.now();
    if (wait > 0) {
      // The API failed or asked for a pause: no request before it ends (the round may carry the claims first).
      this.pauseTimer = setSafeTimeout(() => this.enqueue(), wait);
      return;
    }
    this.enqueue();
  }

  private enqueue(): void {
    this.pauseTimer = undefined;
    void this.context.exclusive(async () => {
      this.writeQueued = false;
      await this.write();
    });
  }

  /**
   * One conditional write carrying every claim made so far, which renews the Lease too. A
   * conflict re-reads and writes once more if the Lease is still ours. What it does not make
   * good waits for the next write of the term; the next round is due a retry period after it.
   */
  private async write(): Promise<void> {
    const { rounds, ledger, clock, lock } = this.context;
    if (!ledger.hasClaims || rounds.stopped || !rounds.holding) return; // carried by a round, or the term ended
    if (this.context.writeAllowedAt() > clock.now()) return this.requestWrite(); // a failure since: wait its spacing
    rounds.lastAttemptAt = clock.now();
    const outcome = await rounds.write();
    rounds.checkDeadline();
    if (outcome === 'conflict' && rounds.holding && !rounds.stopped) {
      let lease: V1Lease | null = null;
      let failed = false;
      try {
        lease = await lock.get();
      } catch (error) {
        rounds.failed('get', error);
        failed = true;
      }
      rounds.checkDeadline();
      if (lease === null && !failed) rounds.leaseGone('the Lease was deleted');
      if (lease !== null) {
        rounds.observe(lease);
        if (rounds.holding && !rounds.stopped) await rounds.write();
        rounds.checkDeadline();
      }
    }
    this.context.replan();
  }
}
