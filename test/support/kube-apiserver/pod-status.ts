import { createHash, randomBytes } from 'node:crypto';

import type { FieldSchema } from './field-sets.js';
import { formatTime } from './micro-time.js';
import type { SelectableFields } from './selectors.js';
import type { ContainerState, ContainerStatus, JsonObject, Pod, PodCondition, PodStatus } from './types.js';

/**
 * The shapes of a Pod's spec and status, and how the kubelet and the controllers change a status,
 * as pure functions. They follow the Go sources (k8s.io/api core/v1 types.go for field order,
 * pkg/kubelet/kubelet_pods.go for container statuses and phase, pkg/kubelet/status/generate.go for
 * conditions). `pod-lifecycle.ts` writes what they return.
 */

/** `ToSelectableFields` of pkg/registry/core/pod/strategy.go, with the v1 field label conversion. */
export const POD_FIELDS: SelectableFields = {
  names: [
    'metadata.name',
    'metadata.namespace',
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.podIPs',
    'status.nominatedNodeName',
  ],
  aliases: { 'spec.host': 'spec.nodeName' },
  unknown: (field) => `field label not supported: ${field}`,
  values: (object) => {
    const pod = object as Pod;
    const text = (value: unknown): string => (typeof value === 'string' ? value : '');
    return {
      'metadata.name': pod.metadata.name,
      'metadata.namespace': pod.metadata.namespace,
      'spec.nodeName': text(pod.spec.nodeName),
      'spec.restartPolicy': text(pod.spec.restartPolicy),
      'spec.schedulerName': text(pod.spec.schedulerName),
      'spec.serviceAccountName': text(pod.spec.serviceAccountName),
      'spec.hostNetwork': String(pod.spec.hostNetwork === true),
      'status.phase': text(pod.status.phase),
      'status.podIP': pod.status.podIPs?.[0]?.ip ?? '',
      'status.nominatedNodeName': '',
    };
  },
};

/** What decides the paths of a Pod's `managedFields` (see field-sets.ts). */
export const POD_SCHEMA: FieldSchema = {
  ignored: new Set([
    'kind',
    'apiVersion',
    'metadata.name',
    'metadata.namespace',
    'metadata.uid',
    'metadata.resourceVersion',
    'metadata.generation',
    'metadata.creationTimestamp',
    'metadata.deletionTimestamp',
    'metadata.deletionGracePeriodSeconds',
    'metadata.managedFields',
    'metadata.selfLink',
  ]),
  maps: new Set(['metadata.labels', 'metadata.annotations', 'spec.nodeSelector']),
  keyedLists: new Map([
    ['metadata.ownerReferences', ['uid']],
    ['spec.containers', ['name']],
    ['spec.containers[].ports', ['containerPort', 'protocol']],
    ['spec.containers[].env', ['name']],
    ['spec.volumes', ['name']],
    ['status.conditions', ['type']],
    ['status.podIPs', ['ip']],
    ['status.hostIPs', ['ip']],
  ]),
};

export interface ContainerOptions {
  name: string;
  /** Default `registry.example/<name>:1.0`. */
  image?: string;
}

export interface PodOptions {
  name: string;
  /** Default `node-a`. */
  nodeName?: string;
  /** Container names or options; default one container named `app`. */
  containers?: Array<string | ContainerOptions>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: JsonObject[];
  /** Default `Always`, as for the Pods of a Deployment. */
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  /** Default 30 (the API default). */
  terminationGracePeriodSeconds?: number;
}

/** `containerd://` and 64 hex digits, as containerd names a new container. */
export const newContainerID = (): string => `containerd://${randomBytes(32).toString('hex')}`;

/** A digest-pinned image reference, the same for the same image. */
export const imageIDFor = (image: string): string =>
  `${image.replace(/:[^/:]*$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}`;

const hash = (text: string): number => createHash('sha256').update(text).digest()[0];

/** Addresses from the documentation ranges (RFC 5737): data only, never an address to connect to. */
export const hostIPFor = (nodeName: string): string => `192.0.2.${1 + (hash(nodeName) % 250)}`;
export const podIPFor = (namespace: string, name: string): string => `198.51.100.${1 + (hash(`${namespace}/${name}`) % 250)}`;

