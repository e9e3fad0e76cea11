import type { AnnotationEdits, LeaseControl } from './lease-control.js';
import type { LeaseObservation } from './lease-observation.js';
import type { LeaseRelease } from './lease-release.js';
import type { LeaseRounds } from './lease-rounds.js';
import { SHARD_REQUEST_ANNOTATION, type ShardSeat, type ShardView } from './shard-seat.js';

/** What a shard's seat needs of its Lease elector. */
export interface SeatContext {
  readonly identity: string;
  readonly rounds: LeaseRounds;
  readonly observation: LeaseObservation;
  readonly releases: LeaseRelease;
  readonly control: LeaseControl;
  /** Plans the elector's next round from what is known now. */
  replan(): void;
}

/**
 * One shard of a split election, as its balancer sees and steers it (shard-balancer.ts): the
 * Lease elector's view of the shard, whether it may take the shard when free, the handover, and
 * the request annotation.
 */
export class LeaseShardSeat implements ShardSeat {
  /** Whether this pod may take the Lease when free; undefined: not a shard (always). */
  mayTake: (() => boolean) | undefined;
  private readonly observedListeners = new Set<() => void>();

  constructor(private readonly context: SeatContext) {}

  get identity(): string {
    return this.context.identity;
  }

  shardView(): ShardView {
    const { rounds, observation, identity } = this.context;
    const free = observation.lease === null || observation.isFree();
    return {
      holder: rounds.holding ? identity : free ? null : observation.holder,
      leading: rounds.holding && !rounds.handingOver && !rounds.stopped,
      campaigning: rounds.campaigning && !rounds.stopped,
      request: observation.lease?.metadata?.annotations?.[SHARD_REQUEST_ANNOTATION],
    };
  }

  useShardPolicy(mayTake: () => boolean): void {
    this.mayTake = mayTake;
  }

  onObserved(listener: () => void): () => void {
    this.observedListeners.add(listener);
    return () => this.observedListeners.delete(listener);
  }

  /** The elector took a Lease in: the balancer judges again. */
  observed(): void {
    for (const listener of [...this.observedListeners]) listener();
  }

  handOverShard(why: string): void {
    this.context.releases.handOverShard(why);
  }

  annotate(edits: AnnotationEdits): Promise<void> {
    return this.context.control.annotate(edits);
  }

  reconsider(): void {
    this.context.replan();
  }
}
