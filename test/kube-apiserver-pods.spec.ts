import { readFileSync } from 'node:fs';

import { ApiException, CoordinationV1Api, CoreV1Api, type KubeConfig, V1MicroTime, Watch } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { KubeApiServer, type Pod, type RbacRule } from './support/kube-apiserver/index.js';
import { requestInfoFor } from './support/kube-apiserver/request-info.js';

// The test API server's core/v1 Pods, and `server.pods` playing the kubelet and the control
// plane, seen through the real @kubernetes/client-node and through raw HTTP watch streams.

const NS = 'default';
const PODS = `/api/v1/namespaces/${NS}/pods`;
const CONTAINER_ID = /^containerd:\/\/[0-9a-f]{64}$/;
const fixtureBody = (file: string): any =>
  JSON.parse(readFileSync(new URL(`./fixtures/kube-apiserver/${file}`, import.meta.url), 'utf8')).response.body;

let server: KubeApiServer;
let adminToken: string;
let core: CoreV1Api;
const streams: Array<{ abort(): void }> = [];

interface WatchEvent {
  type: string;
  object: any;
}

/** Events queued so a test can await them one by one; `done` settles when the stream ends. */
class EventQueue {
  readonly events: WatchEvent[] = [];
  readonly done: Promise<unknown>;
  protected settle!: (error: unknown) => void;
  private cursor = 0;
  private wake: (() => void) | undefined;

  constructor() {
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  push(event: WatchEvent): void {
    this.events.push(event);
    this.wake?.();
  }

  end(error: unknown): void {
    this.settle(error);
    this.wake?.();
  }

  async next(): Promise<WatchEvent> {
    while (this.cursor >= this.events.length) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.events[this.cursor++];
  }

  async take(count: number): Promise<WatchEvent[]> {
    const out: WatchEvent[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next());
    return out;
  }
}

/** client-node's Watch on a collection path. */
async function watch(kubeConfig: KubeConfig, path: string, query: Record<string, string | number>): Promise<EventQueue> {
  const queue = new EventQueue();
  const controller = await new Watch(kubeConfig).watch(path, query, (type, object) => queue.push({ type, object }), (error) => queue.end(error));
  streams.push(controller);
  return queue;
}

/** A raw watch stream read line by line, as lib's lease-watch reads one (node's fetch here). */
async function rawWatch(path: string, query: string): Promise<EventQueue> {
  const queue = new EventQueue();
  const controller = new AbortController();
  streams.push(controller);
  const answer = await fetch(`${server.url}${path}?watch=true&${query}`, { headers: { Authorization: `Bearer ${adminToken}` }, signal: controller.signal });
  expect(answer.status).toBe(200);
  expect(answer.headers.get('transfer-encoding')).toBe('chunked');
  void (async () => {
    let buffered = '';
    try {
      for await (const chunk of answer.body!.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) queue.push(JSON.parse(line) as WatchEvent);
      }
      queue.end(null);
    } catch (error) {
      queue.end(error);
    }
  })();
  return queue;
}

async function raw(method: string, path: string, token: string = adminToken): Promise<{ status: number; json: any }> {
  const answer = await fetch(`${server.url}${path}`, { method, headers: { Authorization: `Bearer ${token}` } });
  return { status: answer.status, json: await answer.json() };
}

async function apiError(call: Promise<unknown>): Promise<{ code: number; body: any }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    return { code: error.code, body: JSON.parse(error.body as string) };
  }
  throw new Error('expected the call to fail');
}

const rv = (object: { metadata: { resourceVersion?: string } }): number => Number(object.metadata.resourceVersion);
const containerOf = (pod: Pod | any, index = 0): any => pod.status.containerStatuses[index];
const conditionOf = (pod: Pod | any, type: string): any => pod.status.conditions.find((c: any) => c.type === type);
const watchOne = (name: string, resourceVersion: string | number) =>
  watch(server.kubeConfig('admin'), PODS, { fieldSelector: `metadata.name=${name}`, resourceVersion: String(resourceVersion) });

beforeEach(async () => {
  server = await KubeApiServer.start();
  adminToken = server.addUser('admin');
  core = server.kubeConfig('admin').makeApiClient(CoreV1Api);
});

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.abort();
  await server.close();
  expect(server.openWatches()).toBe(0);
});

