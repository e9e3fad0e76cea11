import { Injectable, type INestApplication } from '@nestjs/common';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ElectionRegistry } from '../lib/election.registry.js';
import {
  ClusterLeaderService,
  LeaderOnly,
  type LeaderElectionCallbacks,
  type LeaderElectionModuleOptions,
  type LeadershipState,
  type LeadershipTerm,
  UnknownElectionError,
} from '../lib/index.js';
import { compileApp, startApp, useFakeTime } from './support/nest-app.js';
import { nextPoll, passHandoverGuard, POLL_INTERVAL_MS, sidecarOptions, useSidecarApps } from './support/sidecar-apps.js';

const { apps, start, standInNaming } = useSidecarApps();

/**
 * Whether anything still listens to the election's state. Not public: read through the registry
 * only to prove that waitForLeadership() cleans up after itself.
 */
function stateIsObserved(app: INestApplication, election = 'default'): boolean {
  return app.get(ElectionRegistry).states.get(election)!['subject'].observed;
}

@Injectable()
class ReportJob {
  @LeaderOnly()
  send(): string {
    return 'sent';
  }
}

describe('ClusterLeaderService reads', () => {
  it('fail closed before the first answer: not leader, no leader known, jobs skipped', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    standIn.mode = 'hang';
    const firstRequest = standIn.nextRequest();
    const { app, leader } = await start({ leaderElection: sidecarOptions(standIn), providers: [ReportJob] });
    await firstRequest;

    expect(leader.isLeader()).toBe(false);
    expect(leader.leader()).toBeNull();
    expect(leader.state()).toEqual({ election: 'default', identity: 'pod-a', isLeader: false, leader: null, term: null });
    expect(app.get(ReportJob).send()).toBeUndefined();
    expect(leader.jobCounters()['ReportJob.send']).toEqual({ runs: 0, skipped: 1, failed: 0 });
  });

  it('give this pod\'s identity and the leader it observes', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-b');
    const { leader } = await start({ leaderElection: sidecarOptions(standIn) }, standIn);

    expect(leader.identity).toBe('pod-a');
    expect(leader.leader()).toBe('pod-b');
    expect(leader.isLeader()).toBe(false);

    standIn.leader = 'pod-a';
    await nextPoll(standIn);
    expect(leader.leader()).toBe('pod-a');
    expect(leader.isLeader()).toBe(false);
    await passHandoverGuard(standIn);
    expect(leader.isLeader()).toBe(true);
  });

  it.each([
    { backend: 'standalone', options: async () => ({ backend: 'standalone', identity: 'pod-a' }) as const },
    { backend: 'sidecar', options: async () => sidecarOptions(await standInNaming('pod-a')) },
  ])('has no term on the $backend backend', async ({ options }) => {
    const { leader } = await start({ leaderElection: await options() });
    await leader.waitForLeadership();

    expect(leader.term()).toBeNull();
    expect(leader.state().term).toBeNull();
  });

  it('stops reading as leader at its deadline even when a stalled event loop delays every timer', async () => {
    const standIn = await standInNaming('pod-a');
    // Leadership from one answer lasts pollIntervalMs + 2 x requestTimeoutMs = 400 ms, and so
    // does the handover guard before it.
    const leaderElection: LeaderElectionModuleOptions = {
      backend: 'sidecar',
      identity: 'pod-a',
      sidecar: { url: standIn.url, pollIntervalMs: 200, requestTimeoutMs: 100 },
    };
    const { app, leader } = await start({ leaderElection, providers: [ReportJob] }, standIn);
    expect(leader.isLeader()).toBe(false);
    await leader.waitForLeadership();
    expect(leader.isLeader()).toBe(true);

    // Block the event loop past the deadline, as a long GC pause or a CPU-bound job would: no
    // timer and no answer can run meanwhile, so only the clock read can end the leadership.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);

    expect(leader.isLeader()).toBe(false);
    expect(app.get(ReportJob).send()).toBeUndefined();
    expect(leader.jobCounters()['ReportJob.send']).toEqual({ runs: 0, skipped: 1, failed: 0 });
  });

  it('names the configured elections and throws UnknownElectionError for an unknown one', async () => {
    const { leader } = await start({
      leaderElection: { backend: 'standalone', identity: 'pod-a', elections: { reports: { backend: 'standalone' } } },
    });
    const unknown = "No election named 'nope' is configured (configured: 'default', 'reports'). Use one of those names, or add 'nope' to the `elections` option of LeaderElectionModule.forRoot().";

    expect(leader.elections()).toEqual(['default', 'reports']);
    expect(() => leader.isLeader('nope')).toThrow(UnknownElectionError);
    expect(() => leader.isLeader('nope')).toThrow(expect.objectContaining({ election: 'nope', configured: ['default', 'reports'] }));
    await expect(async () => leader.waitForLeadership({ election: 'nope' })).rejects.toThrow(UnknownElectionError);
    expect(() => leader.isLeader('nope')).toThrow(unknown);
    expect(() => leader.leader('nope')).toThrow(unknown);
    expect(() => leader.term('nope')).toThrow(unknown);
    expect(() => leader.state('nope')).toThrow(unknown);
    expect(() => leader.changes('nope')).toThrow(unknown);
    await expect(async () => leader.waitForLeadership({ election: 'nope' })).rejects.toThrow(unknown);
  });
});

