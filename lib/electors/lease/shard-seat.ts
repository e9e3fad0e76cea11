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

/** The pod a request annotation names, or undefined for anything else (written by hand, or garbled). */
export function shardRequester(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    const pod = (parsed as { pod?: unknown } | null)?.pod;
    return typeof pod === 'string' && pod !== '' ? pod : undefined;
  } catch {
    return undefined;
  }
}

/** When a request annotation says it was written (ms since the epoch), or undefined. */
export function shardRequestTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  try {
    const at = (JSON.parse(value) as { at?: unknown } | null)?.at;
    const time = typeof at === 'string' ? Date.parse(at) : Number.NaN;
    return Number.isFinite(time) ? time : undefined;
  } catch {
    return undefined;
  }
}