/** The spec as the apiserver stores it after defaulting and admission (no service account volume: see README). */
export function podSpec(options: PodOptions): JsonObject {
  const containers = (options.containers ?? ['app']).map((c) => (typeof c === 'string' ? { name: c } : c));
  return {
    containers: containers.map((c) => ({
      name: c.name,
      image: c.image ?? `registry.example/${c.name}:1.0`,
      resources: {},
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
    })),
    restartPolicy: options.restartPolicy ?? 'Always',
    terminationGracePeriodSeconds: options.terminationGracePeriodSeconds ?? 30,
    dnsPolicy: 'ClusterFirst',
    serviceAccountName: 'default',
    serviceAccount: 'default',
    securityContext: {},
    schedulerName: 'default-scheduler',
    tolerations: [
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ],
    priority: 0,
    enableServiceLinks: true,
    preemptionPolicy: 'PreemptLowerPriority',
  };
}

/** PodSpec keys in Go's field order, so that `nodeName` lands where the apiserver puts it. */
const SPEC_ORDER = [
  'volumes', 'initContainers', 'containers', 'ephemeralContainers', 'restartPolicy', 'terminationGracePeriodSeconds',
  'activeDeadlineSeconds', 'dnsPolicy', 'nodeSelector', 'serviceAccountName', 'serviceAccount',
  'automountServiceAccountToken', 'nodeName', 'hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace',
  'securityContext', 'imagePullSecrets', 'hostname', 'subdomain', 'affinity', 'schedulerName', 'tolerations',
  'hostAliases', 'priorityClassName', 'priority', 'dnsConfig', 'readinessGates', 'runtimeClassName',
  'enableServiceLinks', 'preemptionPolicy', 'overhead', 'topologySpreadConstraints', 'setHostnameAsFQDN', 'os',
  'hostUsers', 'schedulingGates', 'resourceClaims', 'resources',
];

export function orderedSpec(spec: JsonObject): JsonObject {
  const rank = (key: string): number => (SPEC_ORDER.includes(key) ? SPEC_ORDER.indexOf(key) : SPEC_ORDER.length);
  return Object.fromEntries(Object.keys(spec).sort((a, b) => rank(a) - rank(b)).map((k) => [k, spec[k]]));
}

/** What the binding subresource writes: `spec.nodeName`, in its place. */
export const withNodeName = (spec: JsonObject, nodeName: string): JsonObject => orderedSpec({ ...spec, nodeName });

/** A PodCondition in Go's field order; `lastProbeTime` is `null` as the zero metav1.Time is. */
export function condition(type: string, status: PodCondition['status'], at: string, reason?: string, message?: string): PodCondition {
  const out: PodCondition = { type, status, lastProbeTime: null, lastTransitionTime: at };
  if (reason) out.reason = reason;
  if (message) out.message = message;
  return out;
}

/**
 * `UpdatePodCondition`: replaces the condition of that type, keeping its lastTransitionTime when
 * the status did not change, appending it when there was none.
 */
export function setCondition(conditions: readonly PodCondition[], next: PodCondition): PodCondition[] {
  const index = conditions.findIndex((c) => c.type === next.type);
  if (index < 0) return [...conditions, next];
  const old = conditions[index];
  const kept = old.status === next.status ? { ...next, lastTransitionTime: old.lastTransitionTime } : next;
  return conditions.map((c, i) => (i === index ? kept : c));
}

export const containerNames = (pod: Pod): string[] => pod.spec.containers.map((c) => String(c.name));
const imageOf = (pod: Pod, name: string): string => String(pod.spec.containers.find((c) => c.name === name)?.image ?? '');

/** Go's `%s` of a []string: `[a b]`. */
const goList = (names: readonly string[]): string => `[${names.join(' ')}]`;

/**
 * The conditions the kubelet generates (`generateAPIPodStatus`, 1.29+ order): its own ones
 * (PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled), after any
 * condition it does not own (DisruptionTarget), each keeping its lastTransitionTime while its
 * status stays.
 */
