import { afterEach, describe, expect, it } from 'vitest';
import { ShardBalancer } from '../lib/electors/lease/shard-balancer.js';
import type { ShardSeat, ShardView } from '../lib/electors/lease/shard-seat.js';

/**
 * The balancer against seats whose elector consults the shard policy on its own schedule, as the
 * Lease elector does (on every watch event and after every round), not only when the balancer
 * judges. Found by the sharded churn bench: a shard whose Lease was deleted while its holder was
 * cut off stayed free for ever.
 */
class FakeSeat implements ShardSeat {
  view: ShardView = { holder: null, leading: false, campaigning: true, request: undefined };
  policy: (() => boolean) | undefined;
  reconsidered = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly identity: string) {}
  shardView(): ShardView {
    return this.view;
  }
  useShardPolicy(mayTake: () => boolean): void {
    this.policy = mayTake;
  }
  onObserved(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  observe(): void {
    for (const listener of this.listeners) listener();
  }
  handOverShard(): void {}
  annotate(): Promise<void> {
    return Promise.resolve();
  }
  reconsider(): void {
    this.reconsidered++;
  }
}

const nextMacrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('ShardBalancer', () => {
  let balancer: ShardBalancer | undefined;
  afterEach(() => balancer?.stop());

  it('an elector told "not now" between two judgements is told again once it may take the shard (no shard left free for ever)', async () => {
    const seats = [new FakeSeat('pod-c'), new FakeSeat('pod-c')];
    // pod-c leads shard 1; shard 0 is free (its Lease deleted while its holder was cut off).
    seats[1].view = { ...seats[1].view, holder: 'pod-c', leading: true };
    balancer = new ShardBalancer('default', seats, { leaseDurationMs: 60_000, retryPeriodMs: 60_000 });
    balancer.start();
    expect(seats[0].policy!()).toBe(true);
    // A moment later, before the balancer judges again, shard 1 is seen held by pod-a and a third
    // pod, pod-b, holds shard 0 by the elector's view: its elector asks and is told no (it then
    // only watches, and waits to be told).
    seats[1].view = { ...seats[1].view, holder: 'pod-a', leading: false };
    seats[0].view = { ...seats[0].view, holder: 'pod-b' };
    expect(seats[0].policy!()).toBe(false);
    // Shard 0 is free again (deleted): the balancer's next judgement must wake its elector, though
    // the balancer itself never judged it "no".
    seats[0].view = { ...seats[0].view, holder: null };
    const before = seats[0].reconsidered;
    seats[1].observe();
    await nextMacrotask();
    expect(seats[0].reconsidered).toBeGreaterThan(before);
  });

  it('an elector that was never told "no" is not woken on every judgement', async () => {
    const seats = [new FakeSeat('pod-c'), new FakeSeat('pod-c')];
    balancer = new ShardBalancer('default', seats, { leaseDurationMs: 60_000, retryPeriodMs: 60_000 });
    balancer.start();
    expect(seats[0].policy!()).toBe(true);
    const before = seats[0].reconsidered;
    seats[1].observe();
    await nextMacrotask();
    seats[1].observe();
    await nextMacrotask();
    expect(seats[0].reconsidered).toBe(before);
  });
});
