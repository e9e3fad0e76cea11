import { describe, expect, it } from 'vitest';
import { decideShards, type SeenShard } from '../lib/electors/lease/shard-share.js';

/** Shards as pod `me` sees them: a holder per shard ('' free), with optional fresh requesters. */
function seen(me: string, holders: string[], requesters: Record<number, string> = {}): SeenShard[] {
  return holders.map((holder, index) => ({ holder: holder === '' ? null : holder, leading: holder === me, requester: requesters[index] }));
}

/** Applies every pod's decisions in turn until nothing changes; returns the holders and the steps taken. */
function settle(pods: string[], holders: string[], rounds = 20): { holders: string[]; moves: number } {
  const current = [...holders];
  const requests: Record<number, string> = {};
  let moves = 0;
  for (let round = 0; round < rounds; round++) {
    let changed = false;
    for (const pod of pods) {
      const decision = decideShards(pod, seen(pod, current, requests));
      for (const { index } of decision.handOver) {
        current[index] = '';
        changed = true;
        moves++;
      }
      if (decision.request !== null && requests[decision.request.index] !== pod) {
        requests[decision.request.index] = pod;
        changed = true;
      }
      const after = decideShards(pod, seen(pod, current, requests));
      after.mayTake.forEach((may, index) => {
        if (may && current[index] === '') {
          current[index] = pod;
          changed = true;
        }
      });
    }
    // A request is taken care of once its shard moved to its asker.
    for (const [index, pod] of Object.entries(requests)) if (current[Number(index)] === pod) delete requests[Number(index)];
    if (!changed) return { holders: current, moves };
  }
  throw new Error(`did not settle: ${current.join(',')}`);
}

const countOf = (holders: string[], pod: string) => holders.filter((holder) => holder === pod).length;

describe('the shard rules (shard-share.ts)', () => {
  it('a lone pod may take every free shard', () => {
    expect(decideShards('a', seen('a', ['', '', '', ''])).mayTake).toEqual([true, true, true, true]);
  });

  it('a pod takes free shards only up to its share, the ones it prefers first', () => {
    const decision = decideShards('c', seen('c', ['a', 'a', 'b', 'b', '', '']));
    // Three live pods (a, b, and c itself), six shards: a share of two, both free ones.
    expect(decision.mayTake).toEqual([false, false, false, false, true, true]);
    const full = decideShards('c', seen('c', ['a', 'a', 'b', 'c', 'c', '']));
    expect(full.mayTake).toEqual([false, false, false, false, false, false]);
  });

  it('never takes a free shard another pod asked for while the request is fresh', () => {
    const decision = decideShards('b', seen('b', ['a', '', 'b'], { 1: 'c' }));
    expect(decision.mayTake[1]).toBe(false);
    expect(decideShards('c', seen('c', ['a', '', 'b'], { 1: 'c' })).mayTake[1]).toBe(true);
  });

  it('a request is met once its asker leads its share: a free shard it once asked for is anyone\'s', () => {
    // c asked for shard 5 during the rollout and leads its share since; d joins and finds 5 free.
    const decision = decideShards('d', seen('d', ['b', 'b', 'c', 'c', 'b', ''], { 5: 'c', 2: 'c' }));
    expect(decision.mayTake[5]).toBe(true);
    // Nor does a met request make its shard's holder hand it over.
    expect(decideShards('b', seen('b', ['b', 'b', 'c', 'c', 'd', 'd'], { 0: 'c' })).handOver).toEqual([]);
  });

  it('hands over the surplus above ceil(shards / live pods), the shards others asked for first', () => {
    const decision = decideShards('a', seen('a', ['a', 'a', 'a', 'a', 'a', 'a'], { 1: 'b' }));
    expect(decision.handOver.map(({ index }) => index)).toEqual([1, 5, 4]);
    expect(decision.handOver[0].why).toBe('this pod leads 6 of 6 shards, more than its share of 3 with 2 pods');
  });

  it('hands one shard to a pod that asked and leads at least two fewer; not to one that leads one fewer', () => {
    expect(decideShards('a', seen('a', ['a', 'a', 'b', 'b', 'c', 'c'], { 1: 'd' })).handOver).toEqual([{ index: 1, why: 'd leads 0 of 6 shards and asked for this one; this pod leads 2' }]);
    expect(decideShards('a', seen('a', ['a', 'a', 'b', 'b', 'c', 'd'], { 1: 'd' })).handOver).toEqual([]);
  });

  it('asks the pod that leads the most (ties by name) for one shard when two short and nothing is free; nobody asks in steady state', () => {
    expect(decideShards('d', seen('d', ['a', 'a', 'b', 'b', 'c', 'c'])).request).toMatchObject({ from: 'a' });
    expect([0, 1]).toContain(decideShards('d', seen('d', ['a', 'a', 'b', 'b', 'c', 'c'])).request!.index);
    expect(decideShards('d', seen('d', ['a', 'a', 'b', 'b', 'c', 'd'])).request).toBeNull();
    expect(decideShards('e', seen('e', ['a', 'b', 'c', 'd'])).request).toBeNull();
    // Something is free: take it rather than ask.
    expect(decideShards('d', seen('d', ['a', 'a', 'a', 'b', 'c', ''])).request).toBeNull();
  });

  it.each([
    [['a', 'b', 'c'], 6, 'a'],
    [['a', 'b', 'c', 'd'], 6, 'a'],
    [['a', 'b', 'c'], 16, 'a'],
    [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], 16, 'a'],
    [['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'], 4, 'a'],
    [['a', 'b', 'c'], 1, 'a'],
  ])('%j pods over %i shards all first held by one settle within one of each other, with few moves', (pods, shards, first) => {
    const { holders, moves } = settle(pods, Array.from({ length: shards }, () => first));
    const counts = pods.map((pod) => countOf(holders, pod));
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    expect(holders.every((holder) => holder !== '')).toBe(true);
    // Each move takes a shard off the pod that held too many: never more moves than shards.
    expect(moves).toBeLessThanOrEqual(shards);
  });

  it('a pod joining a settled spread takes its share; one leaving leaves its shards to the rest', () => {
    const joined = settle(['a', 'b', 'c'], ['a', 'a', 'a', 'b', 'b', 'b']).holders;
    expect(['a', 'b', 'c'].map((pod) => countOf(joined, pod))).toEqual([2, 2, 2]);
    const left = settle(['a', 'b'], joined.map((holder) => (holder === 'c' ? '' : holder))).holders;
    expect(['a', 'b'].map((pod) => countOf(left, pod))).toEqual([3, 3]);
  });
});