describe('GET, LIST and errors', () => {
  it('serves a running Pod shaped as the apiserver serialises it, the same through pods/status', async () => {
    const created = server.pods.create(NS, { name: 'holder-0', nodeName: 'node-a', labels: { app: 'jobs' } });
    const read = await core.readNamespacedPod({ name: 'holder-0', namespace: NS });
    expect(read.metadata?.uid).toBe(created.metadata.uid);
    const { json } = await raw('GET', `${PODS}/holder-0`);
    expect(json).toEqual(created);
    expect((await raw('GET', `${PODS}/holder-0/status`)).json).toEqual(created);
    expect(Object.keys(json)).toEqual(['kind', 'apiVersion', 'metadata', 'spec', 'status']);
    expect(json.spec.nodeName).toBe('node-a');
    expect(json.status.phase).toBe('Running');
    expect(json.status.conditions.map((c: any) => `${c.type}=${c.status}`)).toEqual([
      'PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True',
    ]);
    expect(Object.keys(json.status.conditions[0])).toEqual(['type', 'status', 'lastProbeTime', 'lastTransitionTime']);
    expect(conditionOf(json, 'Ready').lastProbeTime).toBeNull();
    const container = containerOf(json);
    expect(Object.keys(container)).toEqual(['name', 'state', 'lastState', 'ready', 'restartCount', 'image', 'imageID', 'containerID', 'started']);
    expect(container).toMatchObject({ name: 'app', lastState: {}, ready: true, restartCount: 0, started: true });
    expect(container.containerID).toMatch(CONTAINER_ID);
    expect(container.state.running.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The creator owns the spec, the kubelet the status (but not PodScheduled, which the binding set).
    const managers = json.metadata.managedFields.map((m: any) => [m.manager, m.subresource ?? '']);
    expect(managers).toEqual([['kube-controller-manager', ''], ['kubelet', 'status']]);
    expect(Object.keys(json.metadata.managedFields[1].fieldsV1['f:status']['f:conditions'])).not.toContain('k:{"type":"PodScheduled"}');
  });

  it('answers 404 NotFound for a missing Pod, naming `pods` in the core group', async () => {
    const { code, body } = await apiError(core.readNamespacedPod({ name: 'gone', namespace: NS }));
    expect(code).toBe(404);
    expect(body).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'pods "gone" not found', reason: 'NotFound', details: { name: 'gone', kind: 'pods' }, code: 404,
    });
    expect(Object.keys(body)).toEqual(Object.keys(fixtureBody('01-get-missing.json')));
  });

  it('lists by field selector (name, node, phase) and label selector, with the list resourceVersion', async () => {
    server.pods.create(NS, { name: 'holder-0', nodeName: 'node-a', labels: { app: 'jobs' } });
    server.pods.create(NS, { name: 'holder-1', nodeName: 'node-b', labels: { app: 'jobs' } });
    server.pods.create('other', { name: 'holder-0', nodeName: 'node-a' });
    const byName = await core.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name=holder-0' });
    expect(byName.items.map((p) => p.metadata?.name)).toEqual(['holder-0']);
    expect(byName.metadata?.resourceVersion).toBe(server.resourceVersion);
    const byNode = await core.listNamespacedPod({ namespace: NS, fieldSelector: 'spec.nodeName=node-b,status.phase=Running' });
    expect(byNode.items.map((p) => p.metadata?.name)).toEqual(['holder-1']);
    const byLabel = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=jobs' });
    expect(byLabel.items.map((p) => p.metadata?.name)).toEqual(['holder-0', 'holder-1']);
    const { json } = await raw('GET', `${PODS}?fieldSelector=metadata.name%3Dholder-0`);
    expect(json.kind).toBe('PodList');
    expect(Object.keys(json.items[0])).toEqual(['metadata', 'spec', 'status']);
    const bad = await apiError(core.listNamespacedPod({ namespace: NS, fieldSelector: 'spec.holder=x' }));
    expect(bad.code).toBe(400);
    expect(bad.body.message).toBe('field label not supported: spec.holder');
  });

  it('authorises pods with RBAC rules (apiGroups [""], resourceNames) and words 403 as the apiserver does', async () => {
    const rules: RbacRule[] = [{ verbs: ['get', 'list', 'watch'], apiGroups: [''], resources: ['pods'], resourceNames: ['holder-0'], namespaces: [NS] }];
    server.addUser('follower', { rules });
    const follower = server.kubeConfig('follower').makeApiClient(CoreV1Api);
    server.pods.create(NS, { name: 'holder-0' });
    server.pods.create(NS, { name: 'holder-1' });
    expect((await follower.readNamespacedPod({ name: 'holder-0', namespace: NS })).metadata?.name).toBe('holder-0');
    expect((await follower.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name=holder-0' })).items).toHaveLength(1);
    const named = await watch(server.kubeConfig('follower'), PODS, { fieldSelector: 'metadata.name=holder-0' });
    expect((await named.next()).type).toBe('ADDED');

    const other = await apiError(follower.readNamespacedPod({ name: 'holder-1', namespace: NS }));
    expect(other.code).toBe(403);
    expect(other.body.message).toBe('pods "holder-1" is forbidden: User "follower" cannot get resource "pods" in API group "" in the namespace "default"');
    expect(other.body.details).toEqual({ name: 'holder-1', kind: 'pods' });
    const list = await apiError(follower.listNamespacedPod({ namespace: NS }));
    const recorded = fixtureBody('15-forbidden-configmaps.json');
    expect(list.body.message).toBe(recorded.message.replaceAll('configmaps', 'pods').replace('le-user', 'follower'));
    expect(list.body.details).toEqual({ kind: 'pods' });
    // A Lease-only user (the default resources) cannot read pods at all.
    server.addUser('elector', { rules: [{ verbs: ['get'], namespaces: [NS] }] });
    const elector = server.kubeConfig('elector').makeApiClient(CoreV1Api);
    expect((await apiError(elector.readNamespacedPod({ name: 'holder-0', namespace: NS }))).code).toBe(403);
  });

  it('request-info maps core-group pod paths for RBAC', () => {
    expect(requestInfoFor('GET', '/api/v1/namespaces/ns/pods/p/status', new URLSearchParams())).toMatchObject({
      apiPrefix: 'api', apiGroup: '', apiVersion: 'v1', namespace: 'ns', resource: 'pods', name: 'p', subresource: 'status', verb: 'get',
    });
    expect(requestInfoFor('GET', '/api/v1/namespaces/ns/pods', new URLSearchParams('watch=1&fieldSelector=metadata.name%3Dp,spec.nodeName%3Dn'))).toMatchObject({
      verb: 'watch', resource: 'pods', name: 'p',
    });
    expect(requestInfoFor('DELETE', '/api/v1/namespaces/ns/pods', new URLSearchParams())).toMatchObject({ verb: 'deletecollection' });
  });

  it('lets a test fail pod reads alone with faults.failNext', async () => {
    server.pods.create(NS, { name: 'holder-0' });
    server.faults.failNext(1, 500, { when: (request) => request.resource === 'pods' });
    await server.kubeConfig('admin').makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: NS });
    const failed = await apiError(core.readNamespacedPod({ name: 'holder-0', namespace: NS }));
    expect(failed.code).toBe(500);
    expect((await core.readNamespacedPod({ name: 'holder-0', namespace: NS })).metadata?.name).toBe('holder-0');
  });
});

