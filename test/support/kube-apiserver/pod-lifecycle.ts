import type { FieldManager } from './field-sets.js';
import { formatTime } from './micro-time.js';
import type { ObjectStore } from './object-store.js';
import type { PodApi } from './pod-api.js';
import {
  type PodOptions,
  condition,
  containerStatus,
  creatingStatus,
  newContainerID,
  orderedStatus,
  runningStatus,
  setCondition,
  withContainerStatuses,
  withNodeName,
} from './pod-status.js';
import type { ContainerStateTerminated, ContainerStatus, JsonObject, Pod } from './types.js';

const KUBELET: FieldManager = { manager: 'kubelet', apiVersion: 'v1', subresource: 'status' };
/** The node lifecycle and taint eviction controllers run in kube-controller-manager. */
const CONTROLLER_STATUS: FieldManager = { manager: 'kube-controller-manager', apiVersion: 'v1', subresource: 'status' };

export interface CreatePodOptions extends PodOptions {
  /** The field manager of the creating request. Default `kube-controller-manager` (a ReplicaSet's Pod). */
  manager?: string;
  /** The time the steps are stamped with. Default now. */
  at?: Date;
}

export interface RestartContainerOptions {
  /** Default: the first container. */
  container?: string;
  /** Default 1. */
  exitCode?: number;
  /** The runtime's reason: `Error` (default), `OOMKilled`, `Completed` for exit code 0. */
  reason?: string;
  /**
   * What the kubelet reports before the new container runs (one MODIFIED each):
   * - `terminated` (default): the container's `state.terminated`, as after a first crash, when
   *   the kubelet restarts at once but has written the status it computed before restarting;
   * - `CrashLoopBackOff`: `state.waiting` CrashLoopBackOff with the crash in `lastState`;
   * - `none`: nothing, as when the status manager's write came after the restart.
   */
  via?: 'terminated' | 'CrashLoopBackOff' | 'none';
  /** When the container exited (its `finishedAt`). Default now. */
  at?: Date;
  /** When the new container started. Default `at`. */
  restartedAt?: Date;
}

export interface StopContainersOptions {
  /** Default 0 (`Completed`, the process handled SIGTERM); 143 or 137 are `Error`. */
  exitCode?: number;
  at?: Date;
}

/**
 * Plays the kubelet and the control plane for Pods, through the same writes the real components
 * make, so that watches see the events a real apiserver would send. The kubelet writes through
 * `pods/status` (managedFields `kubelet`, subresource `status`); the scheduler's binding and the
 * apiserver's deletion steps touch no managedFields. Every method returns the Pod as stored after
 * its last write (or as last seen, when it was removed). See the README for each event sequence.
 */
export class PodLifecycle {
  constructor(
    private readonly api: PodApi,
    private readonly store: ObjectStore,
  ) {}

  /** A copy of the stored Pod, as a GET would return it. */
  get(namespace: string, name: string): Pod | undefined {
    const stored = this.store.get('pods', namespace, name);
    return stored && (JSON.parse(stored.json) as Pod);
  }

  /**
   * A Pod as a controller creates it, the scheduler binds it and the kubelet starts it:
   * ADDED (Pending, unscheduled), MODIFIED (bound: `spec.nodeName`, PodScheduled), MODIFIED
   * (kubelet: ContainerCreating, hostIP, startTime), MODIFIED (kubelet: Running, ready, podIP).
   */
  create(namespace: string, options: CreatePodOptions): Pod {
    const now = options.at ?? new Date();
    const spec: JsonObject = {
      containers: (options.containers ?? ['app']).map((c) => {
        const container = typeof c === 'string' ? { name: c } : c;
        return { name: container.name, image: container.image ?? `registry.example/${container.name}:1.0` };
      }),
    };
    if (options.restartPolicy) spec.restartPolicy = options.restartPolicy;
    if (options.terminationGracePeriodSeconds !== undefined) spec.terminationGracePeriodSeconds = options.terminationGracePeriodSeconds;
    this.api.insert(
      namespace,
      { name: options.name, labels: options.labels, annotations: options.annotations, ownerReferences: options.ownerReferences, spec },
      { manager: options.manager ?? 'kube-controller-manager', apiVersion: 'v1' },
      now,
    );
    this.bind(namespace, options.name, options.nodeName ?? 'node-a', now);
    return this.start(namespace, options.name, now);
  }

