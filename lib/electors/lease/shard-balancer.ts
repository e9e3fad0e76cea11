import { Logger } from '@nestjs/common';
import { monotonicNow } from '../../leadership/monotonic-clock.js';
import { setSafeTimeout } from '../../leadership/timers.js';
import { SHARD_REQUESTED } from '../../leader-election.messages.js';
import { decideShards, type SeenShard, type ShardDecision } from './shard-share.js';
import { decodeShardRequest, encodeShardRequest, SHARD_REQUEST_ANNOTATION, type ShardSeat } from './shard-seat.js';

export interface ShardBalancerOptions {
  /** A request counts as fresh for this long after this pod saw it change (its own monotonic clock). */
  leaseDurationMs: number;
  /** How often the view is judged again without a change (expiries and requests age). */
  retryPeriodMs: number;
  now?: () => number;
  wallNow?: () => Date;
}

/**
 * Spreads the shards of one split election over the pods (the rules are shard-share.ts): tells
 * each shard's elector whether it may take its Lease when free, hands over this pod's surplus,
 * and asks the pod that leads the most for a shard when this one leads at least two fewer. It
 * reads only what the shard electors already watch (every pod is a candidate for every shard, so
 * it sees every shard Lease), and writes only a request, which steady state never needs.
 */
export class ShardBalancer {
  private readonly logger = new Logger('LeaderElection');
  private readonly now: () => number;
  private readonly wallNow: () => Date;
  /** Each shard's request annotation as last seen, the pod it names, and when it changed (monotonic). */
  private readonly requests: { value: string | undefined; requester: string | undefined; changedAt: number }[];
  /**
   * What each shard's elector was last told when it asked (on its own schedule: every watch event
   * and round). One told "no" only watches its Lease, and must be told when the answer turns yes:
   * a free shard gets no watch event of its own (a deleted Lease, an expiry).
   */
  private readonly lastAnswer: (boolean | undefined)[];
  private lastRequestAt = Number.NEGATIVE_INFINITY;
  /** How many shards this pod led when it last asked. */
  private leadingWhenAsked = 0;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private readonly unsubscribers: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly election: string,
    private readonly seats: readonly ShardSeat[],
    private readonly options: ShardBalancerOptions,
  ) {
    this.now = options.now ?? monotonicNow;
    this.wallNow = options.wallNow ?? (() => new Date());
    this.requests = seats.map(() => ({ value: undefined, requester: undefined, changedAt: Number.NEGATIVE_INFINITY }));
    this.lastAnswer = seats.map(() => undefined);
    seats.forEach((seat, index) => {
      seat.useShardPolicy(() => (this.lastAnswer[index] = this.decide().mayTake[index]));
      this.unsubscribers.push(seat.onObserved(() => this.evaluateSoon()));
    });
  }

  start(): void {
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.soon);
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  /** What the rules say now, from every shard as this pod sees it. */
  decide(): ShardDecision {
    const now = this.now();
    const seen: SeenShard[] = this.seats.map((seat, index) => {
      const view = seat.shardView();
      const request = this.requests[index];
      if (view.request !== request.value) {
        // Decoded once per change: decide() runs on every round of every shard.
        const decoded = decodeShardRequest(view.request);
        request.value = view.request;
        request.requester = decoded?.pod;
        // A request written more than a lease duration ago (by its own clock) is stale however new
        // it is to this pod: a pod that starts must not take an old, met request for a live one
        // (it would leave the shard free for a lease duration, and count a gone asker as live).
        const old = decoded?.atMs !== undefined && this.wallNow().getTime() - decoded.atMs > this.options.leaseDurationMs;
        request.changedAt = old ? Number.NEGATIVE_INFINITY : now;
      }
      const fresh = now - request.changedAt < this.options.leaseDurationMs;
      return { holder: view.holder, leading: view.leading, requester: fresh ? request.requester : undefined };
    });
    return decideShards(this.seats[0].identity, seen);
  }

  private tick(): void {
    if (this.stopped) return;
    this.evaluate();
    this.timer = setSafeTimeout(() => this.tick(), this.options.retryPeriodMs);
  }

  /** After a Lease was taken in: judge again once the elector's own handling of it is done. */
  private evaluateSoon(): void {
    if (this.stopped || this.soon !== undefined) return;
    this.soon = setSafeTimeout(() => {
      this.soon = undefined;
      this.evaluate();
    }, 0);
  }

  private evaluate(): void {
    if (this.stopped || !this.seats.every((seat) => seat.shardView().campaigning)) return;
    const decision = this.decide();
    for (const { index, why } of decision.handOver) this.seats[index].handOverShard(why);
    if (decision.request !== null) this.ask(decision.request.index, decision.request.from);
    decision.mayTake.forEach((may, index) => {
      // A shard this pod may take now whose elector was last told it may not: it plans a round at
      // once (and asks again, which records the new answer).
      if (may && this.lastAnswer[index] === false) {
        this.lastAnswer[index] = undefined;
        this.seats[index].reconsider();
      }
    });
  }

  /** Asks for one shard of the pod that leads the most. */
  private ask(index: number, from: string): void {
    const now = this.now();
    const leading = this.seats.filter((other) => other.shardView().leading).length;
    // Once per half lease duration, unless the last request was met (this pod leads more since):
    // a pod that joins many shards short may need several steps, each a request.
    if (now - this.lastRequestAt < this.options.leaseDurationMs / 2 && leading <= this.leadingWhenAsked) return;
    this.lastRequestAt = now;
    this.leadingWhenAsked = leading;
    const seat = this.seats[index];
    this.logger.log(SHARD_REQUESTED(this.election, index, from, leading, this.seats.length));
    seat.annotate({ [SHARD_REQUEST_ANNOTATION]: encodeShardRequest(seat.identity, this.wallNow()) }).catch(() => {
      // Asked again after half a lease duration, if still needed; the write's failure is the
      // elector's to report (API faults are logged once per change of state).
    });
  }
}
