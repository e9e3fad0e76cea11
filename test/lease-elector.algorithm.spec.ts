import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaseElector, type StepOutcome } from '../lib/electors/lease/lease.elector.js';
import { LeaseLock } from '../lib/electors/lease/resourcelock/lease-lock.js';
import { ElectionState } from '../lib/leadership/election-state.js';
import { clientGoLease } from './support/client-go-lease.js';
import { ManualClock } from './support/manual-clock.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';

/**
 * client-go's tryAcquireOrRenew, one step at a time, with an injected clock, against the test
 * apiserver through the real @kubernetes/client-node. Like client-go's own table tests, each case
 * asserts the API calls made: the load on the apiserver is part of the contract.
 */

const NAMESPACE = 'default';
const LEASE = 'algo-lease';
const MICROTIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

const timings = clientGoLease(NAMESPACE, LEASE);

/** A Lease as another component's client-go elector writes it. */
function heldBy(holder: string, overrides: Record<string, unknown> = {}) {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: LEASE, namespace: NAMESPACE },
    spec: {
      holderIdentity: holder,
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-24T08:59:00.000000Z',
      renewTime: '2026-11-24T08:59:58.123456Z',
      leaseTransitions: 3,
      ...overrides,
    },
  };
}

describe('LeaseElector.tryAcquireOrRenew', () => {
  let server: KubeApiServer;
  let clock: ManualClock;
  let state: ElectionState;
  let elector: LeaseElector;

  beforeEach(async () => {
    server = await KubeApiServer.start();
    server.addUser('pod-a');
    clock = new ManualClock(Date.UTC(2026, 10, 24, 9, 0, 0));
    state = new ElectionState('default', 'pod-a', {}, clock.now);
    const lock = new LeaseLock(server.kubeConfig('pod-a'), NAMESPACE, LEASE, timings.requestTimeoutMs);
    elector = new LeaseElector(state, timings, lock, clock, () => 0.5);
  });

  afterEach(async () => {
    state.close();
    await elector.stop();
    await server.close();
  });

  const calls = () => {
    const counts = server.counts('pod-a');
    return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
  };

  async function step(expected: StepOutcome, expectedCalls: Record<string, number>) {
    server.resetCounts();
    expect(await elector.tryAcquireOrRenew()).toBe(expected);
    expect(calls()).toEqual(expectedCalls);
  }

  const stored = () => server.getLease(NAMESPACE, LEASE)!;

  it('acquires a missing Lease by creating it: one GET, one POST', async () => {
    await step('acquired', { get: 1, create: 1 });
    const { spec } = stored();
    expect(spec).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(spec.acquireTime).toMatch(MICROTIME);
    expect(spec.renewTime).toMatch(MICROTIME);
    expect(state.isLeader()).toBe(true);
    expect(state.state).toMatchObject({ leader: 'pod-a', term: 0, isLeader: true });
  });

  it('acquires a released Lease (empty holder) at once, counting a transition', async () => {
    server.putLease(NAMESPACE, heldBy('', { leaseDurationSeconds: 1 }));
    await step('acquired', { get: 1, update: 1 });
    expect(stored().spec).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 4 });
    expect(state.state.term).toBe(4);
  });

  it('respects a Lease held by another (client-go shaped) until it expires by local observation', async () => {
    server.putLease(NAMESPACE, heldBy('kube-controller-manager-1'));
    await step('held-by-other', { get: 1 });
    expect(state.state).toMatchObject({ isLeader: false, leader: 'kube-controller-manager-1', term: 3 });

    // The remote renewTime is ancient by our wall clock; only our own observation counts.
    clock.advance(14_999);
    await step('held-by-other', { get: 1 });

    clock.advance(1);
    await step('acquired', { get: 1, update: 1 });
    const { spec } = stored();
    expect(spec).toMatchObject({ holderIdentity: 'pod-a', leaseTransitions: 4, leaseDurationSeconds: 15 });
    expect(spec.acquireTime).toBe(clock.wallNow().toISOString().replace('Z', '000Z'));
  });

  it('restarts the expiry clock whenever the holder renews (a new resourceVersion)', async () => {
    server.putLease(NAMESPACE, heldBy('pod-b'));
    await step('held-by-other', { get: 1 });
    clock.advance(10_000);
    server.putLease(NAMESPACE, heldBy('pod-b', { renewTime: '2026-11-24T09:00:10.000000Z' }));
    await step('held-by-other', { get: 1 });
    clock.advance(10_000); // 20 s after the first look, 10 s after the renewal
    await step('held-by-other', { get: 1 });
  });

  it('honours a short lease duration written by the holder', async () => {
    server.putLease(NAMESPACE, heldBy('pod-b', { leaseDurationSeconds: 1 }));
    await step('held-by-other', { get: 1 });
    clock.advance(1_000);
    await step('acquired', { get: 1, update: 1 });
  });

  it('renews with one conditional PUT from the cached object, keeping acquireTime and the term', async () => {
    await step('acquired', { get: 1, create: 1 });
    const acquired = stored();
    clock.advance(2_000);
    await step('renewed', { update: 1 });
    const renewed = stored();
    expect(renewed.spec.acquireTime).toBe(acquired.spec.acquireTime);
    expect(renewed.spec.renewTime).not.toBe(acquired.spec.renewTime);
    expect(renewed.spec.leaseTransitions).toBe(0);
    expect(Number(renewed.metadata.resourceVersion)).toBeGreaterThan(Number(acquired.metadata.resourceVersion));
  });

  it('re-reads on 409 Conflict and renews if the Lease is still its own', async () => {
    await step('acquired', { get: 1, create: 1 });
    // Someone else touched the object (added an annotation): our cached resourceVersion is stale.
    const current = stored();
    server.putLease(NAMESPACE, { ...current, metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, note: 'x' } } });
    clock.advance(2_000);
    await step('renewed', { update: 2, get: 1 });
    expect(stored().metadata.annotations).toMatchObject({ note: 'x' });
    expect(state.isLeader()).toBe(true);
  });

  it('steps down when a renew finds another holder, without exiting, and keeps competing', async () => {
    await step('acquired', { get: 1, create: 1 });
    server.putLease(NAMESPACE, heldBy('pod-b', { leaseTransitions: 1 }));
    clock.advance(2_000);
    await step('held-by-other', { update: 1, get: 1 });
    expect(state.state).toMatchObject({ isLeader: false, leader: 'pod-b', term: 1 });
    clock.advance(15_000);
    await step('acquired', { get: 1, update: 1 });
    expect(stored().spec.leaseTransitions).toBe(2);
  });

  it('stops leading at its renew deadline; a record still its own is taken back at once, as a new term', async () => {
    await step('acquired', { get: 1, create: 1 });
    clock.advance(10_000); // no renew succeeded for renewDeadline
    expect(state.isLeader()).toBe(false);
    // Nobody wrote since (the conditional write proves it), so nobody else can be leading.
    await step('acquired', { get: 1, update: 1 });
    expect(stored().spec.leaseTransitions).toBe(1);
    expect(state.state).toMatchObject({ isLeader: true, term: 1 });
  });

  it('stops leading at its renew deadline and waits for the whole lease once another has written', async () => {
    await step('acquired', { get: 1, create: 1 });
    clock.advance(10_000);
    expect(state.isLeader()).toBe(false);
    server.putLease(NAMESPACE, heldBy('pod-b', { leaseTransitions: 1 }));
    await step('held-by-other', { get: 1 });
    clock.advance(14_999);
    await step('held-by-other', { get: 1 });
    clock.advance(1);
    await step('acquired', { get: 1, update: 1 });
    expect(stored().spec.leaseTransitions).toBe(2);
  });

  it('does not resume a Lease that names it but was taken by an earlier process: it waits for expiry', async () => {
    server.putLease(NAMESPACE, heldBy('pod-a'));
    await step('held-by-other', { get: 1 });
    expect(state.isLeader()).toBe(false);
    clock.advance(15_000);
    await step('acquired', { get: 1, update: 1 });
    expect(stored().spec.leaseTransitions).toBe(4);
  });

  it('treats 409 AlreadyExists on create as a lost race', async () => {
    // Two candidates find the Lease missing at the same moment (the latency makes both reads
    // land before either create), then both create it: exactly one wins.
    server.addUser('pod-b');
    const rivalState = new ElectionState('default', 'pod-b', {}, clock.now);
    const rival = new LeaseElector(rivalState, timings, new LeaseLock(server.kubeConfig('pod-b'), NAMESPACE, LEASE, 5_000), clock);
    server.faults.latencyMs = 20;
    const outcomes = await Promise.all([elector.tryAcquireOrRenew(), rival.tryAcquireOrRenew()]);
    expect(outcomes.sort()).toEqual(['acquired', 'conflict']);
    expect([state.isLeader(), rivalState.isLeader()].filter(Boolean)).toHaveLength(1);
    expect(server.counts()).toMatchObject({ get: 2, create: 2, update: 0 });
    rivalState.close();
    await rival.stop();
  });

  it('releases on stop: holder "", leaseDurationSeconds 1, the term kept', async () => {
    await step('acquired', { get: 1, create: 1 });
    server.resetCounts();
    state.close();
    await elector.stop();
    expect(calls()).toEqual({ update: 1 });
    expect(stored().spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
  });

  it('fails closed when the API answers 5xx, and leads again when it heals', async () => {
    await step('acquired', { get: 1, create: 1 });
    server.faults.failNext(1, 503);
    clock.advance(2_000);
    await step('failed', { update: 1 });
    clock.advance(8_000); // past the renew deadline without a successful renew
    expect(state.isLeader()).toBe(false);
    clock.advance(5_000);
    await step('acquired', { get: 1, update: 1 });
  });
});