describe('what the kubelet and the control plane write, seen by a watch', () => {
  it('a restart: terminated, then running again with restartCount+1, a new containerID and lastState.terminated', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0' });
    const before = containerOf(pod);
    const events = await rawWatch(PODS, `fieldSelector=metadata.name%3Dholder-0&resourceVersion=${pod.metadata.resourceVersion}`);
    const crashedAt = new Date(Date.now() + 2000);
    server.pods.restartContainer(NS, 'holder-0', { exitCode: 137, reason: 'OOMKilled', at: crashedAt });
    const [crashed, restarted] = await events.take(2);
    expect([crashed.type, restarted.type]).toEqual(['MODIFIED', 'MODIFIED']);
    expect(containerOf(crashed.object)).toMatchObject({ ready: false, restartCount: 0, containerID: before.containerID, started: false });
    expect(containerOf(crashed.object).state.terminated).toEqual({
      exitCode: 137, reason: 'OOMKilled', startedAt: before.state.running.startedAt,
      finishedAt: `${crashedAt.toISOString().slice(0, 19)}Z`, containerID: before.containerID,
    });
    expect(conditionOf(crashed.object, 'Ready')).toMatchObject({ status: 'False', reason: 'ContainersNotReady', message: 'containers with unready status: [app]' });
    const after = containerOf(restarted.object);
    expect(after).toMatchObject({ ready: true, restartCount: 1, started: true });
    expect(after.containerID).toMatch(CONTAINER_ID);
    expect(after.containerID).not.toBe(before.containerID);
    expect(after.lastState.terminated).toEqual(containerOf(crashed.object).state.terminated);
    expect(after.state.running.startedAt).toBe(after.lastState.terminated.finishedAt);
    expect(restarted.object.status.phase).toBe('Running');
    expect(conditionOf(restarted.object, 'Ready').status).toBe('True');
    expect(rv(restarted.object)).toBe(rv(crashed.object) + 1);
  });

  it('a crash loop: CrashLoopBackOff with the crash in lastState first; or, coalesced, one MODIFIED', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0', containers: ['app', 'sidecar'] });
    const events = await watchOne('holder-0', pod.metadata.resourceVersion);
    server.pods.restartContainer(NS, 'holder-0', { via: 'CrashLoopBackOff' });
    server.pods.restartContainer(NS, 'holder-0', { via: 'none', container: 'sidecar' });
    const [backOff, running, sidecar] = await events.take(3);
    const waiting = containerOf(backOff.object);
    expect(waiting.state.waiting).toEqual({
      reason: 'CrashLoopBackOff', message: `back-off 10s restarting failed container=app pod=holder-0_default(${pod.metadata.uid})`,
    });
    expect(waiting).toMatchObject({ restartCount: 0, containerID: containerOf(pod).containerID, lastState: { terminated: { exitCode: 1, reason: 'Error' } } });
    expect(containerOf(running.object).restartCount).toBe(1);
    expect(containerOf(sidecar.object, 1)).toMatchObject({ restartCount: 1, ready: true, lastState: { terminated: { exitCode: 1 } } });
    expect(containerOf(sidecar.object, 0)).toEqual(containerOf(running.object, 0));
  });

  it('a graceful deletion: MODIFIED (deletionTimestamp), MODIFIED (containers terminated), MODIFIED (grace 0), DELETED', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0', terminationGracePeriodSeconds: 30 });
    const events = await watchOne('holder-0', pod.metadata.resourceVersion);
    // The client's DELETE through client-node: the Pod comes back, marked for deletion.
    const marked = await core.deleteNamespacedPod({ name: 'holder-0', namespace: NS });
    expect(marked.metadata?.deletionGracePeriodSeconds).toBe(30);
    server.pods.stopContainers(NS, 'holder-0', { exitCode: 143 });
    server.pods.finishDeletion(NS, 'holder-0');
    const [deleting, stopped, graceZero, deleted] = await events.take(4);
    expect(events.events.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED']);
    expect(deleting.object.metadata).toMatchObject({ deletionGracePeriodSeconds: 30 });
    expect(Date.parse(deleting.object.metadata.deletionTimestamp) - Date.parse(pod.metadata.creationTimestamp)).toBeGreaterThanOrEqual(29_000);
    expect(containerOf(deleting.object).state.running).toBeDefined();
    expect(containerOf(stopped.object).state.terminated).toMatchObject({ exitCode: 143, reason: 'Error', containerID: containerOf(pod).containerID });
    expect(stopped.object.status.phase).toBe('Failed');
    expect(conditionOf(stopped.object, 'Ready')).toMatchObject({ status: 'False', reason: 'PodFailed' });
    expect(graceZero.object.metadata.deletionGracePeriodSeconds).toBe(0);
    expect(Date.parse(graceZero.object.metadata.deletionTimestamp)).toBe(Date.parse(deleting.object.metadata.deletionTimestamp) - 30_000);
    expect(deleted.object.status).toEqual(graceZero.object.status);
    expect([deleting, stopped, graceZero, deleted].map((e) => rv(e.object))).toEqual([1, 2, 3, 4].map((i) => rv(pod) + i));
    expect((await apiError(core.readNamespacedPod({ name: 'holder-0', namespace: NS }))).code).toBe(404);
  });

  it('terminate() runs the whole graceful deletion: exit 0 is Completed and the phase Succeeded', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0' });
    const events = await watchOne('holder-0', pod.metadata.resourceVersion);
    server.pods.terminate(NS, 'holder-0');
    const types = (await events.take(4)).map((e) => e.type);
    expect(types).toEqual(['MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED']);
    expect(containerOf(events.events[3].object).state.terminated.reason).toBe('Completed');
    expect(events.events[3].object.status.phase).toBe('Succeeded');
  });

  it('a force deletion (grace 0): MODIFIED (deletionTimestamp, grace 0) then DELETED, containers still running', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0' });
    server.pods.create(NS, { name: 'holder-1' });
    const events = await watchOne('holder-0', pod.metadata.resourceVersion);
    await core.deleteNamespacedPod({ name: 'holder-0', namespace: NS, gracePeriodSeconds: 0 });
    server.pods.forceDelete(NS, 'holder-1');
    const [marked, deleted] = await events.take(2);
    expect([marked.type, deleted.type]).toEqual(['MODIFIED', 'DELETED']);
    expect(marked.object.metadata.deletionGracePeriodSeconds).toBe(0);
    expect(deleted.object.status).toEqual(pod.status);
    expect(containerOf(deleted.object)).toEqual(containerOf(pod));
    expect(rv(deleted.object)).toBe(rv(marked.object) + 1);
  });

  it('a NotReady node: Ready False on its pods only, containers still reading running; taint eviction marks, never removes', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0', nodeName: 'node-a' });
    server.pods.create(NS, { name: 'holder-1', nodeName: 'node-b' });
    const events = await watch(server.kubeConfig('admin'), PODS, { resourceVersion: server.resourceVersion });
    expect(server.pods.nodeNotReady('node-a').map((p) => p.metadata.name)).toEqual(['holder-0']);
    const notReady = await events.next();
    expect(notReady.type).toBe('MODIFIED');
    expect(conditionOf(notReady.object, 'Ready')).toEqual({ type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: expect.any(String) });
    expect(conditionOf(notReady.object, 'ContainersReady').status).toBe('True');
    expect(notReady.object.status.containerStatuses).toEqual(pod.status.containerStatuses);
    expect(notReady.object.metadata.managedFields.at(-1)).toMatchObject({ manager: 'kube-controller-manager', subresource: 'status' });
    expect(server.pods.nodeNotReady('node-a')).toEqual([]);

    server.pods.taintEvict(NS, 'holder-0');
    const [disruption, deleting] = await events.take(2);
    expect(conditionOf(disruption.object, 'DisruptionTarget')).toMatchObject({ status: 'True', reason: 'DeletionByTaintManager' });
    expect(deleting.object.metadata.deletionGracePeriodSeconds).toBe(30);
    expect(containerOf(deleting.object).state.running).toBeDefined();
    expect(server.pods.get(NS, 'holder-0')).toBeDefined();
  });

  it('an unchanged status writes nothing: no event, no new resourceVersion', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0' });
    const events = await watch(server.kubeConfig('admin'), PODS, { resourceVersion: pod.metadata.resourceVersion! });
    expect(server.pods.resyncStatus(NS, 'holder-0')).toBe(false);
    expect(server.resourceVersion).toBe(pod.metadata.resourceVersion);
    server.pods.create(NS, { name: 'holder-1' });
    const next = await events.next();
    expect([next.type, next.object.metadata.name]).toEqual(['ADDED', 'holder-1']);
  });
});

