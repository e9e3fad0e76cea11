import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import type { ElectionOptions } from '../interfaces/leader-election-options.interface.js';
import { optionPrefix } from './option-path.js';

/**
 * The `shards` option: checked, and an election split into one election per shard (see
 * docs/shards.md). Part of resolveOptions(), kept apart as its own step.
 */

/** One shard of an election split by its `shards` option: an election of its own, on its own Lease. */
export interface ResolvedShard {
  /** The election the user configured (its jobs name it). */
  group: string;
  index: number;
  count: number;
}

/** An election split into shards, and the names of the elections its shards are. */
export interface ResolvedShardGroup {
  name: string;
  /** `<name>-shard-<i>`, by index. */
  shards: readonly string[];
}

/** The most shards an election may have: each is a Lease renewed every retry period, and a watch per pod. */
export const MAX_SHARDS = 64;

/** The election of one shard (see ResolvedShard). */
export function shardElectionName(group: string, index: number): string {
  return `${group}-shard-${index}`;
}

/**
 * Elections with `shards` that run unsplit, since their backend ('auto' outside Kubernetes, or
 * 'standalone') leads every job in this one process: for the warning at start.
 */
export type ShardsNotInForce = readonly { election: string; shards: number; backend: string }[];

export function resolveShards(prefix: string, options: ElectionOptions): { count: number; backend: string | undefined } {
  const count = options.shards ?? 1;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > MAX_SHARDS) {
    throw new LeaderElectionConfigError(`${prefix}shards`, count, `Use a whole number from 1 (not split) to ${MAX_SHARDS}: each shard is a Lease renewed every retry period and watched by every pod; a few per replica is plenty.`);
  }
  if (count > 1 && options.backend === 'sidecar') {
    throw new LeaderElectionConfigError(`${prefix}shards`, count, 'The sidecar backend has one leader for everything; shards need the lease backend (backend: \'lease\', or \'auto\' inside Kubernetes).');
  }
  return { count, backend: options.backend };
}

/**
 * Each Lease election with `shards` > 1 becomes that many elections, `<name>-shard-<i>` on the
 * Leases `<lease.name>-shard-<i>`: everything an election promises then holds per shard as it is.
 */
/** What splitting reads of a resolved election (resolve-options.ts' ResolvedElection). */
interface SplittableElection {
  name: string;
  backend: string;
  lease?: { name: string };
  shard?: ResolvedShard;
}

export function splitIntoShards<E extends SplittableElection>(
  elections: E[],
  shardCounts: ReadonlyMap<string, { count: number }>,
): { split: E[]; shardGroups: ResolvedShardGroup[]; shardsNotInForce: ShardsNotInForce } {
  const split: E[] = [];
  const shardGroups: ResolvedShardGroup[] = [];
  const shardsNotInForce: { election: string; shards: number; backend: string }[] = [];
  const names = new Set(elections.map((election) => election.name));
  for (const election of elections) {
    const { count } = shardCounts.get(election.name)!;
    if (count === 1) {
      split.push(election);
      continue;
    }
    if (election.backend !== 'lease' || election.lease === undefined) {
      shardsNotInForce.push({ election: election.name, shards: count, backend: election.backend });
      split.push(election);
      continue;
    }
    const shards: string[] = [];
    for (let index = 0; index < count; index++) {
      const name = shardElectionName(election.name, index);
      if (names.has(name)) {
        throw new LeaderElectionConfigError(`elections.${name}`, name, `Election '${election.name}' is split into ${count} shards named ${shardElectionName(election.name, 0)} to ${shardElectionName(election.name, count - 1)}; give this election another name.`);
      }
      const lease = { ...election.lease, name: `${election.lease.name}-shard-${index}` };
      if (lease.name.length > 253) {
        throw new LeaderElectionConfigError(`${optionPrefix(election.name)}lease.name`, election.lease.name, `Its shards' Leases are named ${election.lease.name}-shard-<i>, longer than Kubernetes' 253 characters; use a shorter name.`);
      }
      split.push({ ...election, name, lease, shard: { group: election.name, index, count } } as E);
      shards.push(name);
    }
    shardGroups.push({ name: election.name, shards });
  }
  return { split, shardGroups, shardsNotInForce };
}
