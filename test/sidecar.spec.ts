import { Injectable, type INestApplication, type Provider } from '@nestjs/common';
import { Cron, Interval } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService, LeaderOnly, type LeaderElectionModuleOptions } from '../lib/index.js';
import { closeAll, startApp, useFakeTime } from './support/nest-app.js';
import { SidecarStandIn } from './support/sidecar-stand-in.js';

const POLL_INTERVAL_MS = 1_000;
const REQUEST_TIMEOUT_MS = 500;

let standIn: SidecarStandIn;
const apps: INestApplication[] = [];

beforeEach(async () => {
  useFakeTime();
  standIn = await SidecarStandIn.start('pod-a');
});

afterEach(async () => {
  await closeAll(apps.splice(0));
  await standIn.close();
  vi.useRealTimers();
});

function sidecarOptions(identity: string): LeaderElectionModuleOptions {
  return {
    backend: 'sidecar',
    identity,
    sidecar: { url: standIn.url, pollIntervalMs: POLL_INTERVAL_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  };
}

/** Starts a pod and waits until its first poll has been answered (or has failed). */
async function startPod(identity: string, providers: Provider[] = []) {
  const firstPoll = standIn.nextPollsSettled();
  const started = await startApp({ leaderElection: sidecarOptions(identity), providers });
  apps.push(started.app);
  await firstPoll;
  return { ...started, leader: started.app.get(ClusterLeaderService) };
}

/**
 * Lets fake time run to the next poll of each of `pods` pods and waits until their answers are
 * applied. A poll the sidecar never answers needs the request timeout on top.
 */
async function nextPoll({ pods = 1, hanging = false } = {}): Promise<void> {
  const settled = standIn.nextPollsSettled(pods);
  await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS);
  if (hanging) await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS);
  await settled;
}

const faults: Array<{
  fault: string;
  problem: string;
  hanging?: boolean;
  apply: () => void | Promise<void>;
  heal: () => void | Promise<void>;
}> = [
  { fault: 'a refused connection', problem: 'connection refused', apply: () => standIn.refuse(), heal: () => standIn.resume() },
  {
    fault: 'no answer (hang)',
    problem: `no answer within ${REQUEST_TIMEOUT_MS} ms`,
    hanging: true,
    apply: () => void (standIn.mode = 'hang'),
    heal: () => void (standIn.mode = 'leader'),
  },
  { fault: 'HTTP 503', problem: 'HTTP status 503', apply: () => standIn.status(503), heal: () => void (standIn.mode = 'leader') },
  { fault: 'an HTML page', problem: 'the answer is not JSON', apply: () => void (standIn.mode = 'html'), heal: () => void (standIn.mode = 'leader') },
  { fault: 'invalid JSON', problem: 'the answer is not JSON', apply: () => void (standIn.mode = 'invalidJson'), heal: () => void (standIn.mode = 'leader') },
  {
    fault: 'JSON without "name"',
    problem: 'the answer has no "name" string',
    apply: () => void (standIn.mode = 'missingName'),
    heal: () => void (standIn.mode = 'leader'),
  },
  {
    fault: 'a 1 MiB body',
    problem: 'answer larger than 4096 bytes',
    apply: () => void (standIn.mode = 'oversized'),
    heal: () => void (standIn.mode = 'leader'),
  },
];

