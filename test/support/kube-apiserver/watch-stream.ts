import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import type { ObjectStore, StoredObject } from './object-store.js';
import { POD_FIELDS } from './pod-status.js';
import { LEASE_FIELDS, type SelectableFields, matchesFieldSelector, matchesLabelSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { type GroupResource, LEASES, PODS, type Status, badRequest, expired, goQuote, invalid, invalidValue } from './status.js';
import type { KubeObject } from './types.js';
import { Watcher, type WatchFilter, type WatchHub, eventTypeFor } from './watch-hub.js';

/** What a watch of one resource needs: its name in Status bodies, and its selectable fields. */
export interface WatchedResource {
  gr: GroupResource;
  fields: SelectableFields;
}

export const WATCHED: Record<'leases' | 'pods', WatchedResource> = {
  leases: { gr: LEASES, fields: LEASE_FIELDS },
  pods: { gr: PODS, fields: POD_FIELDS },
};

export interface WatchRequest {
  user: string | null;
  namespace: string;
  query: URLSearchParams;
  response: ServerResponse;
  /** Whether the user is cut off by the `partition` fault now (its lines are then held). */
  partitioned: boolean;
  /** Called once the 200 head is written, before any event. */
  onHead(): void;
}

/**
 * Starts watch streams (fixture 18): 200, chunked, one JSON event per line, each written as it
 * happens. Without a resourceVersion (or with "0") the stream starts with ADDED for what exists;
 * with one, it replays the history after it (of every resource: one shared history), or if that
 * is compacted away sends one ERROR 410 event and ends (fixture 20). Without `timeoutSeconds` it
 * stays open until ended (a real apiserver would end it after a random 30-60 minutes).
 */
export class WatchStreams {
  /** `{"type":"ADDED",...}` lines for watches that start with the current state, one per version. */
  private readonly addedLines = new WeakMap<StoredObject, Buffer>();

  constructor(
    private readonly store: ObjectStore,
    private readonly hub: WatchHub,
  ) {}

  /** Starts a watch, or returns the Status to answer instead (a bad selector or resourceVersion). */
  start(request: WatchRequest, watched: WatchedResource): Status | undefined {
    const { query, namespace, response } = request;
    const fields = parseFieldSelector(query.get('fieldSelector'), watched.fields);
    if (!fields.ok) return badRequest(fields.message);
    const labels = parseLabelSelector(query.get('labelSelector'));
    if (!labels.ok) return badRequest(labels.message);
    const resourceVersion = query.get('resourceVersion') ?? '';
    if (resourceVersion !== '' && !/^\d+$/.test(resourceVersion)) {
      return invalid(watched.gr.resource, watched.gr.group, '', [
        invalidValue('resourceVersion', goQuote(resourceVersion), `strconv.ParseUint: parsing ${goQuote(resourceVersion)}: invalid syntax`),
      ]);
    }
    const exactName = fields.selector.exactName;
    const needsMatching = fields.selector.requirements.length > (exactName === undefined ? 0 : 1) || labels.selector.length > 0;
    const filter: WatchFilter = {
      resource: watched.gr.resource,
      namespace,
      name: exactName,
      matches: needsMatching
        ? (object: KubeObject) => matchesFieldSelector(fields.selector, object, watched.fields) && matchesLabelSelector(labels.selector, object)
        : undefined,
    };

    const fromNow = resourceVersion === '' || resourceVersion === '0';
    const replay = fromNow ? [] : this.store.eventsAfter(Number(resourceVersion));
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache, private',
      'Audit-Id': randomUUID(),
    });
    response.flushHeaders();
    response.socket?.setNoDelay(true);
    request.onHead();

    if (!replay) {
      const status = expired(resourceVersion, this.store.oldestWatchableResourceVersion);
      response.end(`{"type":"ERROR","object":${JSON.stringify(status)}}\n`);
      return undefined;
    }
    const watcher = new Watcher(request.user, filter, response, fromNow ? 0 : Number(resourceVersion));
    if (request.partitioned) watcher.setPartitioned(true);
    if (fromNow) {
      const { resource } = watched.gr;
      const current = exactName === undefined ? this.store.list(resource, namespace) : [this.store.get(resource, namespace, exactName)];
      for (const stored of current) {
        if (stored && (!filter.matches || filter.matches(stored.object))) watcher.sendInitial(this.addedLine(stored));
      }
      // From here on only later events: what was written before now was just sent as it is now.
      watcher.skipTo(this.store.resourceVersion);
    } else {
      for (const event of replay) {
        const type = eventTypeFor(filter, event);
        if (type) watcher.send(event.line(type), event.resourceVersion);
      }
    }
    this.hub.add(watcher);
    response.once('close', () => {
      this.hub.remove(watcher);
      watcher.release();
    });
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '');
    if (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0) watcher.endAfter(timeoutSeconds);
    return undefined;
  }

  private addedLine(stored: StoredObject): Buffer {
    let line = this.addedLines.get(stored);
    if (!line) {
      line = Buffer.from(`{"type":"ADDED","object":${stored.json}}\n`);
      this.addedLines.set(stored, line);
    }
    return line;
  }
}
