import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Logger } from '@nestjs/common';
import { LeaseElector, type StepOutcome } from '../lib/electors/lease/lease.elector.js';
import { LeaseLock } from '../lib/electors/lease/resourcelock/lease-lock.js';
import { INCARNATION_ANNOTATION } from '../lib/electors/lease/resourcelock/lease-record.js';
import { ElectionState } from '../lib/leadership/election-state.js';
import type { ResolvedLease } from '../lib/options/resolve-options.js';
import { clientGoLease } from './support/client-go-lease.js';
import { ManualClock } from './support/manual-clock.js';
import { KubeApiServer, type Lease } from './support/kube-apiserver/index.js';
import { RecordingLogger } from './support/nest-app.js';

/**
 * The double-leader and stuck-takeover holes of issue 7, each replayed one round at a time with
 * an injected clock against the test apiserver, through the real @kubernetes/client-node. Each
 * case asserts the API calls made and what the candidate believes afterwards.
 */

const NAMESPACE = 'default';
const LEASE = 'safety-lease';

const timings = clientGoLease(NAMESPACE, LEASE);

interface Candidate {
  identity: string;
  state: ElectionState;
  elector: LeaseElector;
}

describe('LeaseElector: the safety holes of issue 7', () => {
  let server: KubeApiServer;
  let clock: ManualClock;
  let logger: RecordingLogger;
  let candidates: Candidate[];

  beforeEach(async () => {
    server = await KubeApiServer.start();
    clock = new ManualClock(Date.UTC(2026, 11, 1, 9, 0, 0));
    logger = new RecordingLogger();
    Logger.overrideLogger(logger);
    candidates = [];
  });

  afterEach(async () => {
    for (const { state, elector } of candidates) {
      state.close();
      await elector.stop();
    }
    Logger.overrideLogger(new Logger());
    await server.close();
  });

  function candidate(identity: string, overrides: Partial<ResolvedLease> = {}, user = identity): Candidate {
    // Two processes with one identity share its credentials, as two pods of one name would.
    if (!candidates.some((other) => other.identity === user)) server.addUser(user);
    const options = { ...timings, ...overrides };
    const state = new ElectionState('default', identity, {}, clock.now);
    const lock = new LeaseLock(server.kubeConfig(user), NAMESPACE, LEASE, options.requestTimeoutMs);
    const made = { identity, state, elector: new LeaseElector(state, options, lock, clock, () => 0.5) };
    candidates.push(made);
    return made;
  }

  const stored = () => server.getLease(NAMESPACE, LEASE)!;
  const calls = (user: string) => Object.fromEntries(Object.entries(server.counts(user)).filter(([, n]) => n > 0));

  async function round(who: Candidate, expected: StepOutcome, expectedCalls?: Record<string, number>, user = who.identity) {
    server.resetCounts();
    expect(await who.elector.tryAcquireOrRenew()).toBe(expected);
    if (expectedCalls) expect(calls(user)).toEqual(expectedCalls);
  }

  /** The Lease as another writer leaves it: spec replaced, metadata (annotations) kept. */
  function rewrite(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Lease {
    const current = stored();
    return server.putLease(NAMESPACE, {
      ...current,
      metadata: { ...current.metadata, ...metadata },
      spec: { ...current.spec, ...spec },
    });
  }

  describe('1. two live processes with one identity', () => {
    it('never renews a record another process wrote, even one naming its own identity', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      // A second process named pod-a took the Lease over (after a deletion, a pinned duration,
      // or any other hole), writing its own incarnation. The first one's renew meets a 409.
      rewrite(
        { holderIdentity: 'pod-a', leaseTransitions: 1, acquireTime: '2026-12-01T09:00:05.000000Z', renewTime: '2026-12-01T09:00:05.000000Z' },
        { annotations: { [INCARNATION_ANNOTATION]: 'another-process' } },
      );
      clock.advance(2_000);
      await round(a, 'held-by-other', { update: 1, get: 1 });
      expect(a.state.isLeader()).toBe(false);
      expect(stored().metadata.annotations?.[INCARNATION_ANNOTATION]).toBe('another-process');
      expect(logger.messages('log', 'stopped leading (term 0): another process with this identity (pod-a) holds the Lease')).toHaveLength(1);

      // The twin renews again: it is alive, and the warning says what to fix, once.
      rewrite({ renewTime: '2026-12-01T09:00:07.000000Z' });
      clock.advance(2_000);
      await round(a, 'held-by-other', { get: 1 });
      rewrite({ renewTime: '2026-12-01T09:00:09.000000Z' });
      clock.advance(2_000);
      await round(a, 'held-by-other', { get: 1 });
      expect(logger.messages('warn', 'another live process with this pod\'s identity (pod-a)')).toHaveLength(1);
    });

    it('a second process with the identity of the leader follows it, and takes over only after it expires', async () => {
      const first = candidate('pod-a');
      const second = candidate('pod-a');
      await round(first, 'acquired', { get: 1, create: 1 });
      await round(second, 'held-by-other', { get: 1 });
      expect(second.state.isLeader()).toBe(false);
      expect(logger.messages('log', 'names this pod\'s identity (pod-a) but was written by another process')).toHaveLength(1);
      clock.advance(2_000);
      await round(first, 'renewed', { update: 1 });
      clock.advance(2_000);
      await round(second, 'held-by-other', { get: 1 });
      expect(logger.messages('warn', 'another live process')).toHaveLength(1);
      // The first process dies; the second waits a whole lease from the last renewal it saw.
      clock.advance(14_999);
      await round(second, 'held-by-other', { get: 1 });
      clock.advance(1);
      await round(second, 'acquired', { get: 1, update: 1 });
      expect(stored().spec.leaseTransitions).toBe(1);
      // The first wakes up past its deadline: it reads, finds the Lease changed, and follows.
      await round(first, 'held-by-other', { get: 1 });
      expect([first.state.isLeader(), second.state.isLeader()]).toEqual([false, true]);
    });

    it('re-checks the renew deadline after every await: a renew answered past it does not extend leadership', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      const acquiredTerm = a.state.state.term;
      // Someone touched the metadata, so the next renew meets a 409, and that answer comes back
      // only after the renew deadline has passed.
      rewrite({}, { labels: { touched: 'yes' } });
      clock.advance(2_000);
      server.once('request', () => clock.advance(9_000));
      await round(a, 'conflict', { update: 1 });
      // The old term ended at its deadline, whatever the next answers say.
      expect(a.state.isLeader()).toBe(false);
      expect(logger.messages('log', 'stopped leading (term 0): it could not renew the Lease before its renew deadline')).toHaveLength(1);
      // Nobody else wrote, so the record (still this process's own) is taken back, but as a new
      // term: the old term's jobs saw their signal abort.
      await round(a, 'acquired', { get: 1, update: 1 });
      expect(a.state.state.term).toBe((acquiredTerm ?? 0) + 1);
    });
  });

  describe('3. operator edits while the leader is cut off', () => {
    it('(a) a follower that saw a holder does not re-create a deleted Lease until that lease has run out', async () => {
      const a = candidate('pod-a');
      const b = candidate('pod-b');
      await round(a, 'acquired', { get: 1, create: 1 });
      await round(b, 'held-by-other', { get: 1 });
      server.deleteLease(NAMESPACE, LEASE);
      clock.advance(1_000);
      await round(b, 'held-by-other', { get: 1 });
      expect(server.getLease(NAMESPACE, LEASE)).toBeUndefined();
      clock.advance(13_999); // 14.999 s after b last saw a's record
      await round(b, 'held-by-other', { get: 1 });
      clock.advance(1);
      await round(b, 'acquired', { get: 1, create: 1 });
      expect(stored().spec.holderIdentity).toBe('pod-b');
    });

    it('(a) a candidate that never saw a holder creates the Lease at once; so does the holder itself, as a new term', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      server.deleteLease(NAMESPACE, LEASE);
      clock.advance(2_000);
      // Its renew meets the uid precondition (409), the re-read finds nothing, and the holder,
      // knowing it was itself, re-creates the Lease at once, as a new term whose count goes on.
      await round(a, 'acquired', { update: 1, get: 1, create: 1 });
      expect(stored().spec).toMatchObject({ holderIdentity: 'pod-a', leaseTransitions: 1 });
      expect(a.state.state).toMatchObject({ isLeader: true, term: 1 });
      a.state.close();
      await a.elector.stop({ release: false });
      server.deleteLease(NAMESPACE, LEASE);
      // This is the window that remains: a candidate that never saw the old holder cannot know
      // of it, and creates the Lease at once (the old holder, if cut off, acts until its deadline).
      const late = candidate('pod-c');
      await round(late, 'acquired', { get: 1, create: 1 });
    });

    it('(a) the candidate that re-creates a deleted Lease carries its job ledger over', async () => {
      const a = candidate('pod-a');
      const b = candidate('pod-b');
      await round(a, 'acquired', { get: 1, create: 1 });
      const fireTime = Date.UTC(2026, 11, 1, 9, 0, 0);
      expect(await a.state.ledger!.claim('Jobs.hourly', { fireTime, state: 'claimed', term: 0 })).toBe(true);
      await round(b, 'held-by-other', { get: 1 });
      server.deleteLease(NAMESPACE, LEASE);
      clock.advance(15_000);
      await round(b, 'acquired', { get: 1, create: 1 });
      expect(b.state.ledger!.entry('Jobs.hourly')).toEqual({ fireTime, state: 'claimed', term: 0 });
      expect(stored().metadata.annotations?.['nestjs-cluster-leader/ledger']).toContain('Jobs.hourly');
    });

    it('(b) a removed leaseDurationSeconds counts as the configured lease duration, never as expired', async () => {
      const a = candidate('pod-a');
      const b = candidate('pod-b');
      await round(a, 'acquired', { get: 1, create: 1 });
      await round(b, 'held-by-other', { get: 1 });
      const { leaseDurationSeconds: _removed, ...spec } = stored().spec;
      server.putLease(NAMESPACE, { ...stored(), spec });
      clock.advance(1);
      await round(b, 'held-by-other', { get: 1 });
      clock.advance(14_999);
      await round(b, 'held-by-other', { get: 1 });
      clock.advance(1);
      await round(b, 'acquired', { get: 1, update: 1 });
    });
  });

  it('5. metadata churn on a dead holder\'s Lease does not restart the expiry clock', async () => {
    const a = candidate('pod-a');
    const b = candidate('pod-b');
    await round(a, 'acquired', { get: 1, create: 1 });
    await round(b, 'held-by-other', { get: 1 });
    // a is dead; a GitOps tool keeps writing a label, every 2 s, changing the resourceVersion.
    for (let second = 2; second < 15; second += 2) {
      clock.advance(2_000);
      rewrite({}, { labels: { 'synced-at': String(second) } });
      await round(b, 'held-by-other', { get: 1 });
    }
    clock.advance(1_000); // 15 s since b saw a's record change
    await round(b, 'acquired', { get: 1, update: 1 });
    expect(stored().metadata.labels).toEqual({ 'synced-at': '14' });
  });

  it('6. once shutdown began, a candidate acquires nothing, and sends nothing while it holds nothing', async () => {
    const a = candidate('pod-a');
    const b = candidate('pod-b');
    await round(a, 'acquired', { get: 1, create: 1 });
    await round(b, 'held-by-other', { get: 1 });
    b.elector.stopCampaigning();
    a.state.close();
    await a.elector.stop(); // releases
    expect(stored().spec.holderIdentity).toBe('');
    await round(b, 'idle', {});
    expect(stored().spec.holderIdentity).toBe('');
  });

  it('6. a leader that begins shutting down keeps renewing while its jobs drain', async () => {
    const a = candidate('pod-a');
    await round(a, 'acquired', { get: 1, create: 1 });
    a.elector.stopCampaigning();
    clock.advance(2_000);
    await round(a, 'renewed', { update: 1 });
  });

  describe('7. release after a lost answer', () => {
    it('re-reads on 409 and releases a record that is still its own', async () => {
      const a = candidate('pod-a', { requestTimeoutMs: 300 });
      await round(a, 'acquired', { get: 1, create: 1 });
      // The server applies the renew, but its answer is lost: the cached resourceVersion is stale.
      server.faults.loseAnswers(1, 'pod-a');
      clock.advance(2_000);
      await round(a, 'failed', { update: 1 });
      server.resetCounts();
      a.state.close();
      await a.elector.stop();
      expect(calls('pod-a')).toEqual({ update: 2, get: 1 });
      expect(stored().spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
      expect(logger.messages('log', 'released the Lease')).toHaveLength(1);
    });

    it('a claim whose answer was lost stays waiting, and the next write of the term makes it good (issue 18.2)', async () => {
      const a = candidate('pod-a', { requestTimeoutMs: 300 });
      await round(a, 'acquired', { get: 1, create: 1 });
      const ledger = a.state.ledger!;
      const first = { fireTime: Date.UTC(2026, 11, 1, 9, 0, 0), state: 'succeeded' as const, term: 0 };
      expect(await ledger.claim('Jobs.tick', { ...first, state: 'claimed' })).toBe(true);
      ledger.complete('Jobs.tick', first);
      server.faults.loseAnswers(1, 'pod-a');
      const second = { fireTime: first.fireTime + 1_000, state: 'claimed' as const, term: 0 };
      let outcome: boolean | undefined;
      const claimed = ledger.claim('Jobs.tick', second).then((result) => (outcome = result));
      // Its write is applied, and its answer never comes: the claim is neither made good nor given up.
      await expect.poll(() => a.elector.status().lastApiError?.reason).toBe('Timeout');
      expect(outcome).toBeUndefined();
      expect(ledger.entry('Jobs.tick')).toEqual(second);
      // The next round renews (its cached version is stale: 409, a read, a write) and carries it.
      clock.advance(2_000);
      await round(a, 'renewed', { update: 2, get: 1 });
      expect(await claimed).toBe(true);
      expect(stored().metadata.annotations?.['nestjs-cluster-leader/ledger']).toContain(`[${second.fireTime},"c",0]`);
    });

    it('a claim still waiting when the term ends is not claimed', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      server.faults.outage = true;
      const claimed = a.state.ledger!.claim('Jobs.tick', { fireTime: Date.UTC(2026, 11, 1, 9, 0, 0), state: 'claimed', term: 0 });
      await expect.poll(() => a.elector.status().lastApiError?.code).toBe(503);
      clock.advance(10_000); // past the renew deadline
      await round(a, 'failed');
      expect(await claimed).toBe(false);
      expect(a.state.isLeader()).toBe(false);
    });

    it('a completion not yet written when its term ended is written by this process\'s next term', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      const ledger = a.state.ledger!;
      const fireTime = Date.UTC(2026, 11, 1, 9, 0, 0);
      expect(await ledger.claim('Jobs.tick', { fireTime, state: 'claimed', term: 0 })).toBe(true);
      ledger.complete('Jobs.tick', { fireTime, state: 'succeeded', term: 0 });
      // The API fails past the renew deadline: the term ends with the completion unwritten.
      server.faults.failNext(1, 503);
      clock.advance(2_000);
      await round(a, 'failed', { update: 1 });
      clock.advance(9_000);
      expect(a.state.isLeader()).toBe(false);
      await round(a, 'acquired', { get: 1, update: 1 });
      expect(stored().metadata.annotations?.['nestjs-cluster-leader/ledger']).toContain(`[${fireTime},"s",0]`);
    });

    it('does not release a record another process wrote since', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      rewrite({ holderIdentity: 'pod-b', leaseTransitions: 1 });
      server.resetCounts();
      a.state.close();
      await a.elector.stop();
      expect(calls('pod-a')).toEqual({ update: 1, get: 1 });
      expect(stored().spec.holderIdentity).toBe('pod-b');
      expect(logger.messages('log', 'did not release the Lease default/safety-lease: it is no longer this process\'s (held by pod-b)')).toHaveLength(1);
    });

    it('does not release when its jobs are still running (stop with release: false): the Lease is left to expire', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      server.resetCounts();
      a.state.close();
      await a.elector.stop({ release: false });
      expect(calls('pod-a')).toEqual({});
      expect(stored().spec.holderIdentity).toBe('pod-a');
      expect(logger.messages('warn', 'not releasing the Lease default/safety-lease because its jobs are still running')).toHaveLength(1);
    });
  });

  describe('10. coordinated leader election fields (Kubernetes 1.31+)', () => {
    it('a released coordinated Lease is left to the coordinator; once coordination is removed, it is taken without its fields', async () => {
      const b = candidate('pod-b');
      server.putLease(NAMESPACE, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: LEASE, namespace: NAMESPACE },
        spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2, strategy: 'OldestEmulationVersion', preferredHolder: 'pod-z' },
      });
      await round(b, 'held-by-other', { get: 1 });
      const { strategy: _strategy, preferredHolder: _preferred, ...spec } = stored().spec;
      server.putLease(NAMESPACE, { ...stored(), spec });
      await round(b, 'acquired', { get: 1, update: 1 });
      expect(stored().spec).toMatchObject({ holderIdentity: 'pod-b', leaseTransitions: 3 });
      expect(stored().spec.strategy).toBeUndefined();
    });

    it('never takes a coordinated Lease (strategy set) by expiry, and says so once', async () => {
      const b = candidate('pod-b');
      server.putLease(NAMESPACE, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: LEASE, namespace: NAMESPACE },
        spec: { holderIdentity: 'pod-x', leaseDurationSeconds: 15, leaseTransitions: 2, strategy: 'OldestEmulationVersion' },
      });
      await round(b, 'held-by-other', { get: 1 });
      clock.advance(60_000);
      await round(b, 'held-by-other', { get: 1 });
      expect(stored().spec.holderIdentity).toBe('pod-x');
      expect(logger.messages('warn', 'uses coordinated leader election (strategy "OldestEmulationVersion")')).toHaveLength(1);
    });

    it('hands over when preferredHolder names another: steps down, drains, releases, keeping the strategy', async () => {
      const a = candidate('pod-a');
      await round(a, 'acquired', { get: 1, create: 1 });
      rewrite({ strategy: 'OldestEmulationVersion', preferredHolder: 'pod-b' });
      clock.advance(2_000);
      await round(a, 'renewed', { update: 2, get: 1 });
      expect(a.state.isLeader()).toBe(false);
      expect(logger.messages('log', 'names pod-b as its preferred holder; stepping down')).toHaveLength(1);
      await expect.poll(() => stored().spec.holderIdentity).toBe('');
      expect(stored().spec).toMatchObject({ strategy: 'OldestEmulationVersion', preferredHolder: 'pod-b', leaseDurationSeconds: 1 });
    });
  });
});
