import { Injectable, type INestApplication, type Provider } from '@nestjs/common';
import { Cron, Interval } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService, LeaderOnly, type LeaderElectionModuleOptions } from '../lib/index.js';
import { closeAll, startApp, useFakeTime } from './support/nest-app.js';
import { SidecarStandIn } from './support/sidecar-stand-in.js';

const POLL_INTERVAL_MS = 1_000;
const REQUEST_TIMEOUT_MS = 500;
/** How long a pod must be named without a break before it leads: one answer's validity. */
const HANDOVER_GUARD_MS = POLL_INTERVAL_MS + 2 * REQUEST_TIMEOUT_MS;

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
 * A pod the sidecar has just named waits out the handover guard; the poll it makes right then
 * confirms it, and it leads. `polls` counts every pod's polls in that time.
 */
async function passHandoverGuard(polls = 1): Promise<void> {
  const settled = standIn.nextPollsSettled(polls);
  await vi.advanceTimersByTimeAsync(HANDOVER_GUARD_MS);
  await settled;
}

/** Starts the pod the sidecar names and lets it through the handover guard. */
async function startLeader(identity: string, providers: Provider[] = []) {
  const pod = await startPod(identity, providers);
  expect(pod.leader.isLeader()).toBe(false);
  await passHandoverGuard();
  expect(pod.leader.isLeader()).toBe(true);
  return pod;
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
      const { leader, logger } = await startLeader('pod-a');
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
      // Named again after a gap: the handover guard applies again.
      expect(leader.isLeader()).toBe(false);
      expect(leader.leader()).toBe('pod-a');
      await passHandoverGuard();

      expect(leader.isLeader()).toBe(true);
      expect(logger.messages('log', `The leader-elector sidecar at ${standIn.url}/ answers again.`)).toHaveLength(1);
      expect(unhealthy()).toHaveLength(1);
    },
  );

  it('warns again when the fault changes, since that is a new state', async () => {
    const { logger } = await startLeader('pod-a');

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
    const { leader, logger } = await startLeader('pod-a');

    standIn.mode = 'emptyName';
    await nextPoll();
    await nextPoll();

    expect(leader.isLeader()).toBe(false);
    expect(leader.leader()).toBeNull();
    expect(logger.messages('warn')).toEqual([]);
    expect(logger.messages('log', 'no leader is known')).toEqual(["Election 'default': no leader is known."]);

    standIn.mode = 'leader';
    await nextPoll();
    await passHandoverGuard();
    expect(leader.isLeader()).toBe(true);
  });

  it('accepts an answer with extra fields, as newer sidecars send', async () => {
    standIn.mode = 'extraFields';
    const { leader, logger } = await startLeader('pod-a');

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
    await passHandoverGuard();
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
  it('runs the job on exactly one pod; when the leader changes, the old one stops within one poll interval and the new one starts after the handover guard', async () => {
    // One after the other, so each first poll is over before the next pod starts: fake time has
    // not moved. pod-a, named, asks again when its handover guard ends (2 s), the followers every
    // second; from then on all three poll at the same instants.
    const pods: Array<Awaited<ReturnType<typeof startPod>>> = [];
    for (const identity of ['pod-a', 'pod-b', 'pod-c']) pods.push(await startPod(identity, [EveryFiveSeconds]));
    const runs = () => pods.map(({ app }) => app.get(EveryFiveSeconds).runs);
    const leading = () => pods.map(({ leader }) => leader.isLeader());
    expect(leading()).toEqual([false, false, false]);
    await nextPoll({ pods: 2 });
    await nextPoll({ pods: 3 });
    expect(leading()).toEqual([true, false, false]);
    for (let second = 2; second < 10; second++) await nextPoll({ pods: 3 });

    expect(runs()).toEqual([2, 0, 0]);
    expect(pods.map(({ leader }) => leader.jobCounters()['EveryFiveSeconds.tick'])).toEqual([
      { runs: 2, skipped: 0, failed: 0 },
      { runs: 0, skipped: 2, failed: 0 },
      { runs: 0, skipped: 2, failed: 0 },
    ]);

    standIn.leader = 'pod-b';
    await nextPoll({ pods: 3 });
    // Nobody leads while pod-a's last answer could still be in force.
    expect(leading()).toEqual([false, false, false]);
    expect(pods.map(({ leader }) => leader.leader())).toEqual(['pod-b', 'pod-b', 'pod-b']);
    await nextPoll({ pods: 2 });
    expect(leading()).toEqual([false, false, false]);
    await nextPoll({ pods: 3 });
    expect(leading()).toEqual([false, true, false]);
    for (let second = 13; second < 20; second++) await nextPoll({ pods: 3 });
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
    const { app } = await startLeader('pod-a', [HotJob]);
    const [runsBefore, requestsBefore] = [app.get(HotJob).runs, standIn.requests];
    const seconds = 10;
    for (let second = 0; second < seconds; second++) await nextPoll();

    expect(app.get(HotJob).runs - runsBefore).toBe(seconds * 100);
    expect(standIn.requests - requestsBefore).toBe(seconds);
  });

  it('asks with a GET that accepts the sidecar\'s text/plain answer', async () => {
    const request = standIn.nextRequest();
    await startPod('pod-a');

    const { method, headers } = await request;
    expect(method).toBe('GET');
    expect(headers.accept).toContain('text/plain');
  });
});
