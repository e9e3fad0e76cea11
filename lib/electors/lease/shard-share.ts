/**
 * The rules that spread the shards of a split election over the pods, as one pod applies them
 * to what it sees. Every pod applies the same rules to nearly the same view, and each acts only on
 * its own shards (hand over) or on free ones (take), so no coordination is needed beyond the
 * Leases' conditional writes, which still decide every acquisition.
 *
 * - The live pods are the holders of unexpired shards, the pods with a fresh request, and this
 *   one. A pod's share is ceil(shards / live pods).
 * - A pod takes a free shard only while it leads fewer than its share, the free shards it prefers
 *   first (a hash of its name and the shard's index: pods prefer different ones, so they seldom
 *   race), and never one another pod asked for while that request is fresh and unmet (its asker leads fewer than its share).
 * - A pod that leads more than its share hands the surplus over (the shards others asked for
 *   first). A pod asked for a shard by a pod that leads at least two fewer hands that one over.
 * - A pod that leads at least two fewer than the pod that leads the most, with no shard free, asks
 *   that pod for one (an annotation on one of its shards). That is how a pod that leads nothing is
 *   seen at all; in steady state (counts differ by at most one) nobody writes anything.
 * Each step moves a shard from a pod with more to a pod with fewer, so they settle and never flap.
 */

export interface SeenShard {
  /** Who holds it; null when free (released, expired, never held). */
  holder: string | null;
  /** This pod leads it (not handing it over). */
  leading: boolean;
  /** The pod that asked for it, when that request is fresh. */
  requester: string | undefined;
}

export interface ShardDecision {
  /** Per shard: whether this pod may take it when free. */
  mayTake: boolean[];
  /** Shards this pod hands over now, and why (for its log line). */
  handOver: { index: number; why: string }[];
  /** A shard to ask for: one of the pod that leads the most. */
  request: { index: number; from: string } | null;
}

export function decideShards(me: string, shards: readonly SeenShard[]): ShardDecision {
  const total = shards.length;
  const counts = new Map<string, number>();
  for (const { holder } of shards) if (holder !== null) counts.set(holder, (counts.get(holder) ?? 0) + 1);
  const live = new Set([...counts.keys(), me]);
  for (const { requester } of shards) if (requester !== undefined) live.add(requester);
  const share = Math.ceil(total / live.size);
  const mine = shards.flatMap((shard, index) => (shard.leading ? [index] : []));
  // A request is met once its asker leads its share: it holds no shard for it any more.
  const asker = (index: number) => {
    const requester = shards[index].requester;
    return requester !== undefined && requester !== me && (counts.get(requester) ?? 0) < share ? requester : undefined;
  };
  const askedByOther = (index: number) => asker(index) !== undefined;

  const handOver: ShardDecision['handOver'] = [];
  if (mine.length > share) {
    const surplus = [...mine].sort((a, b) => Number(askedByOther(b)) - Number(askedByOther(a)) || b - a).slice(0, mine.length - share);
    for (const index of surplus) handOver.push({ index, why: `this pod leads ${mine.length} of ${total} shards, more than its share of ${share} with ${live.size} pods` });
  } else {
    for (const index of mine) {
      const requester = asker(index);
      const theirs = requester === undefined ? 0 : (counts.get(requester) ?? 0);
      if (requester !== undefined && theirs + 2 <= mine.length) {
        handOver.push({ index, why: `${requester} leads ${theirs} of ${total} shards and asked for this one; this pod leads ${mine.length}` });
        break;
      }
    }
  }

  const room = share - (mine.length - handOver.length);
  const free = shards
    .map((shard, index) => ({ shard, index }))
    .filter(({ shard, index }) => shard.holder === null && !askedByOther(index))
    .sort((a, b) => preference(me, b.index) - preference(me, a.index))
    .slice(0, Math.max(0, room))
    .map(({ index }) => index);
  const mayTake = shards.map((_, index) => free.includes(index));

  let request: ShardDecision['request'] = null;
  if (handOver.length === 0 && !shards.some((shard) => shard.holder === null)) {
    let richest: string | undefined;
    let most = 0;
    for (const [pod, count] of counts) {
      if (pod !== me && (count > most || (count === most && richest !== undefined && pod < richest))) {
        richest = pod;
        most = count;
      }
    }
    if (richest !== undefined && most >= mine.length + 2) {
      const theirs = shards.flatMap((shard, index) => (shard.holder === richest ? [index] : []));
      const index = theirs.sort((a, b) => preference(me, b) - preference(me, a))[0];
      request = { index, from: richest };
    }
  }
  return { mayTake, handOver, request };
}

/** A pod's preference for a shard (rendezvous hashing): pods prefer different shards. */
function preference(pod: string, index: number): number {
  let hash = 0x811c9dc5;
  for (const char of `${pod}/${index}`) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
