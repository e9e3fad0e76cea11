import { randomUUID } from 'node:crypto';

import { type FieldManager, updateFieldOwnership } from './field-sets.js';
import { type Answer, type WriteRequest, jsonSyntaxError } from './lease-api.js';
import { formatTime } from './micro-time.js';
import type { ResourceView, StoredObject } from './object-store.js';
import { POD_FIELDS, POD_SCHEMA, orderedSpec, podSpec } from './pod-status.js';
import { matchesFieldSelector, matchesLabelSelector, parseFieldSelector, parseLabelSelector } from './selectors.js';
import { PODS, StatusError, alreadyExists, badRequest, conflict, invalid, notFound, requiredValue, unsupportedMediaType } from './status.js';
import type { FieldError } from './status.js';
import type { JsonObject, JsonValue, Pod, PodMetadata } from './types.js';
import { validateLeaseName } from './validation.js';

type StoredPod = StoredObject<Pod>;

/** What a DELETE asks for: `DeleteOptions`, from the query and the body. */
export interface PodDeleteOptions {
  /** Default: the pod's `spec.terminationGracePeriodSeconds`; 0 deletes at once (force). */
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** What the creator of a Pod gives (the rest is defaulted as the apiserver defaults it). */
export interface PodBody {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  spec: JsonObject;
}

const TYPE_META_PREFIX = '{"kind":"Pod","apiVersion":"v1",';
/** Fields admission plugins add after field management has run: nobody owns them. */
const ADMISSION_FIELDS = ['serviceAccountName', 'serviceAccount', 'tolerations', 'priority', 'preemptionPolicy'];
const CONTAINER_ORDER = ['name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy',
  'restartPolicy', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle',
  'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy', 'securityContext', 'stdin', 'stdinOnce', 'tty'];

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The part of a Pod field management looks at when the main resource is written. */
const ownedByCreator = (pod: Pod): JsonObject => {
  const metadata: JsonObject = {};
  for (const key of ['generateName', 'labels', 'annotations', 'ownerReferences'] as const) {
    if (pod.metadata[key] !== undefined) metadata[key] = pod.metadata[key] as JsonValue;
  }
  return Object.keys(metadata).length > 0 ? { metadata, spec: pod.spec } : { spec: pod.spec };
};
/** Everything field management tracks: what a write by any manager is compared on. */
const tracked = (pod: Pod): JsonObject => ({ ...ownedByCreator(pod), status: pod.status as unknown as JsonObject });

/**
 * The Pod REST storage (core/v1 `pods` and `pods/status`): GET, LIST (watches are served by the
 * server from the shared store), POST and DELETE as the apiserver's pod strategy and generic
 * registry answer them, plus the writes the kubelet and the controllers make through the API,
 * which `pod-lifecycle.ts` drives. Graceful deletion follows `rest.BeforeDelete` and
 * `Store.Delete`: see `delete`.
 */
export class PodApi {
  constructor(private readonly store: ResourceView<Pod>) {}

  get(namespace: string, name: string): Answer {
    const current = this.store.get(namespace, name);
    if (!current) throw new StatusError(notFound(name, PODS));
    return { status: 200, json: current.json };
  }

  /** A `PodList`, items without kind/apiVersion, with the list's resourceVersion (as fixture 17 for Leases). */
  list(namespace: string, query: URLSearchParams): Answer {
    const fields = parseFieldSelector(query.get('fieldSelector'), POD_FIELDS);
    if (!fields.ok) throw new StatusError(badRequest(fields.message));
    const labels = parseLabelSelector(query.get('labelSelector'));
    if (!labels.ok) throw new StatusError(badRequest(labels.message));
    const items = this.store
      .list(namespace)
      .filter((s) => matchesFieldSelector(fields.selector, s.object, POD_FIELDS) && matchesLabelSelector(labels.selector, s.object))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => `{${s.json.slice(TYPE_META_PREFIX.length)}`);
    return {
      status: 200,
      json: `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"${this.store.resourceVersion}"},"items":[${items.join(',')}]}`,
    };
  }

