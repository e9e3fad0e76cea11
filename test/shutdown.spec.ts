import { Injectable } from '@nestjs/common';
import { Interval, Timeout } from '@nestjs/schedule';
import { describe, expect, it, vi } from 'vitest';
import {
  currentLeaderJob,
  LeaderOnly,
  type LeadershipState,
  type LeadershipTerm,
} from '../lib/index.js';
import { deferred, startApp, useFakeTime } from './support/nest-app.js';
import { SidecarStandIn } from './support/sidecar-stand-in.js';
import { HANDOVER_GUARD_MS, POLL_INTERVAL_MS, sidecarOptions, useSidecarApps } from './support/sidecar-apps.js';
import { countedResources, extraResources } from './support/active-resources.js';

const sidecarApps = useSidecarApps();
const { apps, standInNaming } = sidecarApps;

/** Starts the app and waits until it leads and the sidecar's first poll (if any) is over. */
async function start(spec: Parameters<typeof startApp>[0], standIn?: SidecarStandIn) {
  const started = await sidecarApps.start(spec, standIn);
  await started.leader.waitForLeadership();
  return started;
}

@Injectable()
class NightlyExport {
  readonly events: string[] = [];
  readonly started = deferred();
  readonly release = deferred();

  // Due 100 ms after a sidecar pod named at startup has passed the handover guard and leads.
  @Timeout('nightly-export', HANDOVER_GUARD_MS + 100)
  @LeaderOnly()
  async export(): Promise<void> {
    const job = currentLeaderJob()!;
    job.signal.addEventListener('abort', () => this.events.push('job signal aborted'));
    this.started.resolve();
    await this.release.promise;
    this.events.push('job finished');
  }
}

describe('app.close()', () => {
  it('stops leading first, waits for the running job, and only then stops the elector', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const stoppedLeading = deferred<LeadershipState>();
    const { app, leader } = await start(
      {
        leaderElection: sidecarOptions(standIn, { onStoppedLeading: (state) => stoppedLeading.resolve(state) }),
        providers: [NightlyExport],
      },
      standIn,
    );
    const job = app.get(NightlyExport);
    await vi.advanceTimersByTimeAsync(100);
    await job.started.promise;

    const closing = app.close().then(() => job.events.push('app closed'));
    const stopped = await stoppedLeading.promise;
    job.events.push('stopped leading');

    expect(stopped).toMatchObject({ isLeader: false });
    expect(leader.isLeader()).toBe(false);
    expect(job.events).toEqual(['job signal aborted', 'stopped leading']);

    // The elector still runs while the job drains: it sends its next poll, which the sidecar now
    // leaves hanging. Stopping the elector cancels that poll, and must wait for the job.
    standIn.mode = 'hang';
    const hangingPoll = standIn.nextRequest();
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS - 100);
    const poll = await hangingPoll;
    const pollCancelled = new Promise<void>((resolve) => poll.socket.once('close', resolve));
    expect(standIn.openConnections).toBe(1);
    expect(job.events).not.toContain('app closed');

    job.release.resolve();
    await closing;
    await pollCancelled;
    job.events.push('poll cancelled');

    expect(job.events).toEqual(['job signal aborted', 'stopped leading', 'job finished', 'app closed', 'poll cancelled']);
    expect(leader.jobCounters()['NightlyExport.export']).toEqual({ runs: 1, skipped: 0, failed: 0 });
  });

  it('ends the term on shutdown: onStoppedLeading, the aborted signal and the change all come once', async () => {
    const terms: LeadershipTerm[] = [];
    const stopped: LeadershipState[] = [];
    const { app, leader, logger } = await start({
      leaderElection: {
        backend: 'standalone',
        identity: 'pod-a',
        onStartedLeading: (term) => void terms.push(term),
        onStoppedLeading: (state) => void stopped.push(state),
      },
    });
    const changes: boolean[] = [];
    leader.changes().subscribe((state) => changes.push(state.isLeader));

    await app.close();

    expect(leader.isLeader()).toBe(false);
    expect(changes).toEqual([true, false]);
    expect(stopped).toEqual([{ election: 'default', identity: 'pod-a', isLeader: false, leader: 'pod-a', term: null }]);
    expect(terms).toHaveLength(1);
    expect(terms[0]!.signal.aborted).toBe(true);
    expect(String(terms[0]!.signal.reason)).toContain("Leadership of election 'default' ended: shutdown began");
    expect(logger.messages('log', 'stopped leading')).toEqual(["Election 'default': this pod (pod-a) stopped leading: shutdown began."]);
  });

  it('stops waiting for a job that never ends after drainTimeoutMs and says so', async () => {
    const { app, leader, logger } = await start({
      leaderElection: { backend: 'standalone', identity: 'pod-a', drainTimeoutMs: 50 },
      providers: [NightlyExport],
    });
    const job = app.get(NightlyExport);
    void job.export();
    await job.started.promise;

    await app.close();

    expect(leader.isLeader()).toBe(false);
    expect(job.events).toEqual(['job signal aborted']);
    expect(logger.messages('warn')).toEqual([
      "Shutdown: leader-only job(s) still running after 50 ms (1 in election 'default'). Their Leases are not released: other pods take over when they expire, so that no other pod starts the same job while these still run. Make long jobs stop when their AbortSignal fires, or raise drainTimeoutMs (and the pod's terminationGracePeriodSeconds).",
    ]);
  });

  it('does not wait or warn when no job is running', async () => {
    const { app, logger } = await start({
      leaderElection: { backend: 'standalone', identity: 'pod-a', drainTimeoutMs: 60_000 },
      providers: [NightlyExport],
    });

    await app.close();

    expect(logger.messages('warn')).toEqual([]);
  });
});