describe('ClusterLeaderService.changes()', () => {
  it('emits the current state first, then each change exactly once', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const { app } = await compileApp({ leaderElection: sidecarOptions(standIn) });
    apps.push(app);
    const leader = app.get(ClusterLeaderService);
    const seen: Array<Pick<LeadershipState, 'isLeader' | 'leader'>> = [];
    const subscription = leader.changes().subscribe(({ isLeader, leader }) => seen.push({ isLeader, leader }));

    const firstPoll = standIn.nextPollsSettled();
    await app.init();
    await firstPoll;
    await passHandoverGuard(standIn);
    await nextPoll(standIn);
    standIn.leader = 'pod-b';
    await nextPoll(standIn);
    await nextPoll(standIn);
    standIn.mode = 'emptyName';
    await nextPoll(standIn);
    await nextPoll(standIn);
    standIn.mode = 'leader';
    standIn.leader = 'pod-a';
    await nextPoll(standIn);
    await passHandoverGuard(standIn);
    await nextPoll(standIn);
    subscription.unsubscribe();

    // Each time this pod is named, it is first seen as leader only once the handover guard ends.
    expect(seen).toEqual([
      { isLeader: false, leader: null },
      { isLeader: false, leader: 'pod-a' },
      { isLeader: true, leader: 'pod-a' },
      { isLeader: false, leader: 'pod-b' },
      { isLeader: false, leader: null },
      { isLeader: false, leader: 'pod-a' },
      { isLeader: true, leader: 'pod-a' },
    ]);
  });

  it('gives a late subscriber the current state at once', async () => {
    const { leader } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' } });
    const seen: LeadershipState[] = [];

    leader.changes().subscribe((state) => seen.push(state)).unsubscribe();

    expect(seen).toEqual([{ election: 'default', identity: 'pod-a', isLeader: true, leader: 'pod-a', term: null }]);
  });
});

