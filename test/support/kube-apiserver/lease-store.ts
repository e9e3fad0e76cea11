import type { Lease } from './types.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One stored version of a Lease. Treat as immutable: readers get copies via `JSON.parse(json)`. */
export interface StoredLease {
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: number;
  readonly lease: Lease;
  /** `JSON.stringify(lease)`, computed once per version and reused by GET, LIST and watches. */
  readonly json: string;
}

/** A change, kept in the history that watches replay from. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly resourceVersion: number;
  /** The object after the change; for DELETED its last state, stamped with the delete's version. */
  readonly current: StoredLease;
  /** The object before the change (MODIFIED, DELETED). */
  readonly previous?: StoredLease;
  /** The watch line `{"type":T,"object":...}\n` for `type`, serialised once and shared by every watcher. */
  line(type: WatchEventType): Buffer;
}

export interface LeaseStoreOptions {
  /** The resourceVersion before the first write. Default 100. */
  initialResourceVersion?: number;
  /** How many events watches can replay; older resourceVersions get 410 Expired. Default 1000. */
  historyLimit?: number;
}

const keyOf = (namespace: string, name: string): string => `${namespace}/${name}`;

function stored(lease: Lease): StoredLease {
  return {
    namespace: lease.metadata.namespace,
    name: lease.metadata.name,
    resourceVersion: Number(lease.metadata.resourceVersion),
    lease,
    json: JSON.stringify(lease),
  };
}

function event(type: WatchEventType, current: StoredLease, previous?: StoredLease): StoreEvent {
  const lines = new Map<WatchEventType, Buffer>();
  return {
    type,
    resourceVersion: current.resourceVersion,
    current,
    previous,
    line(lineType) {
      let line = lines.get(lineType);
      if (!line) {
        line = Buffer.from(`{"type":"${lineType}","object":${current.json}}\n`);
        lines.set(lineType, line);
      }
      return line;
    },
  };
}

/**
 * etcd plus the watch cache, for Leases: objects by namespace and name, one global
 * resourceVersion counter bumped by every write, and a bounded history of events from which a
 * watch can resume. Knows nothing of HTTP or of the API's rules (see `lease-api.ts`).
 */
export class LeaseStore {
  private readonly objects = new Map<string, StoredLease>();
  private readonly namespaces = new Map<string, Map<string, StoredLease>>();
  private readonly historyLimit: number;
  private history: StoreEvent[] = [];
  /** Index of the first live entry in `history` (dropping from the front without shifting). */
  private historyStart = 0;
  private revision: number;
  private oldestWatchable: number;
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  constructor(options: LeaseStoreOptions = {}) {
    this.revision = options.initialResourceVersion ?? 100;
    this.oldestWatchable = this.revision;
    this.historyLimit = options.historyLimit ?? 1000;
  }

  /** The latest resourceVersion (a LIST's `metadata.resourceVersion`). */
  get resourceVersion(): number {
    return this.revision;
  }

  /**
   * The smallest resourceVersion a watch may start from: every event after it is still in
   * history. Older ones get `too old resource version: X (this)`.
   */
  get oldestWatchableResourceVersion(): number {
    return this.oldestWatchable;
  }

  get(namespace: string, name: string): StoredLease | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  list(namespace: string): StoredLease[] {
    return [...(this.namespaces.get(namespace)?.values() ?? [])];
  }

  /**
   * Stores `build(nextResourceVersion)` and emits ADDED or MODIFIED. If the result is identical to
   * the stored object apart from its resourceVersion, nothing is written and the stored version is
   * returned, as etcd3's GuaranteedUpdate skips no-op writes (no new resourceVersion, no event).
   */
  write(namespace: string, name: string, build: (resourceVersion: string) => Lease): StoredLease {
    const key = keyOf(namespace, name);
    const previous = this.objects.get(key);
    const candidate = build(String(this.revision + 1));
    if (previous) {
      const unchanged = { ...candidate, metadata: { ...candidate.metadata, resourceVersion: previous.lease.metadata.resourceVersion } };
      if (JSON.stringify(unchanged) === previous.json) return previous;
    }
    this.revision++;
    const current = stored(candidate);
    this.objects.set(key, current);
    let inNamespace = this.namespaces.get(namespace);
    if (!inNamespace) this.namespaces.set(namespace, (inNamespace = new Map()));
    inNamespace.set(name, current);
    this.record(event(previous ? 'MODIFIED' : 'ADDED', current, previous));
    return current;
  }

  /** Deletes and emits DELETED carrying the last state with the delete's resourceVersion (fixture 18). */
  remove(namespace: string, name: string): StoredLease | undefined {
    const key = keyOf(namespace, name);
    const previous = this.objects.get(key);
    if (!previous) return undefined;
    this.objects.delete(key);
    const inNamespace = this.namespaces.get(namespace);
    inNamespace?.delete(name);
    if (inNamespace?.size === 0) this.namespaces.delete(namespace);
    this.revision++;
    const tombstone = stored({
      ...previous.lease,
      metadata: { ...previous.lease.metadata, resourceVersion: String(this.revision) },
    });
    this.record(event('DELETED', tombstone, previous));
    return previous;
  }

  /** Events after `resourceVersion`, oldest first; `undefined` if history no longer reaches back. */
  eventsAfter(resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion < this.oldestWatchable) return undefined;
    // History is sorted by resourceVersion: binary search for the first newer event.
    let low = this.historyStart;
    let high = this.history.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.history[middle].resourceVersion <= resourceVersion) low = middle + 1;
      else high = middle;
    }
    return this.history.slice(low);
  }

  /** Forgets all history, as an etcd compaction does: only watches from now on can resume. */
  compact(): void {
    this.history = [];
    this.historyStart = 0;
    this.oldestWatchable = this.revision;
  }

  onEvent(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private record(change: StoreEvent): void {
    this.history.push(change);
    if (this.history.length - this.historyStart > this.historyLimit) {
      this.oldestWatchable = this.history[this.historyStart].resourceVersion;
      this.historyStart++;
      if (this.historyStart >= this.historyLimit) {
        this.history = this.history.slice(this.historyStart);
        this.historyStart = 0;
      }
    }
    for (const listener of this.listeners) listener(change);
  }
}
