import { EventEmitter, once } from 'node:events';
import type { Subscription } from 'rxjs';
import type { ClusterLeaderService, LeadershipState } from '../../lib/index.js';

export interface LeadershipInterval {
  identity: string;
  start: number;
  end: number | undefined;
  term: number | null;
}

/**
 * Records, on this process's monotonic clock, every interval during which each candidate said it
 * leads, so a test can assert that no two intervals ever overlap. A candidate's interval ends when
 * it emits "not leader", which is never earlier than its belief really ended: the record can only
 * show overlaps that did not happen, never hide one that did.
 */
export class LeadershipTimeline extends EventEmitter {
  readonly intervals: LeadershipInterval[] = [];
  private readonly subscriptions: Subscription[] = [];

  /** @param election the election to follow (one shard of a split one, say) @default 'default' */
  track(identity: string, leader: ClusterLeaderService, election?: string): void {
    this.subscriptions.push(
      leader.changes(election).subscribe((state: LeadershipState) => {
        const open = this.openInterval(identity);
        if (state.isLeader && open === undefined) {
          this.intervals.push({ identity, start: performance.now(), end: undefined, term: state.term });
        } else if (!state.isLeader && open !== undefined) {
          open.end = performance.now();
        }
        this.emit('change', identity, state);
      }),
    );
  }

  /** The candidate currently leading, if any. */
  current(): string | undefined {
    return this.intervals.find((interval) => interval.end === undefined)?.identity;
  }

  openInterval(identity: string): LeadershipInterval | undefined {
    return this.intervals.find((interval) => interval.identity === identity && interval.end === undefined);
  }

  /** Resolves when the predicate holds (checked now and after every change). */
  async until(predicate: () => boolean, signal: AbortSignal = AbortSignal.timeout(20_000)): Promise<void> {
    while (!predicate()) await once(this, 'change', { signal });
  }

  /** Resolves with the identity of the next candidate (other than `except`) that starts leading. */
  async nextLeader(except?: string): Promise<string> {
    await this.until(() => {
      const leader = this.current();
      return leader !== undefined && leader !== except;
    });
    return this.current()!;
  }

  assertNoOverlap(): void {
    const sorted = [...this.intervals].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1];
      if (previous.end === undefined || previous.end > sorted[i].start) {
        throw new Error(`Two leaders at once: ${JSON.stringify(previous)} overlaps ${JSON.stringify(sorted[i])}`);
      }
    }
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
  }
}