  /** POST: a Pending, unscheduled Pod (201); the name and containers are validated, nothing more (see README). */
  create(namespace: string, request: WriteRequest): Answer {
    if (request.contentType && !request.contentType.toLowerCase().startsWith('application/json')) {
      throw new StatusError(unsupportedMediaType(['application/json']));
    }
    let body: unknown;
    try {
      body = JSON.parse(request.text);
    } catch (error) {
      throw new StatusError(badRequest(`couldn't get version/kind; json parse error: ${jsonSyntaxError(request.text, error)}`));
    }
    if (!isObject(body)) throw new StatusError(badRequest(`couldn't get version/kind; json parse error: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body} into Go value of type struct`));
    if (body.apiVersion !== undefined && body.apiVersion !== 'v1') {
      throw new StatusError(badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (v1)`));
    }
    const metadata = isObject(body.metadata) ? body.metadata : {};
    if (typeof metadata.namespace === 'string' && metadata.namespace && metadata.namespace !== namespace) {
      throw new StatusError(badRequest('the namespace of the provided object does not match the namespace sent on the request'));
    }
    const generated = typeof metadata.generateName === 'string' ? `${metadata.generateName}${randomUUID().slice(0, 5)}` : undefined;
    const name = typeof metadata.name === 'string' && metadata.name ? metadata.name : generated;
    const spec = isObject(body.spec) ? body.spec : {};
    const errors = [...validateLeaseName(name), ...validateContainers(spec)];
    if (errors.length > 0) throw new StatusError(invalid('Pod', '', name ?? '', errors));
    if (this.store.get(namespace, name as string)) throw new StatusError(alreadyExists(name as string, PODS));
    const pod = this.insert(namespace, {
      name: name as string,
      labels: stringMap(metadata.labels),
      annotations: stringMap(metadata.annotations),
      ownerReferences: Array.isArray(metadata.ownerReferences) ? (metadata.ownerReferences.filter(isObject)) : undefined,
      spec,
    }, { manager: request.manager, apiVersion: 'v1' }, request.now, typeof metadata.generateName === 'string' ? metadata.generateName : undefined);
    return { status: 201, json: JSON.stringify(pod) };
  }

  /** DELETE, answered with the Pod as it is after the request (pods return the deleted object). */
  deleteRequest(namespace: string, name: string, text: string, query: URLSearchParams, now: Date): Answer {
    const options: PodDeleteOptions = {};
    const fromQuery = query.get('gracePeriodSeconds');
    if (fromQuery !== null && /^-?\d+$/.test(fromQuery)) options.gracePeriodSeconds = Number(fromQuery);
    if (text.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (error) {
        throw new StatusError(badRequest(`couldn't get version/kind; json parse error: ${jsonSyntaxError(text, error)}`));
      }
      if (isObject(parsed)) {
        if (typeof parsed.gracePeriodSeconds === 'number') options.gracePeriodSeconds = parsed.gracePeriodSeconds;
        if (isObject(parsed.preconditions)) {
          const { uid, resourceVersion } = parsed.preconditions;
          options.preconditions = { uid: typeof uid === 'string' ? uid : undefined, resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : undefined };
        }
      }
    }
    return { status: 200, json: JSON.stringify(this.delete(namespace, name, options, now).pod) };
  }

  // --- the writes, for the API above and for pod-lifecycle.ts ------------------------------------

  /** Stores a new Pod as the apiserver creates one: defaulted spec, status Pending, the creator's managedFields. */
  insert(namespace: string, body: PodBody, who: FieldManager, now: Date, generateName?: string): Pod {
    const defaults = podSpec({ name: body.name });
    const created: JsonObject = { ...defaults, ...body.spec };
    created.containers = (Array.isArray(body.spec.containers) ? body.spec.containers.filter(isObject) : []).map((c) =>
      ordered({ resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: pullPolicy(c.image), ...c }, CONTAINER_ORDER),
    );
    const spec = orderedSpec(created);
    const metadata = { name: body.name, generateName, namespace, uid: randomUUID(), resourceVersion: '', creationTimestamp: formatTime(now) } as PodMetadata;
    if (generateName === undefined) delete metadata.generateName;
    if (body.labels) metadata.labels = { ...body.labels };
    if (body.annotations) metadata.annotations = { ...body.annotations };
    if (body.ownerReferences) metadata.ownerReferences = structuredClone(body.ownerReferences);
    const pod: Pod = { kind: 'Pod', apiVersion: 'v1', metadata, spec: spec as Pod['spec'], status: { phase: 'Pending', qosClass: 'BestEffort' } };
    const asWritten = ownedByCreator(pod);
    const written = asWritten.spec as JsonObject;
    asWritten.spec = Object.fromEntries(Object.entries(written).filter(([k]) => !ADMISSION_FIELDS.includes(k) || Object.hasOwn(body.spec, k)));
    const managedFields = updateFieldOwnership(undefined, undefined, asWritten, who, POD_SCHEMA, now);
    if (managedFields.length > 0) pod.metadata.managedFields = managedFields;
    return this.store.write(namespace, body.name, (resourceVersion) => withResourceVersion(pod, resourceVersion)).object;
  }

  /**
   * Changes a stored Pod. With `who`, as a write through the API by that manager (status writes
   * name `subresource: 'status'`); without, as the apiserver's own writes (binding, deletion),
   * which touch no managedFields. A change that changes nothing writes nothing (no event).
   */
  update(namespace: string, name: string, change: (pod: Pod) => Pod, who: FieldManager | undefined, now: Date): Pod {
    const existing = this.existing(namespace, name);
    const before = existing.object;
    const after = change(structuredClone(before));
    if (who) {
      const managedFields = updateFieldOwnership(before.metadata.managedFields, tracked(before), tracked(after), who, POD_SCHEMA, now);
      after.metadata = { ...after.metadata, managedFields };
      if (managedFields.length === 0) delete after.metadata.managedFields;
    }
    return this.store.write(namespace, name, (resourceVersion) => withResourceVersion(after, resourceVersion)).object;
  }

