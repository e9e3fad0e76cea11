import type { ServerResponse } from 'node:http';

import type { StoreEvent, WatchEventType } from './object-store.js';
import type { KubeObject } from './types.js';

/** Which objects a watch wants: one resource in a namespace, maybe one name, maybe further selectors. */
export interface WatchFilter {
  /** `leases`, `pods`: a watch sees the events of its own resource only. */
  resource: string;
  namespace: string;
  /** Set when the field selector pins `metadata.name` (the common case: one Lease, one Pod). */
  name?: string;
  /** Any other field/label selector; undefined when `namespace` and `name` say it all. */
  matches?: (object: KubeObject) => boolean;
}

/** One open watch stream. */
export class Watcher {
  /** While the user is partitioned, lines wait here instead of reaching the socket. */
  private held: Buffer[] | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly user: string | null,
    readonly filter: WatchFilter,
    private readonly response: ServerResponse,
    /** Events at or below this resourceVersion were already sent (or predate the watch). */
    private sentUpTo: number,
  ) {}

  get isClosed(): boolean {
    return this.closed || this.response.destroyed || this.response.writableEnded;
  }

  /** Sends the line of a store event unless this watch is already past it. */
  send(line: Buffer, resourceVersion: number): void {
    if (resourceVersion <= this.sentUpTo) return;
    this.sentUpTo = resourceVersion;
    this.write(line);
  }

  /** Sends one of the ADDED lines a watch without resourceVersion starts with (any order). */
  sendInitial(line: Buffer): void {
    this.write(line);
  }

  /** Marks everything up to `resourceVersion` as seen (the initial state covered it). */
  skipTo(resourceVersion: number): void {
    this.sentUpTo = Math.max(this.sentUpTo, resourceVersion);
  }

  /** Writes now, one chunk per line, or holds the line while partitioned. */
  private write(line: Buffer): void {
    if (this.isClosed) return;
    if (this.held) this.held.push(line);
    else this.response.write(line);
  }

  /** Simulates a network cut (`on`) and its healing, when what was held arrives late. */
  setPartitioned(on: boolean): void {
    if (on) {
      this.held ??= [];
      return;
    }
    const held = this.held ?? [];
    this.held = undefined;
    for (const line of held) if (!this.isClosed) this.response.write(line);
  }

  /** Ends the stream cleanly after `seconds` (the apiserver's `timeoutSeconds`). */
  endAfter(seconds: number): void {
    this.timer = setTimeout(() => this.end(), seconds * 1000);
  }

  /** Ends the stream cleanly: the client sees the response complete. */
  end(): void {
    this.release();
    if (!this.response.writableEnded) this.response.end();
  }

  /** Cuts the connection: the client sees the socket die mid-response. */
  kill(): void {
    this.release();
    this.response.socket?.destroy();
    this.response.destroy();
  }

  /** Called once the response is finished or destroyed, however that happened. */
  release(): void {
    this.closed = true;
    this.held = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Fans store events out to open watches. Watches are indexed by resource/namespace/name (the
 * usual single-Lease or single-Pod watch) and by resource/namespace, so an event reaches only the
 * watches that can want it, and every watcher is sent the same serialised line (see
 * `StoreEvent.line`).
 */
export class WatchHub {
  private readonly byName = new Map<string, Set<Watcher>>();
  private readonly byNamespace = new Map<string, Set<Watcher>>();
  private readonly all = new Set<Watcher>();

  get size(): number {
    return this.all.size;
  }

  add(watcher: Watcher): void {
    this.all.add(watcher);
    const { index, key } = this.slot(watcher);
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(watcher);
  }

  remove(watcher: Watcher): void {
    if (!this.all.delete(watcher)) return;
    const { index, key } = this.slot(watcher);
    const set = index.get(key);
    set?.delete(watcher);
    if (set?.size === 0) index.delete(key);
  }

  /** Open watches of `user`, or all of them. A copy, so callers may end watches while iterating. */
  watchers(user?: string): Watcher[] {
    return [...this.all].filter((w) => user === undefined || w.user === user);
  }

  dispatch(event: StoreEvent): void {
    const { resource, namespace, name } = event.current;
    const named = this.byName.get(`${resource}/${namespace}/${name}`);
    if (named) for (const watcher of named) deliver(watcher, event);
    const wide = this.byNamespace.get(`${resource}/${namespace}`);
    if (wide) for (const watcher of wide) deliver(watcher, event);
  }

  private slot(watcher: Watcher): { index: Map<string, Set<Watcher>>; key: string } {
    const { resource, namespace, name } = watcher.filter;
    return name === undefined
      ? { index: this.byNamespace, key: `${resource}/${namespace}` }
      : { index: this.byName, key: `${resource}/${namespace}/${name}` };
  }
}

/**
 * The event type a watcher sees. With a selector on mutable fields (labels) an object can enter
 * or leave the selection: the apiserver then sends ADDED or DELETED instead of MODIFIED.
 */
export function eventTypeFor(filter: WatchFilter, event: StoreEvent): WatchEventType | undefined {
  if (filter.resource !== event.resource || filter.namespace !== event.current.namespace) return undefined;
  if (filter.name !== undefined && filter.name !== event.current.name) return undefined;
  if (!filter.matches) return event.type;
  const nowMatches = filter.matches(event.current.object);
  if (event.type !== 'MODIFIED') return nowMatches ? event.type : undefined;
  const matchedBefore = event.previous ? filter.matches(event.previous.object) : false;
  if (matchedBefore && nowMatches) return 'MODIFIED';
  if (matchedBefore) return 'DELETED';
  return nowMatches ? 'ADDED' : undefined;
}

function deliver(watcher: Watcher, event: StoreEvent): void {
  const type = eventTypeFor(watcher.filter, event);
  if (type) watcher.send(event.line(type), event.resourceVersion);
}