export function kubeletConditions(pod: Pod, statuses: readonly ContainerStatus[], phase: NonNullable<PodStatus['phase']>, at: string): PodCondition[] {
  const old = pod.status.conditions ?? [];
  const keep = (next: PodCondition): PodCondition => {
    const previous = old.find((c) => c.type === next.type);
    return previous && previous.status === next.status ? { ...next, lastTransitionTime: previous.lastTransitionTime } : next;
  };
  const sandboxReady = statuses.some((s) => s.state.running || s.state.terminated || s.lastState.terminated || s.containerID);
  const unready = statuses.filter((s) => !s.ready).map((s) => s.name);
  const terminal = phase === 'Failed' || phase === 'Succeeded';
  const ready = terminal
    ? condition('Ready', 'False', at, phase === 'Failed' ? 'PodFailed' : 'PodCompleted')
    : unready.length > 0
      ? condition('Ready', 'False', at, 'ContainersNotReady', `containers with unready status: ${goList(unready)}`)
      : condition('Ready', 'True', at);
  const containersReady = { ...ready, type: 'ContainersReady' };
  const notOwned = old.filter((c) => !['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].includes(c.type));
  return [
    ...notOwned,
    keep(condition('PodReadyToStartContainers', sandboxReady && !terminal ? 'True' : 'False', at)),
    keep(condition('Initialized', 'True', at)),
    keep(ready),
    keep(containersReady),
    keep(condition('PodScheduled', 'True', at)),
  ];
}

/** The phase `getPhase` computes for regular containers (no init containers modelled). */
export function phaseOf(pod: Pod, statuses: readonly ContainerStatus[], podIsTerminal: boolean): NonNullable<PodStatus['phase']> {
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const s of statuses) {
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
  if (pod.spec.restartPolicy === 'Always') return 'Running';
  if (stopped === succeeded) return 'Succeeded';
  return pod.spec.restartPolicy === 'Never' ? 'Failed' : 'Running';
}

/** PodStatus keys in Go's field order. */
export function orderedStatus(status: PodStatus): PodStatus {
  const order: Array<keyof PodStatus> = ['phase', 'conditions', 'message', 'reason', 'hostIP', 'hostIPs', 'podIP', 'podIPs', 'startTime', 'containerStatuses', 'qosClass'];
  const out: PodStatus = {};
  for (const key of order) if (status[key] !== undefined) (out as Record<string, unknown>)[key] = status[key];
  return out;
}

/** A ContainerStatus in Go's field order. */
export function containerStatus(pod: Pod, name: string, parts: { state: ContainerState; lastState?: ContainerState; ready: boolean; restartCount: number; containerID?: string; started?: boolean }): ContainerStatus {
  const image = imageOf(pod, name);
  const out: ContainerStatus = {
    name,
    state: parts.state,
    lastState: parts.lastState ?? {},
    ready: parts.ready,
    restartCount: parts.restartCount,
    image,
    imageID: parts.containerID ? imageIDFor(image) : '',
  };
  if (parts.containerID) out.containerID = parts.containerID;
  if (parts.started !== undefined) out.started = parts.started;
  return out;
}

/** The kubelet's first status: sandbox being made, containers `ContainerCreating`, phase Pending. */
export function creatingStatus(pod: Pod, now: Date): PodStatus {
  const at = formatTime(now);
  const nodeName = String(pod.spec.nodeName);
  const statuses = containerNames(pod).map((name) =>
    containerStatus(pod, name, { state: { waiting: { reason: 'ContainerCreating' } }, ready: false, restartCount: 0, started: false }),
  );
  const hostIP = hostIPFor(nodeName);
  return orderedStatus({
    phase: 'Pending',
    conditions: kubeletConditions(pod, statuses, 'Pending', at),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    startTime: at,
    containerStatuses: statuses,
    qosClass: pod.status.qosClass ?? 'BestEffort',
  });
}

/** Every container running (no readiness probe: ready as soon as it runs), phase Running. */
export function runningStatus(pod: Pod, now: Date): PodStatus {
  const at = formatTime(now);
  const statuses = containerNames(pod).map((name) =>
    containerStatus(pod, name, { state: { running: { startedAt: at } }, ready: true, restartCount: 0, containerID: newContainerID(), started: true }),
  );
  const podIP = podIPFor(pod.metadata.namespace, pod.metadata.name);
  return orderedStatus({
    ...pod.status,
    phase: 'Running',
    conditions: kubeletConditions(pod, statuses, 'Running', at),
    podIP,
    podIPs: [{ ip: podIP }],
    containerStatuses: statuses,
  });
}

/** The same status with new container statuses, the phase and the kubelet's conditions recomputed. */
export function withContainerStatuses(pod: Pod, statuses: ContainerStatus[], now: Date, podIsTerminal = false): PodStatus {
  const phase = phaseOf(pod, statuses, podIsTerminal);
  return orderedStatus({ ...pod.status, phase, conditions: kubeletConditions(pod, statuses, phase, formatTime(now)), containerStatuses: statuses });
}
