/** The verbs the test apiserver counts and authorises, named as Kubernetes RBAC names them. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export const VERBS: readonly Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/**
 * One RBAC PolicyRule, flattened: a Role (when `namespaces` is set) or a ClusterRole binding
 * (when it is not). `'*'` works as in Kubernetes wherever a list is given.
 */
export interface RbacRule {
  verbs: Array<Verb | '*'>;
  /** Default `['leases']`. */
  resources?: string[];
  /** When set, only requests that name one of these objects match (see `rbac.ts`). */
  resourceNames?: string[];
  /** When set, only these namespaces; when absent, every namespace (a ClusterRole). */
  namespaces?: string[];
  /** When absent, any API group: the resource name alone is matched. */
  apiGroups?: string[];
}

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: string;
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: JsonObject;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  strategy?: string;
  preferredHolder?: string;
}

export interface LeaseMetadata {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  managedFields?: ManagedFieldsEntry[];
}

/** A Lease exactly as the apiserver serialises it (GET answer, watch event object). */
export interface Lease {
  kind: 'Lease';
  apiVersion: 'coordination.k8s.io/v1';
  metadata: LeaseMetadata;
  spec: LeaseSpec;
}

/** What the server reports on its `'request'` event. */
export interface RequestEventInfo {
  /** The authenticated user, or null when the token was missing or unknown. */
  user: string | null;
  /** `'other'` for requests that map to none of the seven verbs (unknown paths, other methods). */
  verb: Verb | 'other';
  method: string;
  /** URL path without the query string. */
  path: string;
  /** The query string, without the leading `?` ('' when none). */
  query: string;
  /**
   * The HTTP status answered; for a watch, the status of the stream's head (200 even when the
   * stream then carries an ERROR event). 0 means the request is being held unanswered by the
   * `hang` or `partition` fault; if it is released later a second event reports its answer.
   */
  status: number;
}
