/** The verbs the test apiserver counts and authorises, named as Kubernetes RBAC names them. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export const VERBS: readonly Verb[] = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];

/**
 * One RBAC PolicyRule, flattened: a Role (when `namespaces` is set) or a ClusterRole binding
 * (when it is not). `'*'` works as in Kubernetes wherever a list is given.
 */
export interface RbacRule {
  verbs: Array<Verb | '*'>;
  /** Default `['leases']`. Pods: `resources: ['pods'], apiGroups: ['']`. */
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
  /** `status` for a write through the status subresource (Kubernetes 1.22+); absent otherwise. */
  subresource?: string;
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

/** What the store needs of any object: type meta and the identifying metadata. */
export interface KubeObject {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
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

// --- core/v1 Pod, as far as this server models it (see pod-status.ts) ---------------------------

export interface PodMetadata {
  name: string;
  generateName?: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  managedFields?: ManagedFieldsEntry[];
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  /** Always serialised: `null` when never probed, as metav1.Time's zero value is. */
  lastProbeTime: string | null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

export interface ContainerStateTerminated {
  exitCode: number;
  signal?: number;
  reason?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  containerID?: string;
}

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: ContainerStateTerminated;
}

export interface ContainerStatus {
  name: string;
  state: ContainerState;
  lastState: ContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started?: boolean;
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  conditions?: PodCondition[];
  message?: string;
  reason?: string;
  hostIP?: string;
  hostIPs?: Array<{ ip: string }>;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime?: string;
  containerStatuses?: ContainerStatus[];
  qosClass?: string;
}

/** A Pod exactly as the apiserver serialises it; `spec` is kept as the JSON it was stored with. */
export interface Pod {
  kind: 'Pod';
  apiVersion: 'v1';
  metadata: PodMetadata;
  spec: JsonObject & { nodeName?: string; containers: JsonObject[]; terminationGracePeriodSeconds?: number; restartPolicy?: string };
  status: PodStatus;
}
