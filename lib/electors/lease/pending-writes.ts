import type { V1Lease } from '@kubernetes/client-node';
import { setSafeTimeout } from '../../leadership/timers.js';
import { withAnnotations } from './lease-control.js';
import { withLedger, type LeaseRounds, type RoundsContext } from './lease-rounds.js';
import { LeaseApiError } from './resourcelock/lease-api.error.js';

/** What the pending writes need from the elector. */
export interface PendingWritesContext extends RoundsContext {
  readonly rounds: LeaseRounds;
  /** Runs `work` in the elector's write lane: after every write before it, never beside one. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** The earliest (monotonic) time the next write may be sent: after a failure, its spacing or Retry-After. */
  writeAllowedAt(): number;
  /** Plans the next round from what is known now. */
  replan(): void;
}

/** A follower's write of its control changes meets this many conflicts at most before it gives up. */
const CONTROL_WRITE_ATTEMPTS = 3;

/**
 * One write soon for whatever waits for one: claims of ticks and takes of requests (the leader's,
 * on a write of its term that renews the Lease too), and a pod's control changes (pause, resume,
 * a request: on the leader's renew, or on a follower's own conditional write that leaves the
 * election record as it is). At most one such write is in flight and one queued, whatever comes
 * meanwhile rides on it, so a slow API never queues a write per tick; after a failure the next
 * write waits its spacing, or as long as a 429 asked.
 */
export class PendingWrites {
  private queued = false;
  private pauseTimer: NodeJS.Timeout | undefined;

  constructor(private readonly context: PendingWritesContext) {}

  /** Something waits for a write: send one soon (or let the one already queued carry it). */
  request(): void {
    if (this.queued) return;
    this.queued = true;
    const wait = this.context.writeAllowedAt() - this.context.clock.now();
    if (wait > 0) {
      // The API failed or asked for a pause: no request before it ends (a round may carry it first).
      this.pauseTimer = setSafeTimeout(() => this.enqueue(), wait);
      return;
    }
    this.enqueue();
  }

  /** Shutdown: no write waits out a pause any more. */
  stop(): void {
    clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
  }

  private enqueue(): void {
    this.pauseTimer = undefined;
    void this.context.exclusive(async () => {
      this.queued = false;
      await this.write();
    });
  }

  private async write(): Promise<void> {
    const { rounds, ledger, control, clock } = this.context;
    if (rounds.stopped) return;
    const leaderWaits = rounds.holding && (ledger.hasClaims || control.hasTakes || control.hasResults);
    if (!leaderWaits && !control.hasChanges) return; // carried by a round already, or the term ended
    if (this.context.writeAllowedAt() > clock.now()) return this.request(); // a failure since: wait its spacing
    rounds.lastAttemptAt = clock.now();
    if (rounds.holding) await this.renew();
    else await this.writeChanges();
    this.context.replan();
  }

  /**
   * The leader: one conditional write that renews the Lease and carries everything waiting. A
   * conflict re-reads and writes once more if the Lease is still ours. What it does not make
   * good waits for the next write of the term; the next round is due a retry period after it.
   */
  private async renew(): Promise<void> {
    const { rounds, lock } = this.context;
    const outcome = await rounds.write();
    rounds.checkDeadline();
    if (outcome !== 'conflict' || !rounds.holding || rounds.stopped) return;
    let lease: V1Lease | null = null;
    try {
      lease = await lock.get();
    } catch (error) {
      rounds.failed('get', error);
      return;
    }
    rounds.checkDeadline();
    if (lease === null) return rounds.leaseGone('the Lease was deleted');
    rounds.observe(lease);
    if (rounds.holding && !rounds.stopped) await rounds.write();
    rounds.checkDeadline();
  }

  /**
   * A follower: its control changes on a conditional write of the Lease it last saw, the election
   * record untouched (so no one's expiry clock restarts). A conflict re-reads and tries again; a
   * Lease that does not exist, or an API that fails, fails the changes with what it said.
   */
  private async writeChanges(): Promise<void> {
    const { rounds, control, ledger, lock, observation } = this.context;
    let lease = observation.lease;
    for (let attempt = 0; attempt < CONTROL_WRITE_ATTEMPTS; attempt++) {
      try {
        if (lease === null || rounds.cacheStale || attempt > 0) {
          lease = await lock.get();
          if (lease === null) {
            control.failChanges(new Error(`the Lease ${lock.describe()} does not exist yet (no pod has led this election); nothing to change`));
            return;
          }
          rounds.observe(lease);
        }
        const write = control.prepare(lease, { leading: false });
        // What this pod recorded of the ledger goes with it (a resume that skips the missed ticks).
        const ledgerWrite = ledger.prepare(lease);
        const written = await lock.update(withAnnotations(withLedger(lease, ledgerWrite), write.edits));
        control.written(write);
        ledger.written(ledgerWrite);
        rounds.observe(written);
        return;
      } catch (error) {
        const apiError = LeaseApiError.from('update', error);
        if (apiError.status !== 409) {
          control.failChanges(new Error(`the Kubernetes API failed (${apiError.message})`));
          return;
        }
        lease = null;
      }
    }
    control.failChanges(new Error(`the Lease ${lock.describe()} kept changing under ${CONTROL_WRITE_ATTEMPTS} conditional writes; try again`));
  }
}
