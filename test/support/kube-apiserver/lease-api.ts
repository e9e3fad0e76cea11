import { randomUUID } from 'node:crypto';

import { type DecodedLease, decodeLease } from './lease-codec.js';
import type { ResourceView, StoredObject } from './object-store.js';
import { LEASE_API_VERSION, type ManagedContent, updateManagedFields } from './managed-fields.js';
import { applyMergePatch, goMarshal } from './merge-patch.js';
import { formatTime } from './micro-time.js';
import { LEASE_FIELDS, matchesFieldSelector, matchesLabelSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';
import {
  LEASE_GROUP,
  LEASE_KIND,
  LEASE_RESOURCE,
  StatusError,
  alreadyExists,
  badRequest,
  conflict,
  deleteSuccess,
  goQuote,
  invalid,
  invalidValue,
  notFound,
  unsupportedMediaType,
} from './status.js';
import type { JsonObject, JsonValue, Lease, ManagedFieldsEntry } from './types.js';

type StoredLease = StoredObject<Lease>;
import { validateLease, validateLeaseSpec } from './validation.js';

/** A successful answer, already serialised. Failures are thrown as `StatusError`. */
export interface Answer {
  status: number;
  json: string;
  /** `Warning` header values (unknown fields dropped from the body). */
  warnings?: string[];
}

/** What a write request brings besides its target. */
export interface WriteRequest {
  /** The raw body. */
  text: string;
  contentType: string;
  query: URLSearchParams;
  /** The field manager: `?fieldManager=`, else the User-Agent up to its first `/`. */
  manager: string;
  now: Date;
}

const TYPE_META_PREFIX = `{"kind":"${LEASE_KIND}","apiVersion":"${LEASE_API_VERSION}",`;

const JSON_MEDIA_TYPES = ['application/json'];
const PATCH_MEDIA_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json'];

const mediaType = (contentType: string): string => contentType.split(';')[0].trim().toLowerCase();

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Go's encoding/json wording for what JSON.parse refused. */
export function jsonSyntaxError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (text.trim() === '' || /end of JSON input/i.test(message)) return 'unexpected end of JSON input';
  const position = /position (\d+)/.exec(message);
  const character = position ? text[Number(position[1])] : undefined;
  return character !== undefined
    ? `invalid character '${character}' looking for beginning of value`
    : 'invalid character looking for beginning of value';
}

/**
 * The Lease REST storage: the rules the apiserver's handlers and generic registry apply to
 * GET, LIST, POST, PUT, PATCH and DELETE of Leases, on top of the store's `leases`. Each method answers
 * like the real apiserver, in the same order of checks, so that when a request is wrong in two
 * ways the same error wins.
 */
export class LeaseApi {
  constructor(private readonly store: ResourceView<Lease>) {}

  get(namespace: string, name: string): Answer {
    const current = this.store.get(namespace, name);
    if (!current) throw new StatusError(notFound(name));
    return { status: 200, json: current.json };
  }

