import type { V1Lease, V1Pod } from '@kubernetes/client-node';
import { CONTAINER_ANNOTATION } from './resourcelock/lease-record.js';

/**
 * Which container instance wrote the Lease's record (issue 16, fast failover), written next to
 * the incarnation by a leader that knows it: the pod's UID, the container's name, its containerID
 * and restartCount when this process read its own pod. The record's holder, acquireTime and
 * incarnation are in it too, so it is read only for the very record it was written with: a
 * client-go writer, or one of ours that does not know its container, keeps annotations it does
 * not write, and a stale one must never speak for another record.
 */
export { CONTAINER_ANNOTATION } from './resourcelock/lease-record.js';

/** One container instance: a process tree that a restart replaces, with a new containerID. */
export interface ContainerInstance {
  readonly podUid: string;
  readonly container: string;
  readonly containerId: string;
  readonly restartCount: number;
}

export function sameInstance(a: ContainerInstance, b: ContainerInstance): boolean {
  return a.podUid === b.podUid && a.container === b.container && a.containerId === b.containerId && a.restartCount === b.restartCount;
}

/** The record a container annotation belongs to. */
export interface RecordKey {
  readonly holder: string;
  readonly acquireTimeMs: number | null;
  readonly incarnation: string | undefined;
}

export function encodeContainer(instance: ContainerInstance, record: RecordKey): string {
  return JSON.stringify({ ...instance, holder: record.holder, acquireTime: record.acquireTimeMs, incarnation: record.incarnation });
}

/** The container instance that wrote this record, when the annotation was written with it. */
export function containerOf(lease: V1Lease | null, record: RecordKey): ContainerInstance | undefined {
  const value = lease?.metadata?.annotations?.[CONTAINER_ANNOTATION];
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    if (parsed.holder !== record.holder || parsed.acquireTime !== record.acquireTimeMs || parsed.incarnation !== record.incarnation) return undefined;
    const { podUid, container, containerId, restartCount } = parsed;
    if (typeof podUid !== 'string' || typeof container !== 'string' || typeof containerId !== 'string' || typeof restartCount !== 'number') return undefined;
    return { podUid, container, containerId, restartCount };
  } catch {
    return undefined;
  }
}

/** What a pod's status says of a recorded container instance. */
export type Evidence = { readonly dead: true; readonly why: string } | { readonly dead: false; readonly why: string };

/**
 * Whether the pod proves that the container instance which wrote the record is gone, and so can
 * no longer act on the Lease (the kubelet's word: it restarted or terminated that container). Only
 * proof counts: a pod that is not Ready (a node NotReady or unreachable), another pod object with
 * the holder's name (a force deletion and a re-creation), a status that did not change, or a pod
 * removed without the kubelet having reported the container terminated (a force deletion: the
 * process may still run on a node cut off from the API) prove nothing.
 *
 * @param pod the pod as a watch event carries it: its state now, or its last state when removed
 * @param removed the event was DELETED: the pod object is gone
 */
export function judgeContainer(recorded: ContainerInstance, pod: V1Pod, removed = false): Evidence {
  if (pod.metadata?.uid !== recorded.podUid) {
    return { dead: false, why: 'a pod object with its name is not the one it ran in (another UID)' };
  }
  if (removed) {
    const gone = terminated(recorded, pod);
    if (gone !== undefined) return { dead: true, why: `its pod was removed after ${gone}` };
    return { dead: false, why: 'its pod was removed without the kubelet reporting its container terminated (a force deletion proves nothing: the process may still run)' };
  }
  const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === recorded.container);
  if (status === undefined) return { dead: false, why: `its pod shows no status of container ${recorded.container}` };
  const gone = terminated(recorded, pod);
  if (gone !== undefined) return { dead: true, why: gone };
  if (status.restartCount > recorded.restartCount) {
    return { dead: true, why: `the kubelet restarted container ${recorded.container} (restartCount ${recorded.restartCount} -> ${status.restartCount})` };
  }
  if (status.containerID !== undefined && status.containerID !== '' && status.containerID !== recorded.containerId) {
    return { dead: true, why: `container ${recorded.container} runs as another instance (${status.containerID})` };
  }
  if (pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'False')) {
    return { dead: false, why: 'its pod is not Ready but its container still reads running (a NotReady or unreachable node proves nothing)' };
  }
  return { dead: false, why: STILL_RUNS };
}

/** The one answer that is no news: nothing to log. */
export const STILL_RUNS = 'its container still runs';

/** Why the pod's status says the recorded container terminated, or undefined. */
function terminated(recorded: ContainerInstance, pod: V1Pod): string | undefined {
  const status = pod.status?.containerStatuses?.find((candidate) => candidate.name === recorded.container);
  if (status === undefined) return undefined;
  const now = status.state?.terminated;
  if (now !== undefined && (now.containerID === undefined || now.containerID === recorded.containerId) && status.containerID === recorded.containerId) {
    return `the kubelet reported container ${recorded.container} terminated (${now.reason ?? `exit code ${now.exitCode}`})`;
  }
  const last = status.lastState?.terminated;
  if (last?.containerID === recorded.containerId) {
    return `the kubelet reported container ${recorded.container} terminated (${last.reason ?? `exit code ${last.exitCode}`}) and started another`;
  }
  return undefined;
}

/**
 * How far the kubelet's `startedAt` (whole seconds, by the node's clock) may be from this
 * container's start read from /proc (same clock): truncation to the second, and the runtime
 * stamping its start a little after the first process began.
 */
const START_SLACK_BEFORE_MS = 2_000;
const START_SLACK_AFTER_MS = 1_000;

/**
 * This process's own container instance, read from its own pod, or why it cannot be told. The
 * status entry must describe a running instance that started when this container did
 * (`containerStartedAt`, see container-start.ts): right after a restart the kubelet may still
 * report the previous instance, and taking that one for ours would let others take this live
 * process for dead once the kubelet reports the previous instance terminated.
 */
export function ownContainer(pod: V1Pod, containerName: string | undefined, containerStartedAt: Date): ContainerInstance | string {
  const uid = pod.metadata?.uid;
  const statuses = pod.status?.containerStatuses ?? [];
  if (uid === undefined) return 'the pod has no UID';
  const status = containerName !== undefined
    ? statuses.find((candidate) => candidate.name === containerName)
    : statuses.length === 1 ? statuses[0] : undefined;
  if (status === undefined) {
    return containerName !== undefined
      ? `the pod has no container named "${containerName}" (it has ${statuses.map((s) => `"${s.name}"`).join(', ') || 'none'})`
      : `the pod has ${statuses.length} containers (${statuses.map((s) => `"${s.name}"`).join(', ')}): say which is this process with lease.fastFailover.container`;
  }
  const startedAt = status.state?.running?.startedAt;
  if (!status.containerID || startedAt === undefined) return `the kubelet does not report container ${status.name} running yet`;
  const started = new Date(startedAt).getTime();
  const ours = containerStartedAt.getTime();
  if (!(started >= ours - START_SLACK_BEFORE_MS && started <= ours + START_SLACK_AFTER_MS)) {
    return `the kubelet reports an instance of container ${status.name} started at ${new Date(started).toISOString()}, ` +
      `not this one (started at ${containerStartedAt.toISOString()}): its status is not up to date yet`;
  }
  return { podUid: uid, container: status.name, containerId: status.containerID, restartCount: status.restartCount };
}