describe('ClusterLeaderService.waitForLeadership()', () => {
  it('resolves when leadership arrives and leaves nothing subscribed', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-b');
    const { app, leader } = await start({ leaderElection: sidecarOptions(standIn) }, standIn);
    const shutdown = new AbortController();
    let resolvedWith: LeadershipState | undefined;
    const waiting = leader.waitForLeadership({ signal: shutdown.signal }).then((state) => (resolvedWith = state));

    await nextPoll(standIn);
    expect(resolvedWith).toBeUndefined();

    standIn.leader = 'pod-a';
    await nextPoll(standIn);
    expect(leader.isLeader()).toBe(false);
    expect(resolvedWith).toBeUndefined();
    await passHandoverGuard(standIn);
    await waiting;

    expect(resolvedWith).toEqual({ election: 'default', identity: 'pod-a', isLeader: true, leader: 'pod-a', term: null });
    expect(stateIsObserved(app)).toBe(false);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  // A caller that waits in a loop with one long-lived signal must not pile up abort listeners
  // (MaxListenersExceededWarning after ten) when the pod already leads.
  it('resolves at once when already leading and leaves no abort listener on the signal', async () => {
    const { app, leader } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' } });
    const shutdown = new AbortController();

    await expect(leader.waitForLeadership({ signal: shutdown.signal })).resolves.toMatchObject({ isLeader: true });
    await Promise.resolve();

    expect(stateIsObserved(app)).toBe(false);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with the signal\'s reason when the signal aborts, and unsubscribes', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-b');
    const { app, leader } = await start({ leaderElection: sidecarOptions(standIn) }, standIn);
    const controller = new AbortController();
    const reason = new Error('deployment is scaling down');

    const waiting = leader.waitForLeadership({ signal: controller.signal });
    expect(stateIsObserved(app)).toBe(true);
    controller.abort(reason);

    await expect(waiting).rejects.toBe(reason);
    expect(stateIsObserved(app)).toBe(false);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once with the reason of a signal that has already aborted', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-b');
    const { app, leader } = await start({ leaderElection: sidecarOptions(standIn) }, standIn);
    const reason = new Error('too late');

    await expect(leader.waitForLeadership({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(stateIsObserved(app)).toBe(false);
  });

  it('waits on the election it names', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const { leader } = await start(
      {
        leaderElection: {
          backend: 'standalone',
          identity: 'pod-a',
          elections: { reports: { backend: 'sidecar', sidecar: { url: standIn.url, pollIntervalMs: POLL_INTERVAL_MS } } },
        },
      },
      standIn,
    );

    await expect(leader.waitForLeadership({ election: 'reports' })).resolves.toMatchObject({ election: 'reports', isLeader: true });
  });
});

function recordingCallbacks() {
  const calls: string[] = [];
  const terms: LeadershipTerm[] = [];
  const stopped: LeadershipState[] = [];
  const callbacks: LeaderElectionCallbacks = {
    onStartedLeading: (term) => {
      terms.push(term);
      calls.push('started');
    },
    onStoppedLeading: (state) => {
      stopped.push(state);
      calls.push('stopped');
    },
    onNewLeader: (identity) => void calls.push(`new leader ${identity}`),
  };
  return { calls, terms, stopped, callbacks };
}

describe('callbacks', () => {
  it('fire once per change, with the term and its signal', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const { calls, terms, stopped, callbacks } = recordingCallbacks();
    const { leader } = await start({ leaderElection: sidecarOptions(standIn, callbacks) }, standIn);
    await nextPoll(standIn);

    // The pod is named by the first answer, and starts leading only after the handover guard.
    expect(calls).toEqual(['new leader pod-a', 'started']);
    expect(terms).toEqual([{ election: 'default', term: null, signal: expect.any(AbortSignal) }]);
    expect(terms[0]!.signal.aborted).toBe(false);

    standIn.leader = 'pod-b';
    await nextPoll(standIn);
    await nextPoll(standIn);
    standIn.leader = 'pod-a';
    await nextPoll(standIn);
    expect(leader.isLeader()).toBe(false);
    expect(calls).toEqual(['new leader pod-a', 'started', 'stopped', 'new leader pod-b', 'new leader pod-a']);
    await passHandoverGuard(standIn);
    await nextPoll(standIn);

    expect(calls).toEqual(['new leader pod-a', 'started', 'stopped', 'new leader pod-b', 'new leader pod-a', 'started']);
    expect(terms[0]!.signal.aborted).toBe(true);
    expect(terms[1]!.signal.aborted).toBe(false);
    expect(stopped).toEqual([expect.objectContaining({ election: 'default', identity: 'pod-a', isLeader: false })]);
  });

  it('run after the new state is out, so the service agrees with them', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const seen: string[] = [];
    let service: ClusterLeaderService | undefined;
    const describeService = () => `isLeader=${service?.isLeader()} leader=${service?.leader()}`;
    const firstPoll = standIn.nextPollsSettled();
    const { app } = await startApp({
      leaderElection: sidecarOptions(standIn, {
        onStartedLeading: () => void seen.push(`started: ${describeService()}`),
        onStoppedLeading: () => void seen.push(`stopped: ${describeService()}`),
      }),
    });
    apps.push(app);
    service = app.get(ClusterLeaderService);
    await firstPoll;
    expect(seen).toEqual([]);
    await passHandoverGuard(standIn);
    standIn.leader = 'pod-b';
    await nextPoll(standIn);

    expect(seen).toEqual(['started: isLeader=true leader=pod-a', 'stopped: isLeader=false leader=pod-b']);
  });

  it('of an extra election fire for that election', async () => {
    const { calls, terms, callbacks } = recordingCallbacks();
    await start({
      leaderElection: { backend: 'standalone', identity: 'pod-a', elections: { reports: { backend: 'standalone', ...callbacks } } },
    });

    expect(calls).toEqual(['started', 'new leader pod-a']);
    expect(terms.map((term) => term.election)).toEqual(['reports']);
  });

  const throwing = (how: 'sync' | 'async') =>
    how === 'sync'
      ? () => {
          throw new Error('callback exploded');
        }
      : async () => {
          throw new Error('callback exploded');
        };

  it.each([
    { callback: 'onStartedLeading', how: 'sync', calls: 2 },
    { callback: 'onStartedLeading', how: 'async', calls: 2 },
    { callback: 'onStoppedLeading', how: 'sync', calls: 1 },
    { callback: 'onStoppedLeading', how: 'async', calls: 1 },
    { callback: 'onNewLeader', how: 'sync', calls: 3 },
    { callback: 'onNewLeader', how: 'async', calls: 3 },
  ] as const)('a $how $callback that throws is logged and the election goes on', async ({ callback, how, calls }) => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const { leader, logger } = await start({ leaderElection: sidecarOptions(standIn, { [callback]: throwing(how) }) }, standIn);

    standIn.leader = 'pod-b';
    await nextPoll(standIn);
    expect(leader.leader()).toBe('pod-b');
    standIn.leader = 'pod-a';
    await nextPoll(standIn);
    expect(leader.isLeader()).toBe(false);
    await passHandoverGuard(standIn);

    expect(leader.isLeader()).toBe(true);
    const failures = logger.entries.filter((entry) => entry.level === 'error');
    expect(failures.map((entry) => entry.message)).toEqual(Array(calls).fill(`Election 'default': ${callback} callback failed`));
    expect(failures.every((entry) => entry.context === 'LeaderElection')).toBe(true);
  });
});
