import { formatTime } from './micro-time.js';
import type { JsonObject, LeaseSpec, ManagedFieldsEntry } from './types.js';

/**
 * A small model of server-side field management for Leases, enough to produce `managedFields`
 * shaped like the fixtures: one `Update` entry per manager, listing the fields it set
 * (`f:spec` leaves, `f:metadata` label/annotation keys), whose `time` moves only when the set
 * of fields it owns changes (fixture 05 keeps 09:38:18 after a renew; fixture 10 moves to
 * 09:38:19 when the patch adds an annotation). Not modelled: other operations (Apply), other
 * API versions, ownership of anything but labels, annotations, ownerReferences and spec.
 */

export const LEASE_API_VERSION = 'coordination.k8s.io/v1';

/** The fields of a Lease that field management tracks. */
export interface ManagedContent {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
  spec: LeaseSpec;
}

/** A field path, e.g. `spec/renewTime` or `metadata/annotations/example.com~1x` (JSON-pointer escaped). */
type FieldPath = string;

const escape = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');
const unescape = (key: string): string => key.replace(/~1/g, '/').replace(/~0/g, '~');

function leaves(content: ManagedContent): Map<FieldPath, string> {
  const out = new Map<FieldPath, string>();
  for (const map of ['labels', 'annotations'] as const) {
    for (const [key, value] of Object.entries(content[map] ?? {})) out.set(`metadata/${map}/${escape(key)}`, value);
  }
  if (content.ownerReferences) out.set('metadata/ownerReferences', JSON.stringify(content.ownerReferences));
  for (const [key, value] of Object.entries(content.spec)) {
    if (value !== undefined) out.set(`spec/${key}`, JSON.stringify(value));
  }
  return out;
}

/** Reads back the paths an entry's `fieldsV1` names (the parts this model understands). */
function pathsOf(fieldsV1: JsonObject): Set<FieldPath> {
  const paths = new Set<FieldPath>();
  const section = (value: unknown): JsonObject =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
  for (const key of Object.keys(section(fieldsV1['f:spec']))) {
    if (key.startsWith('f:')) paths.add(`spec/${key.slice(2)}`);
  }
  const metadata = section(fieldsV1['f:metadata']);
  for (const map of ['labels', 'annotations']) {
    for (const key of Object.keys(section(metadata[`f:${map}`]))) {
      if (key.startsWith('f:')) paths.add(`metadata/${map}/${escape(key.slice(2))}`);
    }
  }
  if ('f:ownerReferences' in metadata) paths.add('metadata/ownerReferences');
  return paths;
}

/** `fieldsV1` with keys sorted, as the apiserver writes it; maps carry their `"."` marker. */
function fieldsV1Of(paths: Set<FieldPath>): JsonObject {
  const spec: JsonObject = {};
  const metadata: Record<string, JsonObject> = {};
  for (const path of [...paths].sort()) {
    const [section, name, key] = path.split('/');
    if (section === 'spec') {
      spec[`f:${name}`] = {};
    } else if (name === 'ownerReferences') {
      metadata['f:ownerReferences'] = { '.': {} };
    } else {
      const map = (metadata[`f:${name}`] ??= { '.': {} });
      map[`f:${unescape(key)}`] = {};
    }
  }
  const out: JsonObject = {};
  const metadataKeys = Object.keys(metadata).sort();
  if (metadataKeys.length > 0) out['f:metadata'] = Object.fromEntries(metadataKeys.map((k) => [k, metadata[k]]));
  const specKeys = Object.keys(spec).sort();
  if (specKeys.length > 0) out['f:spec'] = Object.fromEntries(specKeys.map((k) => [k, spec[k]]));
  return out;
}

const sameSet = (a: Set<FieldPath>, b: Set<FieldPath>): boolean => a.size === b.size && [...a].every((p) => b.has(p));

/**
 * The `managedFields` after `manager` changed `before` (undefined on create) into `after`:
 * the manager takes every field it changed, other managers lose those fields, and fields that
 * no longer exist are dropped from everyone.
 */
export function updateManagedFields(
  previous: readonly ManagedFieldsEntry[] | undefined,
  before: ManagedContent | undefined,
  after: ManagedContent,
  manager: string,
  now: Date,
): ManagedFieldsEntry[] {
  const afterLeaves = leaves(after);
  const beforeLeaves = before ? leaves(before) : new Map<FieldPath, string>();
  const changed = new Set<FieldPath>();
  for (const [path, value] of afterLeaves) if (beforeLeaves.get(path) !== value) changed.add(path);

  const result: ManagedFieldsEntry[] = [];
  let managerHadEntry = false;
  for (const entry of previous ?? []) {
    const isMine = entry.manager === manager && entry.operation === 'Update' && entry.apiVersion === LEASE_API_VERSION;
    const owned = pathsOf(entry.fieldsV1);
    const kept = new Set([...owned].filter((p) => afterLeaves.has(p) && (isMine || !changed.has(p))));
    if (isMine) {
      managerHadEntry = true;
      for (const path of changed) kept.add(path);
      if (kept.size > 0) {
        result.push(sameSet(owned, kept) ? entry : { ...entry, time: formatTime(now), fieldsV1: fieldsV1Of(kept) });
      }
      continue;
    }
    if (kept.size === 0) continue;
    result.push(sameSet(owned, kept) ? entry : { ...entry, fieldsV1: fieldsV1Of(kept) });
  }
  if (!managerHadEntry && changed.size > 0) {
    result.push({
      manager,
      operation: 'Update',
      apiVersion: LEASE_API_VERSION,
      time: formatTime(now),
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1Of(changed),
    });
  }
  return result;
}