describe('the sidecar backend against a faulty sidecar', () => {
  it.each(faults)(
    'fails closed on $fault, warns once for the whole outage and heals by itself',
    async ({ problem, hanging, apply, heal }) => {
      const { leader, logger } = await startPod('pod-a');
      expect(leader.isLeader()).toBe(true);
      const unhealthy = () => logger.messages('warn', `The leader-elector sidecar at ${standIn.url}/ gave no usable answer`);

      await apply();
      await nextPoll({ hanging });

      expect(leader.isLeader()).toBe(false);
      expect(leader.leader()).toBeNull();
      expect(unhealthy()).toEqual([expect.stringContaining(`gave no usable answer (${problem}); failing closed`)]);
      expect(logger.messages('log', 'stopped leading')).toEqual([
        `Election 'default': this pod (pod-a) stopped leading: the sidecar gave no usable answer (${problem}).`,
      ]);

      const pollsBefore = standIn.pollsStarted;
      for (let poll = 0; poll < 3; poll++) await nextPoll({ hanging });
      expect(standIn.pollsStarted - pollsBefore).toBe(3);
      expect(unhealthy()).toHaveLength(1);
      expect(leader.isLeader()).toBe(false);

      await heal();
      await nextPoll();

      expect(leader.isLeader()).toBe(true);
      expect(leader.leader()).toBe('pod-a');
      expect(logger.messages('log', `The leader-elector sidecar at ${standIn.url}/ answers again.`)).toHaveLength(1);
      expect(unhealthy()).toHaveLength(1);
    },
  );

  it('warns again when the fault changes, since that is a new state', async () => {
    const { logger } = await startPod('pod-a');

    standIn.status(503);
    await nextPoll();
    standIn.mode = 'html';
    await nextPoll();
    await nextPoll();

    expect(logger.messages('warn').map((message) => message.match(/\(([^)]*)\); failing closed/)?.[1])).toEqual([
      'HTTP status 503',
      'the answer is not JSON',
    ]);
  });

  it('treats an empty name as "no leader known": not leading, leader() null, and no warning', async () => {
    const { leader, logger } = await startPod('pod-a');

    standIn.mode = 'emptyName';
    await nextPoll();
    await nextPoll();

    expect(leader.isLeader()).toBe(false);
    expect(leader.leader()).toBeNull();
    expect(logger.messages('warn')).toEqual([]);
    expect(logger.messages('log', 'no leader is known')).toEqual(["Election 'default': no leader is known."]);

    standIn.mode = 'leader';
    await nextPoll();
    expect(leader.isLeader()).toBe(true);
  });

  it('accepts an answer with extra fields, as newer sidecars send', async () => {
    standIn.mode = 'extraFields';
    const { leader, logger } = await startPod('pod-a');
    await nextPoll();

    expect(leader.isLeader()).toBe(true);
    expect(leader.leader()).toBe('pod-a');
    expect(logger.messages('warn')).toEqual([]);
  });

  it('fails closed when the sidecar is refused from the very first poll', async () => {
    await standIn.refuse();
    const { leader, logger } = await startPod('pod-a');

    expect(leader.isLeader()).toBe(false);
    expect(logger.messages('warn', '(connection refused)')).toHaveLength(1);

    await standIn.resume();
    await nextPoll();
    expect(leader.isLeader()).toBe(true);
  });
});

describe('the sidecar backend on a follower', () => {
  it('is not the leader and reports the pod the sidecar names', async () => {
    standIn.leader = 'pod-b';
    const { leader } = await startPod('pod-a');

    expect(leader.isLeader()).toBe(false);
    expect(leader.leader()).toBe('pod-b');
    expect(leader.state()).toEqual({ election: 'default', identity: 'pod-a', isLeader: false, leader: 'pod-b', term: null });
  });
});

@Injectable()
class EveryFiveSeconds {
  runs = 0;

  @Cron('*/5 * * * * *')
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

describe('three pods sharing one sidecar', () => {
  it('runs the job on exactly one pod and moves it within one poll interval when the leader changes', async () => {
    // One after the other, so each first poll is over before the next pod starts: fake time has
    // not moved, and all three then poll at the same instants.
    const pods: Array<Awaited<ReturnType<typeof startPod>>> = [];
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) pods.push(await startPod(identity, [EveryFiveSeconds]));
    const runs = () => pods.map(({ app }) => app.get(EveryFiveSeconds).runs);
    for (let second = 0; second < 10; second++) await nextPoll({ pods: 3 });

    expect(runs()).toEqual([2, 0, 0]);
    expect(pods.map(({ leader }) => leader.jobCounters()['EveryFiveSeconds.tick'])).toEqual([
      { runs: 2, skipped: 0, failed: 0 },
      { runs: 0, skipped: 2, failed: 0 },
      { runs: 0, skipped: 2, failed: 0 },
    ]);

    standIn.leader = 'pod-b';
    await nextPoll({ pods: 3 });

    expect(pods.map(({ leader }) => leader.isLeader())).toEqual([false, true, false]);
    expect(pods.map(({ leader }) => leader.leader())).toEqual(['pod-b', 'pod-b', 'pod-b']);
    for (let second = 0; second < 9; second++) await nextPoll({ pods: 3 });
    expect(runs()).toEqual([2, 2, 0]);
  });
});

@Injectable()
class HotJob {
  runs = 0;

  @Interval('hot', 10)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

describe('the sidecar poll', () => {
  it('runs in the background: job ticks do no I/O', async () => {
    const { app } = await startPod('pod-a', [HotJob]);
    const seconds = 10;
    for (let second = 0; second < seconds; second++) await nextPoll();

    expect(app.get(HotJob).runs).toBe(seconds * 100);
    expect(standIn.requests).toBe(seconds + 1);
    expect(standIn.pollsStarted).toBe(seconds + 1);
  });

  it('asks with a GET that accepts the sidecar\'s text/plain answer', async () => {
    const request = standIn.nextRequest();
    await startPod('pod-a');

    const { method, headers } = await request;
    expect(method).toBe('GET');
    expect(headers.accept).toContain('text/plain');
  });
});
