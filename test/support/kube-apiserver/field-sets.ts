import { formatTime } from './micro-time.js';
import type { JsonObject, JsonValue, ManagedFieldsEntry } from './types.js';

/**
 * Server-side field management for any object, as far as `managedFields` of `Update` operations
 * show it (`managed-fields.ts` is the Lease-only model the Lease fixtures pin down): each manager
 * owns the fields it last changed, in the `FieldsV1` format (`f:name` for a field, `k:{...}` for
 * an item of a list merged by key, `.` for a map or list item owned as a whole). Used for Pods.
 * The schema is the part of the OpenAPI schema that decides the shape of those paths.
 */
export interface FieldSchema {
  /** Dotted paths (`[]` for a list's items) that field management never tracks. */
  readonly ignored: ReadonlySet<string>;
  /** String maps: each key is its own field, and the map carries `.`. */
  readonly maps: ReadonlySet<string>;
  /** Lists merged by key (`x-kubernetes-list-map-keys`); every other list is atomic, one field. */
  readonly keyedLists: ReadonlyMap<string, readonly string[]>;
}

/** Identifies one `managedFields` entry: who wrote, through which subresource. */
export interface FieldManager {
  manager: string;
  apiVersion: string;
  /** `status` for writes to the status subresource; absent for the main resource. */
  subresource?: string;
}

/** A path element list, joined with NUL as a map key. */
type PathKey = string;
const SEPARATOR = '\u0000';

const isObject = (value: JsonValue | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `k:{"name":"app"}`: the key fields of a list item, sorted by name, as JSON. */
function keyElement(item: JsonObject, keys: readonly string[]): string {
  const sorted = [...keys].sort();
  return `k:{${sorted.map((k) => `${JSON.stringify(k)}:${JSON.stringify(item[k] ?? null)}`).join(',')}}`;
}

/** Every owned-able path of `value` and the JSON of the value there (`.` markers read as `{}`). */
export function fieldLeaves(value: JsonObject, schema: FieldSchema): Map<PathKey, string> {
  const out = new Map<PathKey, string>();
  const walk = (node: JsonValue, schemaPath: string, path: string[]): void => {
    if (schema.ignored.has(schemaPath)) return;
    if (schema.maps.has(schemaPath) && isObject(node)) {
      out.set([...path, '.'].join(SEPARATOR), '{}');
      for (const [key, entry] of Object.entries(node)) out.set([...path, `f:${key}`].join(SEPARATOR), JSON.stringify(entry));
      return;
    }
    const keys = schema.keyedLists.get(schemaPath);
    if (keys && Array.isArray(node)) {
      for (const item of node) {
        if (!isObject(item)) continue;
        const element = [...path, keyElement(item, keys)];
        out.set([...element, '.'].join(SEPARATOR), '{}');
        for (const [field, child] of Object.entries(item)) walk(child, `${schemaPath}[].${field}`, [...element, `f:${field}`]);
      }
      return;
    }
    if (isObject(node) && Object.keys(node).length > 0) {
      for (const [field, child] of Object.entries(node)) walk(child, schemaPath ? `${schemaPath}.${field}` : field, [...path, `f:${field}`]);
      return;
    }
    out.set(path.join(SEPARATOR), JSON.stringify(node));
  };
  for (const [field, child] of Object.entries(value)) walk(child, field, [`f:${field}`]);
  return out;
}

/** The paths a `fieldsV1` names: every node without children is one. */
function pathsOf(fieldsV1: JsonObject): Set<PathKey> {
  const out = new Set<PathKey>();
  const walk = (node: JsonObject, path: string[]): void => {
    for (const [key, child] of Object.entries(node)) {
      const next = [...path, key];
      if (isObject(child) && Object.keys(child).length > 0) walk(child, next);
      else out.add(next.join(SEPARATOR));
    }
  };
  walk(fieldsV1, []);
  return out;
}

/** `fieldsV1` for a set of paths, keys sorted as the apiserver writes them (`.` < `f:` < `k:`). */
export function fieldsV1Of(paths: Iterable<PathKey>): JsonObject {
  const root: JsonObject = {};
  for (const path of paths) {
    let node = root;
    for (const element of path.split(SEPARATOR)) node = (node[element] ??= {}) as JsonObject;
  }
  const sort = (node: JsonObject): JsonObject =>
    Object.fromEntries(Object.keys(node).sort().map((k) => [k, sort(node[k] as JsonObject)]));
  return sort(root);
}

const sameSet = (a: Set<PathKey>, b: Set<PathKey>): boolean => a.size === b.size && [...a].every((p) => b.has(p));

const isEntryOf = (entry: ManagedFieldsEntry, who: FieldManager): boolean =>
  entry.manager === who.manager &&
  entry.operation === 'Update' &&
  entry.apiVersion === who.apiVersion &&
  (entry.subresource ?? '') === (who.subresource ?? '');

/**
 * The `managedFields` after `who` changed `before` (undefined on create) into `after` with an
 * Update: it takes every field it changed, other managers lose those, and fields that no longer
 * exist are dropped from everyone. An entry's `time` moves only when its set of fields changes.
 */
export function updateFieldOwnership(
  previous: readonly ManagedFieldsEntry[] | undefined,
  before: JsonObject | undefined,
  after: JsonObject,
  who: FieldManager,
  schema: FieldSchema,
  now: Date,
): ManagedFieldsEntry[] {
  const afterLeaves = fieldLeaves(after, schema);
  const beforeLeaves = before ? fieldLeaves(before, schema) : new Map<PathKey, string>();
  const changed = new Set<PathKey>();
  for (const [path, value] of afterLeaves) if (beforeLeaves.get(path) !== value) changed.add(path);

  const result: ManagedFieldsEntry[] = [];
  let hadEntry = false;
  for (const entry of previous ?? []) {
    const mine = isEntryOf(entry, who);
    const owned = pathsOf(entry.fieldsV1);
    const kept = new Set([...owned].filter((p) => afterLeaves.has(p) && (mine || !changed.has(p))));
    if (mine) {
      hadEntry = true;
      for (const path of changed) kept.add(path);
      if (kept.size > 0) result.push(sameSet(owned, kept) ? entry : { ...entry, time: formatTime(now), fieldsV1: fieldsV1Of(kept) });
      continue;
    }
    if (kept.size === 0) continue;
    result.push(sameSet(owned, kept) ? entry : { ...entry, fieldsV1: fieldsV1Of(kept) });
  }
  if (!hadEntry && changed.size > 0) {
    const entry: ManagedFieldsEntry = {
      manager: who.manager,
      operation: 'Update',
      apiVersion: who.apiVersion,
      time: formatTime(now),
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1Of(changed),
    };
    if (who.subresource) entry.subresource = who.subresource;
    result.push(entry);
  }
  return result;
}
