import type { V1ContainerStatus, V1Lease, V1Pod, V1PodStatus } from '@kubernetes/client-node';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTAINER_ANNOTATION, containerOf, encodeContainer, judgeContainer, ownContainer, type ContainerInstance } from '../lib/electors/lease/container-evidence.js';
import { containerStartTime } from '../lib/electors/lease/container-start.js';

/**
 * What a pod's status proves of the container instance that wrote a Lease record (issue 16): only
 * the kubelet's word that it restarted or terminated it. Pure: pods are plain objects here; the
 * integration tests (fast-failover.spec.ts) get them from the test API server.
 */

const OLD = 'containerd://' + 'a'.repeat(64);
const NEW = 'containerd://' + 'b'.repeat(64);
const STARTED = new Date('2026-12-04T10:00:00Z');
const recorded: ContainerInstance = { podUid: 'uid-1', container: 'app', containerId: OLD, restartCount: 2 };

function pod(status: Partial<V1ContainerStatus> = {}, uid = 'uid-1', extra: Partial<V1PodStatus> = {}): V1Pod {
  return {
    metadata: { name: 'pod-a', uid },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'app', image: 'app', imageID: '', ready: true, restartCount: 2, containerID: OLD, state: { running: { startedAt: STARTED } }, ...status }],
      ...extra,
    },
  } as V1Pod;
}