describe('watches and resourceVersions', () => {
  it('share one growing resourceVersion with Leases; each watch, live or replayed, sees only its own resource', async () => {
    const leases = server.kubeConfig('admin').makeApiClient(CoordinationV1Api);
    const start = server.resourceVersion;
    const leaseEvents = await watch(server.kubeConfig('admin'), `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, { resourceVersion: start });
    const lease = await leases.createNamespacedLease({
      namespace: NS,
      body: { metadata: { name: 'jobs' }, spec: { holderIdentity: 'holder-0', leaseDurationSeconds: 15, renewTime: new V1MicroTime() } },
    });
    const pod = server.pods.create(NS, { name: 'holder-0' });
    const renewed = await leases.replaceNamespacedLease({ name: 'jobs', namespace: NS, body: { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime() } } });
    server.pods.create('other', { name: 'elsewhere' }); // another namespace: not in this watch, replayed or live
    const restarted = server.pods.restartContainer(NS, 'holder-0', { via: 'none' });
    const versions = [lease, pod, renewed, restarted].map((o) => rv(o as any));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(rv(pod)).toBeGreaterThan(rv(lease as any) + 1); // the pod's own four writes
    expect(rv(restarted)).toBe(rv(renewed as any) + 5);
    // Opened after the writes: replayed from the shared history, Pods of this namespace only.
    const podEvents = await watch(server.kubeConfig('admin'), PODS, { resourceVersion: start });
    const pods = await podEvents.take(5);
    expect(pods.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'MODIFIED', 'MODIFIED', 'MODIFIED']);
    expect(pods.every((e) => e.object.kind === 'Pod' && e.object.metadata.name === 'holder-0')).toBe(true);
    expect(rv(pods[4].object)).toBe(rv(restarted));
    const leaseTypes = (await leaseEvents.take(2)).map((e) => `${e.type} ${e.object.kind}`);
    expect(leaseTypes).toEqual(['ADDED Lease', 'MODIFIED Lease']);
    expect((await core.listNamespacedPod({ namespace: NS })).metadata?.resourceVersion).toBe(String(rv(restarted)));
  });

  it('answer 410 Expired after compaction, and a watch without resourceVersion starts with ADDED', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0' });
    server.pods.restartContainer(NS, 'holder-0');
    server.compact();
    const expired = await rawWatch(PODS, `fieldSelector=metadata.name%3Dholder-0&resourceVersion=${pod.metadata.resourceVersion}`);
    const error = await expired.next();
    expect(error.type).toBe('ERROR');
    expect(error.object).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
    expect(error.object.message).toBe(`too old resource version: ${pod.metadata.resourceVersion} (${server.resourceVersion})`);
    expect(await expired.done).toBeNull();
    const fresh = await watch(server.kubeConfig('admin'), PODS, { fieldSelector: 'metadata.name=holder-0' });
    const added = await fresh.next();
    expect([added.type, containerOf(added.object).restartCount]).toEqual(['ADDED', 1]);
  });

  it('end after timeoutSeconds, cleanly', async () => {
    const stream = await rawWatch(PODS, 'fieldSelector=metadata.name%3Dholder-0&timeoutSeconds=1');
    expect(await stream.done).toBeNull();
    expect(server.openWatches()).toBe(0);
  });
});

describe('create and delete by clients', () => {
  it('POST creates a Pending, unscheduled Pod that the scheduler and kubelet helpers then run', async () => {
    const created = await core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'manual', labels: { app: 'jobs' } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:2.1' }] } },
    });
    expect(created.status?.phase).toBe('Pending');
    expect(created.spec?.nodeName).toBeUndefined();
    expect(created.spec?.containers[0].imagePullPolicy).toBe('IfNotPresent');
    expect(created.metadata?.managedFields?.map((m) => m.manager)).toEqual(['node-fetch']); // client-node's User-Agent
    server.pods.bind(NS, 'manual', 'node-c');
    const running = server.pods.start(NS, 'manual');
    expect(running.status.phase).toBe('Running');
    expect(running.status.hostIP).toMatch(/^192\.0\.2\./);
    const again = await apiError(core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'manual' }, spec: { containers: [{ name: 'app', image: 'x:1' }] } } }));
    expect([again.code, again.body.reason, again.body.message]).toEqual([409, 'AlreadyExists', 'pods "manual" already exists']);
    const invalid = await apiError(core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'Bad_Name' }, spec: { containers: [] } } }));
    expect([invalid.code, invalid.body.reason, invalid.body.details.kind]).toEqual([422, 'Invalid', 'Pod']);
    expect(invalid.body.details.causes.map((c: any) => c.field)).toEqual(['metadata.name', 'spec.containers']);
  });

  it('DELETE honours a uid precondition (409) and a second, longer grace period changes nothing', async () => {
    const pod = server.pods.create(NS, { name: 'holder-0' });
    const conflict = await apiError(core.deleteNamespacedPod({ name: 'holder-0', namespace: NS, body: { preconditions: { uid: 'not-it' } } }));
    expect([conflict.code, conflict.body.reason]).toEqual([409, 'Conflict']);
    expect(conflict.body.message).toBe(
      `Operation cannot be fulfilled on Pod "holder-0": the UID in the precondition (not-it) does not match the UID in record (${pod.metadata.uid}). The object might have been deleted and then recreated`,
    );
    const first = await core.deleteNamespacedPod({ name: 'holder-0', namespace: NS, gracePeriodSeconds: 10 });
    const second = await core.deleteNamespacedPod({ name: 'holder-0', namespace: NS, gracePeriodSeconds: 60 });
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(second.metadata?.deletionGracePeriodSeconds).toBe(10);
    expect((await apiError(core.deleteNamespacedPod({ name: 'gone', namespace: NS }))).body.message).toBe('pods "gone" not found');
  });
});
