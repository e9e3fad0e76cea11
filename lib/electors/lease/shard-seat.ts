import type { AnnotationEdits } from './lease-control.js';

/**
 * The annotation a pod that leads too few shards writes on one shard of the pod that leads the
 * most, asking for it: `{"pod":"<identity>","at":"<ISO time>"}`. The holder hands that shard over
 * (see shard-share.ts); other pods leave it to the asker while the request is fresh.
 */
export const SHARD_REQUEST_ANNOTATION = 'nestjs-cluster-leader/shard-request';

/** One shard as this pod sees it. */
export interface ShardView {
  /** Who holds it, or null when it is free by this pod's own observation (released, expired, never held). */
  holder: string | null;
  /** This pod leads it (and is not handing it over). */
  leading: boolean;
  /** This pod still campaigns (false once shutdown began). */
  campaigning: boolean;
  /** The shard request annotation's value, as the Lease last seen carries it. */
  request: string | undefined;
}

/** What the balancer needs of each shard's elector (LeaseElector). */
export interface ShardSeat {
  readonly identity: string;
  shardView(): ShardView;
  useShardPolicy(mayTake: () => boolean): void;
  onObserved(listener: () => void): () => void;
  handOverShard(why: string): void;
  annotate(edits: AnnotationEdits): Promise<void>;
  reconsider(): void;
}

export function encodeShardRequest(pod: string, at: Date): string {
  return JSON.stringify({ pod, at: at.toISOString() });
}

/** A request annotation's pod and the time it says it was written, or undefined for anything else (written by hand, or garbled). */
export function decodeShardRequest(value: string | undefined): { pod: string; atMs: number | undefined } | undefined {
  if (value === undefined) return undefined;
  let parsed: { pod?: unknown; at?: unknown } | null;
  try {
    parsed = JSON.parse(value) as { pod?: unknown; at?: unknown } | null;
  } catch {
    return undefined;
  }
  const pod = parsed?.pod;
  if (typeof pod !== 'string' || pod === '') return undefined;
  const atMs = typeof parsed?.at === 'string' ? Date.parse(parsed.at) : Number.NaN;
  return { pod, atMs: Number.isFinite(atMs) ? atMs : undefined };
}