describe('judgeContainer: proof, and only proof', () => {
  it.each<[string, V1Pod, boolean, boolean]>([
    ['the container still runs', pod(), false, false],
    ['the kubelet restarted it: restartCount + 1, a new containerID, lastState.terminated', pod({ restartCount: 3, containerID: NEW, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', containerID: OLD } } }), false, true],
    ['restarting: CrashLoopBackOff, the old containerID kept, lastState.terminated the recorded one', pod({ state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, reason: 'Error', containerID: OLD } } }), false, true],
    ['restarted, the status written before lastState was (restartCount + 1 alone)', pod({ restartCount: 3, containerID: NEW }), false, true],
    ['terminated, not restarted (restartPolicy Never, or being deleted)', pod({ state: { terminated: { exitCode: 0, reason: 'Completed', containerID: OLD } }, ready: false }), false, true],
    ['a NotReady node: Ready False, the container status unchanged', pod({}, 'uid-1', { conditions: [{ type: 'Ready', status: 'False' }] }), false, false],
    ['another pod object with the same name (force-deleted and re-created)', pod({ restartCount: 0, containerID: NEW }, 'uid-2'), false, false],
    ['another pod object with the same name, removed', pod({ state: { terminated: { exitCode: 0, containerID: OLD } } }, 'uid-2'), true, false],
    ['the pod removed after the kubelet reported the container terminated', pod({ state: { terminated: { exitCode: 0, containerID: OLD } } }), true, true],
    ['the pod removed without the kubelet reporting it terminated (a force deletion)', pod(), true, false],
    ['a terminated state of another instance (the recorded one still named as current)', pod({ containerID: OLD, state: { terminated: { exitCode: 0, containerID: NEW } } }), false, false],
    ['no status of the recorded container', pod({ name: 'web' }), false, false],
  ])('%s: dead = %s', (_name, now, removed, dead) => {
    expect(judgeContainer(recorded, now, removed).dead).toBe(dead);
  });

  it('says why, in words a log line can carry', () => {
    expect(judgeContainer(recorded, pod({ restartCount: 3, containerID: NEW, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', containerID: OLD } } }))).toEqual({
      dead: true,
      why: 'the kubelet reported container app terminated (OOMKilled) and started another',
    });
    expect(judgeContainer(recorded, pod(), true).why).toContain('force deletion proves nothing');
    expect(judgeContainer(recorded, pod({}, 'uid-1', { conditions: [{ type: 'Ready', status: 'False' }] })).why).toContain('NotReady or unreachable node proves nothing');
  });
});

describe('the container annotation', () => {
  const record = { holder: 'pod-a', acquireTimeMs: 1_000, incarnation: 'inc-1' };
  const lease = (value: string): V1Lease => ({ metadata: { annotations: { [CONTAINER_ANNOTATION]: value } } });

  it('is read only for the very record it was written with', () => {
    const value = encodeContainer(recorded, record);
    expect(containerOf(lease(value), record)).toEqual(recorded);
    // A client-go writer (or one of ours without a container) kept it under its own record.
    expect(containerOf(lease(value), { ...record, holder: 'pod-b' })).toBeUndefined();
    expect(containerOf(lease(value), { ...record, acquireTimeMs: 2_000 })).toBeUndefined();
    expect(containerOf(lease(value), { ...record, incarnation: 'inc-2' })).toBeUndefined();
    expect(containerOf(lease('not json'), record)).toBeUndefined();
    expect(containerOf(lease(JSON.stringify({ ...JSON.parse(value), restartCount: '2' })), record)).toBeUndefined();
    expect(containerOf(null, record)).toBeUndefined();
  });
});

describe("ownContainer: this process's own instance, never an earlier one's", () => {
  it('the only container, or the one named; else why not', () => {
    expect(ownContainer(pod(), undefined, STARTED)).toEqual(recorded);
    const two = pod();
    two.status!.containerStatuses!.push({ name: 'sidecar', image: 's', imageID: '', ready: true, restartCount: 0, containerID: NEW, state: { running: { startedAt: STARTED } } });
    expect(ownContainer(two, undefined, STARTED)).toContain('say which is this process with lease.fastFailover.container');
    expect(ownContainer(two, 'app', STARTED)).toEqual(recorded);
    expect(ownContainer(two, 'web', STARTED)).toContain('no container named "web"');
  });

  it('a status entry of an instance that started at another time is an earlier one, not trusted', () => {
    // The kubelet stamps whole seconds; this container's first process began 0.7 s into the second.
    const ours = new Date(STARTED.getTime() + 700);
    expect(ownContainer(pod(), undefined, ours)).toEqual(recorded);
    // Restarted at 10:00:09: the status still shows the instance started at 10:00:00.
    expect(ownContainer(pod(), undefined, new Date(STARTED.getTime() + 9_000))).toContain('its status is not up to date yet');
    expect(ownContainer(pod({ state: { waiting: { reason: 'ContainerCreating' } }, containerID: undefined }), undefined, STARTED)).toContain('does not report container app running yet');
    expect(ownContainer(pod({ state: { terminated: { exitCode: 1, containerID: OLD } } }), undefined, STARTED)).toContain('does not report container app running yet');
  });
});

describe('containerStartTime: when the first process of this container started, from /proc', () => {
  let proc: string | undefined;
  afterEach(async () => {
    if (proc !== undefined) await rm(proc, { recursive: true, force: true });
    proc = undefined;
  });

  /** A /proc with these processes: pid -> [command, ppid, start in ticks since boot]. */
  async function fakeProc(uptimeSeconds: number, processes: Record<number, [string, number, number]>): Promise<string> {
    proc = await mkdtemp(join(tmpdir(), 'proc-'));
    await writeFile(join(proc, 'uptime'), `${uptimeSeconds.toFixed(2)} 100.00\n`);
    for (const [pid, [command, ppid, start]] of Object.entries(processes)) {
      await mkdir(join(proc, pid));
      const fields = ['S', ppid, ...Array<number>(17).fill(0), start, 0, 0];
      await writeFile(join(proc, pid, 'stat'), `${pid} (${command}) ${fields.join(' ')}\n`);
      await writeFile(join(proc, pid, 'cmdline'), `${command}\0--flag\0`);
    }
    return proc;
  }

  it('is PID 1 when this process is PID 1 or below it', async () => {
    const before = Date.now();
    const at = containerStartTime(await fakeProc(1_000, { 1: ['/usr/bin/tini', 0, 50_000], [process.pid]: ['node (main) x', 1, 60_000] }));
    // Booted 1000 s ago; PID 1 started 500 s after boot.
    expect(at).toBeInstanceOf(Date);
    expect((at as Date).getTime()).toBeGreaterThanOrEqual(before - 500_000 - 20);
    expect((at as Date).getTime()).toBeLessThanOrEqual(Date.now() - 500_000 + 20);
  });

  it('is the topmost process below the pause process when the pod shares one PID namespace', async () => {
    const at = containerStartTime(await fakeProc(1_000, { 1: ['/pause', 0, 10_000], 7: ['sh', 1, 70_000], [process.pid]: ['node', 7, 71_000] }));
    expect(Date.now() - (at as Date).getTime()).toBeGreaterThanOrEqual(300_000 - 20);
    expect(Date.now() - (at as Date).getTime()).toBeLessThanOrEqual(300_000 + 20);
  });

  it('says why when /proc cannot tell', async () => {
    expect(containerStartTime(await fakeProc(1_000, {}))).toMatch(/^reading .* failed \(ENOENT/);
  });

  it('reads this machine\'s /proc', () => {
    const at = containerStartTime();
    expect(at).toBeInstanceOf(Date);
    expect((at as Date).getTime()).toBeLessThanOrEqual(Date.now());
  });
});
