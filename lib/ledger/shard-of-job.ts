/**
 * Which shard a job belongs to, from its ledger key alone, the same on every pod and every
 * version: FNV-1a (64 bits) of the key's UTF-8 bytes, then Lamping and Veach's jump consistent
 * hash ("A Fast, Minimal Memory, Consistent Hash Algorithm", 2014). Going from N to N + 1 shards
 * moves only about 1 / (N + 1) of the jobs, where `hash % N` would move nearly all of them.
 */
export function shardOfJob(ledgerKey: string, shards: number): number {
  let key = fnv1a64(ledgerKey);
  let bucket = -1;
  let next = 0;
  while (next < shards) {
    bucket = next;
    key = (key * 2862933555777941757n + 1n) & MASK_64;
    next = Math.floor((bucket + 1) * (2 ** 31 / Number((key >> 33n) + 1n)));
  }
  return bucket;
}

const MASK_64 = (1n << 64n) - 1n;

function fnv1a64(text: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & MASK_64;
  }
  return hash;
}