  /** Fixture 17: a `LeaseList` whose items carry no kind/apiVersion, with the list's resourceVersion. */
  list(namespace: string, query: URLSearchParams): Answer {
    const fields = parseFieldSelector(query.get('fieldSelector'), LEASE_FIELDS);
    if (!fields.ok) throw new StatusError(badRequest(fields.message));
    const labels = parseLabelSelector(query.get('labelSelector'));
    if (!labels.ok) throw new StatusError(badRequest(labels.message));
    const items = this.store
      .list(namespace)
      .filter((s) => matchesFieldSelector(fields.selector, s.object) && matchesLabelSelector(labels.selector, s.object))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) // etcd returns keys in order
      .map((s) => `{${s.json.slice(TYPE_META_PREFIX.length)}`);
    return {
      status: 200,
      json:
        `{"kind":"LeaseList","apiVersion":"${LEASE_API_VERSION}",` +
        `"metadata":{"resourceVersion":"${this.store.resourceVersion}"},"items":[${items.join(',')}]}`,
    };
  }

  /** POST: fixtures 02, 03, 12. */
  create(namespace: string, request: WriteRequest): Answer {
    const { lease, warnings } = this.decodeBody(request);
    if (lease.metadata.namespace && lease.metadata.namespace !== namespace) {
      throw new StatusError(badRequest('the namespace of the provided object does not match the namespace sent on the request'));
    }
    const errors = validateLease(lease);
    const name = lease.metadata.name ?? '';
    if (errors.length > 0) throw new StatusError(invalid(LEASE_KIND, LEASE_GROUP, name, errors));
    if (lease.metadata.resourceVersion) {
      // etcd3 store.Create refuses it; the error is no API status, so it surfaces as a bare 500.
      throw new StatusError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'resourceVersion should not be set on objects to be created',
        code: 500,
      });
    }
    if (this.store.get(namespace, name)) throw new StatusError(alreadyExists(name));
    const created = this.insert(namespace, name, lease, request);
    return { status: 201, json: created.json, warnings };
  }

  /**
   * PUT: fixtures 05, 06, 07, 08, 09, 11. Leases allow create-on-update (`AllowCreateOnUpdate`
   * is true in the Lease strategy), so a PUT of a missing Lease creates it (201), provided the
   * caller may also `create` (`authorizeCreate` throws the 403 otherwise) and the body carries
   * no uid, whose precondition could not hold.
   */
  replace(namespace: string, name: string, request: WriteRequest, authorizeCreate: () => void): Answer {
    const { lease, warnings } = this.decodeBody(request);
    if (lease.metadata.namespace && lease.metadata.namespace !== namespace) {
      throw new StatusError(badRequest('the namespace of the provided object does not match the namespace sent on the request'));
    }
    if (lease.metadata.name !== name) {
      throw new StatusError(
        badRequest(`the name of the object (${lease.metadata.name ?? ''}) does not match the name on the URL (${name})`),
      );
    }
    const existing = this.store.get(namespace, name);
    // The uid in the body is a precondition (`rest.DefaultUpdatedObjectInfo.Preconditions`).
    const existingUid = existing?.object.metadata.uid ?? '';
    if (lease.metadata.uid && lease.metadata.uid !== existingUid) {
      throw new StatusError(
        conflict(name, `Precondition failed: UID in precondition: ${lease.metadata.uid}, UID in object meta: ${existingUid}`),
      );
    }
    if (!existing) {
      authorizeCreate();
      const errors = validateLease(lease);
      if (errors.length > 0) throw new StatusError(invalid(LEASE_KIND, LEASE_GROUP, name, errors));
      return { status: 201, json: this.insert(namespace, name, lease, request).json, warnings };
    }
    this.checkResourceVersion(name, lease.metadata.resourceVersion, existing);
    const errors = validateLeaseSpec(lease.spec);
    if (errors.length > 0) throw new StatusError(invalid(LEASE_KIND, LEASE_GROUP, name, errors));
    return { status: 200, json: this.overwrite(existing, lease, request).json, warnings };
  }

  /** PATCH with a JSON merge patch (fixture 10); a strategic merge patch is treated the same. */
  patch(namespace: string, name: string, request: WriteRequest): Answer {
    if (!PATCH_MEDIA_TYPES.includes(mediaType(request.contentType))) {
      throw new StatusError(unsupportedMediaType(PATCH_MEDIA_TYPES));
    }
    const existing = this.store.get(namespace, name);
    if (!existing) throw new StatusError(notFound(name));
    let patch: JsonValue;
    try {
      patch = JSON.parse(request.text) as JsonValue;
    } catch {
      throw new StatusError(badRequest('Invalid JSON Patch'));
    }
    // A merge patch that is not an object would replace the whole document; the apiserver's
    // json-patch library refuses `null` outright and the rest cannot decode into a Lease.
    if (!isObject(patch)) throw new StatusError(badRequest('Invalid JSON Patch'));
    const patched = applyMergePatch(JSON.parse(existing.json) as JsonObject, patch) as JsonObject;
    // The apiserver re-encodes the merged map (sorted keys) and decodes that into a Lease; when
    // that fails it answers 422 with the whole patched object as the bad value.
    const patchedText = goMarshal(patched);
    const decoded = decodeLease(JSON.parse(patchedText) as JsonObject, patchedText);
    if (!decoded.ok) {
      throw new StatusError(invalid('', '', '', [invalidValue('patch', goQuote(patchedText), decoded.error)]));
    }
    const lease = decoded.lease;
    if (lease.metadata.name !== name) {
      throw new StatusError(
        badRequest(`the name of the object (${lease.metadata.name ?? ''}) does not match the name on the URL (${name})`),
      );
    }
    if (lease.metadata.namespace && lease.metadata.namespace !== namespace) {
      throw new StatusError(badRequest('the namespace of the provided object does not match the namespace sent on the request'));
    }
    this.checkResourceVersion(name, lease.metadata.resourceVersion, existing);
    const errors = validateLeaseSpec(lease.spec);
    if (lease.metadata.uid && lease.metadata.uid !== existing.object.metadata.uid) {
      errors.unshift(invalidValue('metadata.uid', goQuote(lease.metadata.uid), 'field is immutable'));
    }
    if (errors.length > 0) throw new StatusError(invalid(LEASE_KIND, LEASE_GROUP, name, errors));
    return { status: 200, json: this.overwrite(existing, lease, request).json };
  }

  /** DELETE: a Success Status naming the object, or fixture 19; honours DeleteOptions preconditions. */
  remove(namespace: string, name: string, text: string): Answer {
    const existing = this.store.get(namespace, name);
    if (!existing) throw new StatusError(notFound(name));
    const preconditions = this.deletePreconditions(text);
    const { uid, resourceVersion } = existing.object.metadata;
    if (preconditions.uid !== undefined && preconditions.uid !== uid) {
      throw new StatusError(conflict(name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${uid}`));
    }
    if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== resourceVersion) {
      throw new StatusError(
        conflict(
          name,
          `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ` +
            `ResourceVersion in object meta: ${resourceVersion}`,
        ),
      );
    }
    this.store.remove(namespace, name);
    return { status: 200, json: JSON.stringify(deleteSuccess(name, uid)) };
  }

  /**
   * Stores a Lease directly, as another component of the cluster would have written it: the body
   * is decoded and validated like a request (an invalid Lease throws, it could not exist in a real
   * cluster), but uid, creationTimestamp and managedFields are kept when given.
   */
  seed(namespace: string, body: JsonObject, now: Date): Lease {
    const text = JSON.stringify(body);
    const decoded = decodeLease(body, text);
    if (!decoded.ok) throw new Error(`putLease: not a valid Lease: ${decoded.error}`);
    const lease = decoded.lease;
    const errors = validateLease(lease);
    if (errors.length > 0) throw new Error(`putLease: ${invalid(LEASE_KIND, LEASE_GROUP, lease.metadata.name ?? '', errors).message}`);
    const name = lease.metadata.name as string;
    const metadata = isObject(body.metadata) ? body.metadata : {};
    const existing = this.store.get(namespace, name);
    const content = managedContent(lease);
    const managedFields = Array.isArray(metadata.managedFields)
      ? (metadata.managedFields as unknown as ManagedFieldsEntry[])
      : updateManagedFields(
          existing?.object.metadata.managedFields,
          existing ? managedContent(existing.object) : undefined,
          content,
          'kube-api-server-test',
          now,
        );
    const stored = this.store.write(namespace, name, (resourceVersion) =>
      assemble(namespace, name, lease, {
        uid: lease.metadata.uid ?? existing?.object.metadata.uid ?? randomUUID(),
        resourceVersion,
        creationTimestamp:
          typeof metadata.creationTimestamp === 'string'
            ? metadata.creationTimestamp
            : existing?.object.metadata.creationTimestamp ?? formatTime(now),
        managedFields,
      }),
    );
    return JSON.parse(stored.json) as Lease;
  }

  /** Parses and decodes a POST/PUT body: 415, then 400s worded as the apiserver's decoder words them. */
  private decodeBody(request: WriteRequest): { lease: DecodedLease; warnings?: string[] } {
    const type = mediaType(request.contentType);
    if (type !== '' && !JSON_MEDIA_TYPES.includes(type)) throw new StatusError(unsupportedMediaType(JSON_MEDIA_TYPES));
    let body: unknown;
    try {
      body = JSON.parse(request.text);
    } catch (error) {
      throw new StatusError(badRequest(`couldn't get version/kind; json parse error: ${jsonSyntaxError(request.text, error)}`));
    }
    if (body === null) body = {}; // Go decodes `null` into an empty struct
    if (!isObject(body)) {
      const type = Array.isArray(body) ? 'array' : typeof body === 'boolean' ? 'bool' : typeof body;
      throw new StatusError(
        badRequest(
          `couldn't get version/kind; json parse error: json: cannot unmarshal ${type} into Go value of type ` +
            'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }',
        ),
      );
    }
    const apiVersion = typeof body.apiVersion === 'string' ? body.apiVersion : '';
    const kind = typeof body.kind === 'string' ? body.kind : '';
    if (apiVersion && apiVersion !== LEASE_API_VERSION) {
      throw new StatusError(
        badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${LEASE_API_VERSION})`),
      );
    }
    if (kind && kind !== LEASE_KIND) {
      throw new StatusError(
        badRequest(
          `${kind} in version "v1" cannot be handled as a Lease: no kind ${goQuote(kind)} is registered for version ` +
            `"${LEASE_API_VERSION}" in scheme "pkg/api/legacyscheme/scheme.go:30"`,
        ),
      );
    }
    const decoded = decodeLease(body, request.text);
    if (!decoded.ok) {
      throw new StatusError(badRequest(`Lease in version "v1" cannot be handled as a Lease: ${decoded.error}`));
    }
    const unknown = decoded.lease.unknownFields;
    if (unknown.length > 0 && request.query.get('fieldValidation') === 'Strict') {
      throw new StatusError(badRequest(`strict decoding error: ${unknown.map((f) => `unknown field ${goQuote(f)}`).join(', ')}`));
    }
    const warnings = unknown.length > 0 && request.query.get('fieldValidation') !== 'Ignore'
      ? unknown.map((f) => `299 - ${goQuote(`unknown field ${goQuote(f)}`)}`)
      : undefined;
    return { lease: decoded.lease, warnings };
  }

  /** The registry's optimistic-concurrency check: fixture 09 (missing) and fixture 06 (stale). */
  private checkResourceVersion(name: string, sent: string | undefined, existing: StoredLease): void {
    if (!sent) {
      // `qualifiedKind` is built from the resource here, hence kind "leases" (fixture 09).
      throw new StatusError(
        invalid(LEASE_RESOURCE, LEASE_GROUP, name, [
          invalidValue('metadata.resourceVersion', '0x0', 'must be specified for an update'),
        ]),
      );
    }
    if (!/^\d+$/.test(sent)) {
      throw new StatusError(
        invalid(LEASE_KIND, LEASE_GROUP, name, [
          invalidValue('metadata.resourceVersion', goQuote(sent), `strconv.ParseUint: parsing ${goQuote(sent)}: invalid syntax`),
        ]),
      );
    }
    if (Number(sent) !== existing.resourceVersion) throw new StatusError(conflict(name));
  }

  private insert(namespace: string, name: string, lease: DecodedLease, request: WriteRequest): StoredLease {
    const managedFields = updateManagedFields(undefined, undefined, managedContent(lease), request.manager, request.now);
    return this.store.write(namespace, name, (resourceVersion) =>
      assemble(namespace, name, lease, {
        uid: randomUUID(),
        resourceVersion,
        creationTimestamp: formatTime(request.now),
        managedFields,
      }),
    );
  }

  /** `rest.BeforeUpdate`: uid and creationTimestamp stay, whatever the client sent. */
  private overwrite(existing: StoredLease, lease: DecodedLease, request: WriteRequest): StoredLease {
    const before = existing.object;
    const managedFields = updateManagedFields(
      before.metadata.managedFields,
      managedContent(before),
      managedContent(lease),
      request.manager,
      request.now,
    );
    return this.store.write(existing.namespace, existing.name, (resourceVersion) =>
      assemble(existing.namespace, existing.name, lease, {
        uid: before.metadata.uid,
        resourceVersion,
        creationTimestamp: before.metadata.creationTimestamp,
        managedFields,
      }),
    );
  }

  private deletePreconditions(text: string): { uid?: string; resourceVersion?: string } {
    if (text.trim() === '') return {};
    let options: unknown;
    try {
      options = JSON.parse(text);
    } catch (error) {
      throw new StatusError(badRequest(`couldn't get version/kind; json parse error: ${jsonSyntaxError(text, error)}`));
    }
    const preconditions = isObject(options) && isObject(options.preconditions) ? options.preconditions : {};
    const asString = (value: JsonValue | undefined): string | undefined => (typeof value === 'string' ? value : undefined);
    return { uid: asString(preconditions.uid), resourceVersion: asString(preconditions.resourceVersion) };
  }
}

function managedContent(lease: DecodedLease | Lease): ManagedContent {
  return {
    labels: lease.metadata.labels,
    annotations: lease.metadata.annotations,
    ownerReferences: lease.metadata.ownerReferences,
    spec: lease.spec,
  };
}

interface SystemFields {
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  managedFields: ManagedFieldsEntry[];
}

/** The stored object, keys in the order the apiserver serialises them. */
function assemble(namespace: string, name: string, lease: DecodedLease, system: SystemFields): Lease {
  const { labels, annotations, ownerReferences } = lease.metadata;
  const metadata: Lease['metadata'] = {
    name,
    namespace,
    uid: system.uid,
    resourceVersion: system.resourceVersion,
    creationTimestamp: system.creationTimestamp,
  };
  if (labels) metadata.labels = { ...labels };
  if (annotations) metadata.annotations = { ...annotations };
  if (ownerReferences) metadata.ownerReferences = structuredClone(ownerReferences);
  if (system.managedFields.length > 0) metadata.managedFields = system.managedFields;
  const spec: Lease['spec'] = {};
  const source = lease.spec;
  if (source.holderIdentity !== undefined) spec.holderIdentity = source.holderIdentity;
  if (source.leaseDurationSeconds !== undefined) spec.leaseDurationSeconds = source.leaseDurationSeconds;
  if (source.acquireTime !== undefined) spec.acquireTime = source.acquireTime;
  if (source.renewTime !== undefined) spec.renewTime = source.renewTime;
  if (source.leaseTransitions !== undefined) spec.leaseTransitions = source.leaseTransitions;
  if (source.strategy !== undefined) spec.strategy = source.strategy;
  if (source.preferredHolder !== undefined) spec.preferredHolder = source.preferredHolder;
  return { kind: LEASE_KIND, apiVersion: LEASE_API_VERSION, metadata, spec };
}