@Injectable()
class FrequentJob {
  runs = 0;

  @Interval('frequent', 250)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

describe('after app.close()', () => {
  it('leaves no timer behind and never polls the sidecar again', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const { app } = await start({ leaderElection: sidecarOptions(standIn), providers: [FrequentJob] }, standIn);
    const settled = standIn.nextPollsSettled();
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS);
    await settled;
    expect(app.get(FrequentJob).runs).toBe(4);

    await app.close();
    const polls = standIn.pollsStarted;
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);

    // A poll is counted the moment its request is created, so a leftover timer would show here.
    expect(standIn.pollsStarted).toBe(polls);
    expect(standIn.requests).toBe(polls);
    expect(app.get(FrequentJob).runs).toBe(4);
  });

  it('cancels a poll that is still waiting for the sidecar', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    standIn.mode = 'hang';
    const hangingPoll = standIn.nextRequest();
    const started = await startApp({ leaderElection: sidecarOptions(standIn) });
    apps.push(started.app);
    const poll = await hangingPoll;
    const cancelled = new Promise<void>((resolve) => poll.socket.once('close', resolve));
    const settled = standIn.nextPollsSettled();

    await started.app.close();
    await cancelled;
    await settled;

    expect(vi.getTimerCount()).toBe(0);
    expect(standIn.openConnections).toBe(0);
  });

  it('leaves no active timer or socket in the process (real timers)', async () => {
    const standIn = await standInNaming('pod-a');
    const before = countedResources();
    // Short, so the handover guard (pollIntervalMs + 2 x requestTimeoutMs = 400 ms) passes quickly.
    const leaderElection = { ...sidecarOptions(standIn), sidecar: { url: standIn.url, pollIntervalMs: 200, requestTimeoutMs: 100 } };
    const { app, leader } = await sidecarApps.start({ leaderElection, providers: [FrequentJob] }, standIn);
    expect(extraResources(before).Timeout).toBeGreaterThan(0);
    expect(leader.isLeader()).toBe(false);
    await leader.waitForLeadership();

    await app.close();
    // A poll still in flight (the one that confirmed leadership, or one that close cancelled) lists
    // its socket until its request is over and the handle freed.
    await standIn.nextPollsSettled(standIn.pollsStarted - standIn.pollsSettled);
    await standIn.idle();

    expect(extraResources(before)).toEqual({ Timeout: 0, TCPSocketWrap: 0, TCPServerWrap: 0 });
  });
});