  /** The scheduler's binding (`pods/binding`): `spec.nodeName` and PodScheduled True, one MODIFIED. */
  bind(namespace: string, name: string, nodeName: string, at = new Date()): Pod {
    return this.api.update(
      namespace,
      name,
      (pod) => ({
        ...pod,
        spec: withNodeName(pod.spec, nodeName) as Pod['spec'],
        status: orderedStatus({ ...pod.status, conditions: setCondition(pod.status.conditions ?? [], condition('PodScheduled', 'True', formatTime(at))) }),
      }),
      undefined,
      at,
    );
  }

  /** The kubelet starts a bound Pod: MODIFIED (ContainerCreating), MODIFIED (Running). */
  start(namespace: string, name: string, at = new Date()): Pod {
    this.api.update(namespace, name, (pod) => ({ ...pod, status: creatingStatus(pod, at) }), KUBELET, at);
    return this.api.update(namespace, name, (pod) => ({ ...pod, status: runningStatus(pod, at) }), KUBELET, at);
  }

  /**
   * A container crashed and the kubelet restarted it: the status it reports first (see `via`),
   * then MODIFIED with `restartCount` + 1, a new `containerID`, `state.running` from `restartedAt`
   * and `lastState.terminated` (exit code, reason, startedAt, finishedAt, the old containerID).
   */
  restartContainer(namespace: string, name: string, options: RestartContainerOptions = {}): Pod {
    const pod = this.require(namespace, name);
    const at = options.at ?? new Date();
    const restartedAt = options.restartedAt ?? at;
    const target = options.container ?? String(pod.spec.containers[0]?.name);
    const current = pod.status.containerStatuses?.find((s) => s.name === target);
    if (!current?.state.running) throw new Error(`restartContainer: container ${target} of ${namespace}/${name} is not running`);
    const exitCode = options.exitCode ?? 1;
    const crash = terminated(exitCode, options.reason ?? (exitCode === 0 ? 'Completed' : 'Error'), current, at);
    const replace = (statuses: ContainerStatus[], next: ContainerStatus): ContainerStatus[] => statuses.map((s) => (s.name === target ? next : s));
    const base = { ready: false, restartCount: current.restartCount, containerID: current.containerID, started: false };
    const via = options.via ?? 'terminated';
    const before =
      via === 'CrashLoopBackOff'
        ? containerStatus(pod, target, {
            ...base,
            state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=${target} pod=${name}_${namespace}(${pod.metadata.uid})` } },
            lastState: { terminated: crash },
          })
        : containerStatus(pod, target, { ...base, state: { terminated: crash }, lastState: current.lastState });
    const crashed: Pod = { ...pod, status: withContainerStatuses(pod, replace(pod.status.containerStatuses ?? [], before), at) };
    if (via !== 'none') this.api.update(namespace, name, () => crashed, KUBELET, at);
    const running = containerStatus(pod, target, {
      state: { running: { startedAt: formatTime(restartedAt) } },
      lastState: { terminated: crash },
      ready: true,
      restartCount: current.restartCount + 1,
      containerID: newContainerID(),
      started: true,
    });
    return this.api.update(
      namespace,
      name,
      (stored) => ({ ...stored, status: withContainerStatuses(crashed, replace(stored.status.containerStatuses ?? [], running), restartedAt) }),
      KUBELET,
      restartedAt,
    );
  }

  /**
   * A DELETE as kubectl or a controller sends it (`Store.Delete`): with a grace period, MODIFIED
   * (`deletionTimestamp` = now + grace, `deletionGracePeriodSeconds`); with 0, MODIFIED
   * (`deletionTimestamp` now, grace 0) then DELETED, the containers' status untouched.
   */
  delete(namespace: string, name: string, options: { gracePeriodSeconds?: number; uid?: string; at?: Date } = {}): Pod {
    const preconditions = options.uid === undefined ? undefined : { uid: options.uid };
    return this.api.delete(namespace, name, { gracePeriodSeconds: options.gracePeriodSeconds, preconditions }, options.at ?? new Date()).pod;
  }

  /** `kubectl delete --grace-period=0 --force`: MODIFIED (grace 0), DELETED; no kubelet confirmation. */
  forceDelete(namespace: string, name: string, at = new Date()): Pod {
    return this.delete(namespace, name, { gracePeriodSeconds: 0, at });
  }

  /**
   * The kubelet has killed the containers of a Pod being deleted: one MODIFIED with every
   * container `state.terminated` (exit code, `Completed` or `Error`, the containerID), not ready,
   * and the phase terminal (Succeeded if all exited 0, else Failed), as 1.27+ kubelets report.
   */
  stopContainers(namespace: string, name: string, options: StopContainersOptions = {}): Pod {
    const pod = this.require(namespace, name);
    const at = options.at ?? new Date();
    const exitCode = options.exitCode ?? 0;
    const statuses = (pod.status.containerStatuses ?? []).map((s) =>
      s.state.running
        ? containerStatus(pod, s.name, {
            state: { terminated: terminated(exitCode, exitCode === 0 ? 'Completed' : 'Error', s, at) },
            lastState: s.lastState,
            ready: false,
            restartCount: s.restartCount,
            containerID: s.containerID,
            started: false,
          })
        : s,
    );
    return this.api.update(namespace, name, (p) => ({ ...p, status: withContainerStatuses(p, statuses, at, true) }), KUBELET, at);
  }

  /**
   * The kubelet's last word on a terminated Pod: DELETE with grace period 0 and its uid as
   * precondition (status manager `syncPod`): MODIFIED (`deletionTimestamp` moved back by the
   * pending grace period, grace 0), then DELETED.
   */
  finishDeletion(namespace: string, name: string, at = new Date()): Pod {
    const pod = this.require(namespace, name);
    return this.delete(namespace, name, { gracePeriodSeconds: 0, uid: pod.metadata.uid, at });
  }

  /**
   * A graceful deletion carried out by a live kubelet: `delete` (MODIFIED), `stopContainers`
   * (MODIFIED), `finishDeletion` (MODIFIED, DELETED).
   */
  terminate(namespace: string, name: string, options: { gracePeriodSeconds?: number; exitCode?: number; at?: Date } = {}): Pod {
    const at = options.at ?? new Date();
    this.delete(namespace, name, { gracePeriodSeconds: options.gracePeriodSeconds, at });
    this.stopContainers(namespace, name, { exitCode: options.exitCode, at });
    return this.finishDeletion(namespace, name, at);
  }

  /**
   * The node lifecycle controller's `MarkPodsNotReady` for a node that stopped reporting: on every
   * Pod bound to it whose Ready condition is True, Ready becomes False (new lastTransitionTime,
   * no reason) through `pods/status`: one MODIFIED each. Containers keep reading running and
   * ready: nobody can see them. No Node object is modelled.
   */
  nodeNotReady(nodeName: string, at = new Date()): Pod[] {
    const changed: Pod[] = [];
    for (const stored of this.store.listAll('pods')) {
      const pod = stored.object as Pod;
      const ready = pod.status.conditions?.find((c) => c.type === 'Ready');
      if (pod.spec.nodeName !== nodeName || ready?.status !== 'True') continue;
      const next = { ...ready, status: 'False' as const, lastTransitionTime: formatTime(at) };
      changed.push(
        this.api.update(pod.metadata.namespace, pod.metadata.name, (p) => ({ ...p, status: { ...p.status, conditions: setCondition(p.status.conditions ?? [], next) } }), CONTROLLER_STATUS, at),
      );
    }
    return changed;
  }

  /**
   * The taint eviction controller, once a Pod's toleration of `node.kubernetes.io/unreachable`
   * ran out (300 s by default): MODIFIED (DisruptionTarget condition `DeletionByTaintManager`),
   * then a DELETE with default options: MODIFIED (`deletionTimestamp`, grace 30). The kubelet
   * being gone, nothing follows.
   */
  taintEvict(namespace: string, name: string, at = new Date()): Pod {
    const target = condition('DisruptionTarget', 'True', formatTime(at), 'DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint');
    this.api.update(namespace, name, (p) => ({ ...p, status: { ...p.status, conditions: setCondition(p.status.conditions ?? [], target) } }), CONTROLLER_STATUS, at);
    return this.delete(namespace, name, { at });
  }

  /**
   * The kubelet syncs a status that has not changed. Its status manager sends nothing for an
   * unchanged status, and etcd would skip an identical write anyway: no new resourceVersion, no
   * event. Returns whether the stored Pod changed (it does not).
   */
  resyncStatus(namespace: string, name: string): boolean {
    const before = this.require(namespace, name).metadata.resourceVersion;
    return this.api.update(namespace, name, (pod) => pod, KUBELET, new Date()).metadata.resourceVersion !== before;
  }

  private require(namespace: string, name: string): Pod {
    const pod = this.get(namespace, name);
    if (!pod) throw new Error(`no Pod ${namespace}/${name}`);
    return pod;
  }
}

/** `ContainerStateTerminated` in Go's field order, for the container that `status` describes. */
function terminated(exitCode: number, reason: string, status: ContainerStatus, at: Date): ContainerStateTerminated {
  const out: ContainerStateTerminated = { exitCode, reason };
  if (status.state.running?.startedAt) out.startedAt = status.state.running.startedAt;
  out.finishedAt = formatTime(at);
  if (status.containerID) out.containerID = status.containerID;
  return out;
}