  /**
   * `Store.Delete` for a graceful strategy. A first delete stamps `deletionTimestamp` (now + grace)
   * and `deletionGracePeriodSeconds`: one MODIFIED. A delete with a shorter grace period than the
   * pending one moves both (`rest.BeforeDelete`), and a grace period of 0 then removes the object:
   * MODIFIED (grace 0), then DELETED, as `updateForGracefulDeletionAndFinalizers` writes the
   * shortened deletion before `Storage.Delete`. A longer or equal grace period changes nothing.
   */
  delete(namespace: string, name: string, options: PodDeleteOptions, now: Date): { pod: Pod; removed: boolean } {
    const existing = this.existing(namespace, name);
    const pod = existing.object;
    const { uid, resourceVersion } = options.preconditions ?? {};
    if (uid !== undefined && uid !== pod.metadata.uid) {
      throw new StatusError(conflict(name, `the UID in the precondition (${uid}) does not match the UID in record (${pod.metadata.uid}). The object might have been deleted and then recreated`, { group: '', resource: 'Pod' }));
    }
    if (resourceVersion !== undefined && resourceVersion !== pod.metadata.resourceVersion) {
      throw new StatusError(conflict(name, `the ResourceVersion in the precondition (${resourceVersion}) does not match the ResourceVersion in record (${pod.metadata.resourceVersion}). The object might have been modified`, { group: '', resource: 'Pod' }));
    }
    // Negative grace periods count as 1 s on the delete path.
    const requested = options.gracePeriodSeconds === undefined ? undefined : options.gracePeriodSeconds < 0 ? 1 : options.gracePeriodSeconds;
    const pending = pod.metadata.deletionGracePeriodSeconds;
    let grace: number;
    let deletionTimestamp: string;
    if (pod.metadata.deletionTimestamp !== undefined && pending !== undefined && pending > 0) {
      // Already being deleted: only a shorter grace period moves the deletion (BeforeDelete).
      if (requested === undefined || requested >= pending) return { pod, removed: false };
      grace = requested;
      deletionTimestamp = formatTime(new Date(Date.parse(pod.metadata.deletionTimestamp) - pending * 1000 + grace * 1000));
    } else if (pod.metadata.deletionTimestamp !== undefined) {
      // A grace-0 deletion whose removal did not happen: remove now.
      grace = 0;
      deletionTimestamp = pod.metadata.deletionTimestamp;
    } else {
      // CheckGracefulDelete: the request's period, else the spec's; 0 if unscheduled or terminal.
      grace = requested ?? Number(pod.spec.terminationGracePeriodSeconds ?? 0);
      if (!pod.spec.nodeName || pod.status.phase === 'Failed' || pod.status.phase === 'Succeeded') grace = 0;
      deletionTimestamp = formatTime(new Date(now.getTime() + grace * 1000));
    }
    const marked = this.update(namespace, name, (p) => withDeletion(p, deletionTimestamp, grace), undefined, now);
    if (grace > 0) return { pod: marked, removed: false };
    this.store.remove(namespace, name);
    return { pod: marked, removed: true };
  }

  private existing(namespace: string, name: string): StoredPod {
    const existing = this.store.get(namespace, name);
    if (!existing) throw new StatusError(notFound(name, PODS));
    return existing;
  }
}

function validateContainers(spec: JsonObject): FieldError[] {
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length === 0) return [requiredValue('spec.containers', '')];
  const errors: FieldError[] = [];
  containers.forEach((c, i) => {
    const container = isObject(c) ? c : {};
    if (typeof container.name !== 'string' || !container.name) errors.push(requiredValue(`spec.containers[${i}].name`, ''));
    if (typeof container.image !== 'string' || !container.image) errors.push(requiredValue(`spec.containers[${i}].image`, ''));
  });
  return errors;
}

/** `SetDefaults_Container`: `Always` for `:latest` or an untagged image, else `IfNotPresent`. */
function pullPolicy(image: JsonValue | undefined): string {
  const text = typeof image === 'string' ? image : '';
  const tag = /:([^/:@]+)$/.exec(text)?.[1];
  return !text.includes('@') && (tag === undefined || tag === 'latest') ? 'Always' : 'IfNotPresent';
}

function ordered(object: JsonObject, order: readonly string[]): JsonObject {
  const rank = (key: string): number => (order.includes(key) ? order.indexOf(key) : order.length);
  return Object.fromEntries(Object.keys(object).sort((a, b) => rank(a) - rank(b)).map((k) => [k, object[k]]));
}

function stringMap(value: JsonValue | undefined): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const entries = Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** ObjectMeta keys in Go's order: deletion fields after creationTimestamp. */
function withDeletion(pod: Pod, deletionTimestamp: string, grace: number): Pod {
  const { name, generateName, namespace, uid, resourceVersion, creationTimestamp, labels, annotations, ownerReferences, managedFields } = pod.metadata;
  const metadata = { name, generateName, namespace, uid, resourceVersion, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds: grace, labels, annotations, ownerReferences, managedFields };
  return { ...pod, metadata: JSON.parse(JSON.stringify(metadata)) as PodMetadata };
}

function withResourceVersion(pod: Pod, resourceVersion: string): Pod {
  return { ...pod, metadata: { ...pod.metadata, resourceVersion } };
}
