import type { KubeObject } from './types.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One stored version of an object. Treat as immutable: readers get copies via `JSON.parse(json)`. */
export interface StoredObject<T extends KubeObject = KubeObject> {
  /** The REST resource it is stored under (`leases`, `pods`). */
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: number;
  readonly object: T;
  /** `JSON.stringify(object)`, computed once per version and reused by GET, LIST and watches. */
  readonly json: string;
}

/** A change, kept in the history that watches replay from. */
export interface StoreEvent {
  readonly type: WatchEventType;
  readonly resourceVersion: number;
  readonly resource: string;
  /** The object after the change; for DELETED its last state, stamped with the delete's version. */
  readonly current: StoredObject;
  /** The object before the change (MODIFIED, DELETED). */
  readonly previous?: StoredObject;
  /** The watch line `{"type":T,"object":...}\n` for `type`, serialised once and shared by every watcher. */
  line(type: WatchEventType): Buffer;
}

export interface ObjectStoreOptions {
  /** The resourceVersion before the first write. Default 100. */
  initialResourceVersion?: number;
  /** How many events watches can replay; older resourceVersions get 410 Expired. Default 1000. */
  historyLimit?: number;
}

/** The objects of one resource, read and written as `lease-api.ts` and `pod-api.ts` need them. */
export interface ResourceView<T extends KubeObject> {
  readonly resource: string;
  /** The latest resourceVersion of the whole store (a LIST's `metadata.resourceVersion`). */
  readonly resourceVersion: number;
  get(namespace: string, name: string): StoredObject<T> | undefined;
  list(namespace: string): StoredObject<T>[];
  write(namespace: string, name: string, build: (resourceVersion: string) => T): StoredObject<T>;
  remove(namespace: string, name: string): StoredObject<T> | undefined;
}

const keyOf = (resource: string, namespace: string, name: string): string => `${resource}/${namespace}/${name}`;

function stored<T extends KubeObject>(resource: string, object: T): StoredObject<T> {
  return {
    resource,
    namespace: object.metadata.namespace,
    name: object.metadata.name,
    resourceVersion: Number(object.metadata.resourceVersion),
    object,
    json: JSON.stringify(object),
  };
}

function event(type: WatchEventType, current: StoredObject, previous?: StoredObject): StoreEvent {
  const lines = new Map<WatchEventType, Buffer>();
  return {
    type,
    resourceVersion: current.resourceVersion,
    resource: current.resource,
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
 * etcd plus the watch cache: objects by resource, namespace and name, ONE global resourceVersion
 * counter bumped by every write of any resource (etcd has one revision for all keys), and a
 * bounded history of events from which a watch can resume. Knows nothing of HTTP or of the API's
 * rules (see `lease-api.ts`, `pod-api.ts`).
 */
export class ObjectStore {
  private readonly objects = new Map<string, StoredObject>();
  /** `resource/namespace` to the objects in it. */
  private readonly collections = new Map<string, Map<string, StoredObject>>();
  private readonly historyLimit: number;
  private history: StoreEvent[] = [];
  /** Index of the first live entry in `history` (dropping from the front without shifting). */
  private historyStart = 0;
  private revision: number;
  private oldestWatchable: number;
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  constructor(options: ObjectStoreOptions = {}) {
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

  /** The objects of one resource, typed. */
  view<T extends KubeObject>(resource: string): ResourceView<T> {
    const store = this;
    return {
      resource,
      get resourceVersion() {
        return store.revision;
      },
      get: (namespace, name) => store.get(resource, namespace, name) as StoredObject<T> | undefined,
      list: (namespace) => store.list(resource, namespace) as StoredObject<T>[],
      write: (namespace, name, build) => store.write(resource, namespace, name, build),
      remove: (namespace, name) => store.remove(resource, namespace, name) as StoredObject<T> | undefined,
    };
  }

  get(resource: string, namespace: string, name: string): StoredObject | undefined {
    return this.objects.get(keyOf(resource, namespace, name));
  }

  list(resource: string, namespace: string): StoredObject[] {
    return [...(this.collections.get(`${resource}/${namespace}`)?.values() ?? [])];
  }

  /** Every namespace's objects of one resource. */
  listAll(resource: string): StoredObject[] {
    return [...this.objects.values()].filter((s) => s.resource === resource);
  }

  /**
   * Stores `build(nextResourceVersion)` and emits ADDED or MODIFIED. If the result is identical to
   * the stored object apart from its resourceVersion, nothing is written and the stored version is
   * returned, as etcd3's GuaranteedUpdate skips no-op writes (no new resourceVersion, no event).
   */
  write<T extends KubeObject>(resource: string, namespace: string, name: string, build: (resourceVersion: string) => T): StoredObject<T> {
    const key = keyOf(resource, namespace, name);
    const previous = this.objects.get(key);
    const candidate = build(String(this.revision + 1));
    if (previous) {
      const unchanged = { ...candidate, metadata: { ...candidate.metadata, resourceVersion: previous.object.metadata.resourceVersion } };
      if (JSON.stringify(unchanged) === previous.json) return previous as StoredObject<T>;
    }
    this.revision++;
    const current = stored(resource, candidate);
    this.objects.set(key, current);
    const collectionKey = `${resource}/${namespace}`;
    let collection = this.collections.get(collectionKey);
    if (!collection) this.collections.set(collectionKey, (collection = new Map()));
    collection.set(name, current);
    this.record(event(previous ? 'MODIFIED' : 'ADDED', current, previous));
    return current;
  }

  /** Deletes and emits DELETED carrying the last state with the delete's resourceVersion (fixture 18). */
  remove(resource: string, namespace: string, name: string): StoredObject | undefined {
    const key = keyOf(resource, namespace, name);
    const previous = this.objects.get(key);
    if (!previous) return undefined;
    this.objects.delete(key);
    const collectionKey = `${resource}/${namespace}`;
    const collection = this.collections.get(collectionKey);
    collection?.delete(name);
    if (collection?.size === 0) this.collections.delete(collectionKey);
    this.revision++;
    const tombstone = stored(resource, {
      ...previous.object,
      metadata: { ...previous.object.metadata, resourceVersion: String(this.revision) },
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
