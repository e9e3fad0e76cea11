import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { EventEmitter, once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { currentLeaderJob, LeaderOnly, type LeaderElectionModuleOptions, type LeaderJobContext, type LeaseOptions } from '../lib/index.js';
import { LEDGER_ANNOTATION, decodeLedger } from '../lib/ledger/ledger-record.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { useFakeTime } from './support/nest-app.js';
import { nextPoll, sidecarOptions, useSidecarApps } from './support/sidecar-apps.js';
import type { SidecarStandIn } from './support/sidecar-stand-in.js';

/**
 * Each tick once (issue 8): real Nest apps with the real ScheduleModule claim per-second cron
 * ticks in the Lease of the test apiserver. Every run, on every candidate, is recorded with its
 * fire time, and no fire time may appear twice.
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

interface Run {
  identity: string;
  context: LeaderJobContext;
}

/** Shared by every candidate of a test: the runs in the order they started. */
const runs: Run[] = [];
const ran = new EventEmitter();
const scheduledTimes = () => runs.map((run) => run.context.scheduledAt!.getTime());
const waitForRuns = async (predicate: () => boolean) => {
  while (!predicate()) await once(ran, 'run', { signal: AbortSignal.timeout(15_000) });
};

function jobClass(options: Parameters<typeof LeaderOnly>[0], identity: () => string, work: () => Promise<void> = async () => {}) {
  @Injectable()
  class EverySecond {
    @Cron('* * * * * *')
    @LeaderOnly(options)
    async tick() {
      const context = { ...currentLeaderJob()! };
      runs.push({ identity: identity(), context });
      ran.emit('run');
      await work();
    }
  }
  return EverySecond;
}

describe('Each tick once: claims in the Lease', () => {
  const cluster = new LeaseCandidates('ledger-lease');
  beforeEach(async () => {
    runs.length = 0;
    await cluster.setUp();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await cluster.tearDown();
  });

  const ledgerEntries = () => decodeLedger(cluster.server.getLease('default', 'ledger-lease')?.metadata.annotations?.[LEDGER_ANNOTATION]).ledger;

  async function candidate(identity: string, options: Parameters<typeof LeaderOnly>[0] = {}, lease: Partial<LeaseOptions> = {}, work?: () => Promise<void>) {
    const Job = jobClass(options, () => identity, work);
    // A short drain: some tests leave a run that never ends, and shutdown must not wait 10 s for it.
    const started = await cluster.startTracked({ identity, lease: { ...FAST, ...lease }, module: { drainTimeoutMs: 200 }, providers: [Job] });
    return { ...started, Job };
  }

  it('claims each tick before it runs, with its scheduled time, term and fencing token', async () => {
    const a = await candidate('pod-a');
    await waitForRuns(() => runs.length >= 2);
    const [first, second] = runs;
    expect(second!.context.scheduledAt!.getTime() - first!.context.scheduledAt!.getTime()).toBe(1_000);
    expect(first!.context).toMatchObject({ election: 'default', term: 0, catchUp: false, missedFireTimes: [] });
    expect(first!.context.fencingToken).toMatch(/^\d+$/);
    expect(first!.context.scheduledAt!.getMilliseconds()).toBe(0);
    const entry = ledgerEntries().get(`${a.Job.name}.tick`);
    expect(entry?.fireTime).toBeGreaterThanOrEqual(second!.context.scheduledAt!.getTime());
    cluster.timeline.assertNoOverlap();
  });

  it('a new leader whose clock is behind does not run a tick the old leader already claimed', async () => {
    const a = await candidate('pod-a');
    await waitForRuns(() => runs.length >= 1);
    const b = await candidate('pod-b');
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    const claimedBefore = Math.max(...scheduledTimes());
    await cluster.close(a); // graceful: releases, with the ledger
    await cluster.timeline.until(() => b.leader.isLeader());
    // b's clock runs 300 ms behind: its cron fires "the same second" again, 300 ms later.
    const skewed = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => Math.min(skewed(), claimedBefore + 300));
    const before = runs.length;
    await b.app.get(b.Job).tick();
    expect(runs.length).toBe(before);
    vi.restoreAllMocks();
    await waitForRuns(() => runs.some((run) => run.identity === 'pod-b'));
    expect(new Set(scheduledTimes()).size).toBe(runs.length);
    cluster.timeline.assertNoOverlap();
  });

  it('a tick whose claim cannot be written before its term ends does not run', async () => {
    const a = await candidate('pod-a');
    await waitForRuns(() => runs.length >= 1);
    const skipped = a.leader.jobCounters()[`${a.Job.name}.tick`]!.skipped;
    const before = runs.length;
    // Every write fails until the renew deadline has passed: the claims waiting for one are not made good.
    cluster.server.faults.outage = true;
    await cluster.logger.waitFor('log', 'stopped leading');
    const ranUntil = Math.max(...scheduledTimes());
    await expect.poll(() => a.leader.jobCounters()[`${a.Job.name}.tick`]!.skipped).toBeGreaterThan(skipped);
    const healedAt = Date.now();
    cluster.server.faults.outage = false;
    await waitForRuns(() => runs.length >= before + 2);
    // The fire times of the outage never run, once it healed ('skip' is the missed-runs policy).
    const during = scheduledTimes().filter((time) => time > ranUntil && time <= healedAt);
    expect(during).toEqual([]);
    expect(runs.slice(before).every((run) => !run.context.catchUp)).toBe(true);
    expect(new Set(scheduledTimes()).size).toBe(runs.length);
  });

  describe('after the leader is cut off mid-term', () => {
    async function failover(options: Parameters<typeof LeaderOnly>[0], work?: () => Promise<void>) {
      const a = await candidate('pod-a', options, {}, work);
      await waitForRuns(() => runs.length >= 1);
      const b = await candidate('pod-b', options);
      await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
      cluster.server.faults.partition('pod-a', true);
      await cluster.timeline.until(() => b.leader.isLeader());
      return { a, b };
    }

    it("missedRuns 'skip' (the default): the seconds of the takeover are dropped, said once, and nothing runs twice", async () => {
      await failover({});
      await waitForRuns(() => runs.some((run) => run.identity === 'pod-b'));
      expect(runs.every((run) => !run.context.catchUp)).toBe(true);
      await cluster.logger.waitFor('warn', "missedRuns is 'skip' (the default)");
      expect(new Set(scheduledTimes()).size).toBe(runs.length);
      cluster.server.faults.partition('pod-a', false);
    });

    it("missedRuns 'runOnce': one run, late, stands for every missed second", async () => {
      await failover({ missedRuns: 'runOnce' });
      await waitForRuns(() => runs.some((run) => run.identity === 'pod-b' && run.context.catchUp));
      const catchUp = runs.find((run) => run.context.catchUp)!;
      const lastOfA = Math.max(...runs.filter((run) => run.identity === 'pod-a').map((run) => run.context.scheduledAt!.getTime()));
      const covered = [...catchUp.context.missedFireTimes.map((t) => t.getTime()), catchUp.context.scheduledAt!.getTime()];
      expect(covered[0]).toBe(lastOfA + 1_000);
      for (let i = 1; i < covered.length; i++) expect(covered[i]! - covered[i - 1]!).toBe(1_000);
      expect(runs.filter((run) => run.context.catchUp)).toHaveLength(1);
      expect(new Set(scheduledTimes()).size).toBe(runs.length);
      cluster.server.faults.partition('pod-a', false);
    });

    it("missedRuns 'runEach': every missed second runs once, oldest first", async () => {
      await failover({ missedRuns: 'runEach' });
      await waitForRuns(() => runs.filter((run) => run.identity === 'pod-b' && !run.context.catchUp).length >= 1);
      const times = scheduledTimes();
      expect(new Set(times).size).toBe(times.length);
      const sorted = [...times].sort((x, y) => x - y);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBe(1_000);
      expect(runs.filter((run) => run.context.catchUp).length).toBeGreaterThanOrEqual(1);
      cluster.server.faults.partition('pod-a', false);
    });

    it.each([
      ['skip', 0],
      ['rerun', 1],
    ] as const)("a run interrupted by the cut (interruptedRun '%s') is rerun %i time(s) by the next leader", async (interruptedRun, reruns) => {
      // The first run never ends on pod-a: its completion is never written.
      let blocked = true;
      const { a } = await failover({ interruptedRun }, () => (blocked ? new Promise<void>(() => {}) : Promise.resolve()));
      blocked = false;
      const interrupted = runs[0]!.context.scheduledAt!.getTime();
      await cluster.logger.waitFor('warn', `was claimed in term 0, whose leader stopped before recording that it finished`);
      await waitForRuns(() => runs.some((run) => run.identity === 'pod-b'));
      const rerun = runs.filter((run) => run.identity === 'pod-b' && run.context.scheduledAt!.getTime() === interrupted);
      expect(rerun).toHaveLength(reruns);
      if (reruns > 0) expect(rerun[0]!.context.catchUp).toBe(true);
      cluster.server.faults.partition('pod-a', false);
      void a;
    });
  });

  it('skips a tick while the previous run still runs here (overlap: skip), and says so once', async () => {
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const a = await candidate('pod-a', {}, {}, () => held);
    await waitForRuns(() => runs.length >= 1);
    await expect.poll(() => a.leader.jobCounters()[`${a.Job.name}.tick`]!.skipped, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    expect(runs).toHaveLength(1);
    expect(cluster.logger.messages('warn', 'its previous run is still running on this pod')).toHaveLength(1);
    finish();
  });

  it('gives a fencing token that grows with every term, also when the Lease is deleted and re-created', async () => {
    const a = await candidate('pod-a');
    await waitForRuns(() => runs.length >= 1);
    const tokenOfA = BigInt(runs[0]!.context.fencingToken!);
    await cluster.close(a);
    cluster.server.deleteLease('default', 'ledger-lease');
    // A candidate that never saw the old Lease starts its count at 0 again: the term repeats,
    // the fencing token does not.
    const c = await candidate('pod-c');
    await waitForRuns(() => runs.some((run) => run.identity === 'pod-c'));
    const ofC = runs.find((run) => run.identity === 'pod-c')!;
    expect(ofC.context.term).toBe(0);
    expect(BigInt(ofC.context.fencingToken!)).toBeGreaterThan(tokenOfA);
    void c;
  });
});

describe('Options that need the Lease, on another backend', () => {
  const { start, standInNaming } = useSidecarApps();

  @Injectable()
  class Reports {
    readonly contexts: LeaderJobContext[] = [];

    @Cron('* * * * * *')
    @LeaderOnly({ missedRuns: 'runOnce', startingDeadlineMs: 30_000 })
    build() {
      const { term, fencingToken, scheduledAt, catchUp } = currentLeaderJob()!;
      this.contexts.push({ term, fencingToken, scheduledAt, catchUp } as LeaderJobContext);
    }

    @Cron('0 0 * * * *')
    @LeaderOnly({ claim: true })
    archive() {}
  }

  const backends: Array<{ backend: string; options: () => Promise<{ leaderElection: LeaderElectionModuleOptions; standIn?: SidecarStandIn }>; says: string }> = [
    {
      backend: 'standalone',
      options: async () => ({ leaderElection: { backend: 'standalone', identity: 'pod-a' } }),
      says: "Election 'default' uses backend 'standalone', which has no Lease",
    },
    {
      backend: 'sidecar',
      options: async () => {
        const standIn = await standInNaming('pod-a');
        return { leaderElection: sidecarOptions(standIn), standIn };
      },
      says: "Election 'default' uses backend 'sidecar', which has no Lease",
    },
    {
      backend: "'auto' outside Kubernetes",
      options: async () => {
        vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
        return { leaderElection: { identity: 'pod-a', lease: { name: 'reports-leader' } } };
      },
      says: "Election 'default' runs on backend 'standalone' (backend 'auto' chose it because KUBERNETES_SERVICE_HOST is not set (not running inside Kubernetes)), which has no Lease",
    },
  ];

  it.each(backends)('start on $backend, run every tick unclaimed, and say once which options are not in force', async ({ options, says }) => {
    useFakeTime(new Date('2026-01-01T00:00:00.000Z'));
    const { leaderElection, standIn } = await options();
    const { app, logger, leader } = await start({ leaderElection, providers: [Reports] }, standIn);
    await leader.waitForLeadership();
    const reports = app.get(Reports);

    // A sidecar's leadership lasts from poll to poll: let each poll answer as time passes.
    for (let second = 0; second < 3; second++) await (standIn ? nextPoll(standIn) : vi.advanceTimersByTimeAsync(1_000));

    expect(reports.contexts.length).toBeGreaterThanOrEqual(3);
    expect(reports.contexts.every((context) => context.fencingToken === null && context.term === null && !context.catchUp)).toBe(true);
    expect(reports.contexts.map((context) => context.scheduledAt!.getTime() % 1_000)).toEqual(reports.contexts.map(() => 0));
    const warnings = logger.messages('warn', 'not in force');
    expect(warnings).toEqual([expect.stringContaining(says)]);
    expect(warnings[0]).toContain("these @LeaderOnly() options are not in force here: Reports.build (missedRuns: 'runOnce', startingDeadlineMs: 30000); Reports.archive (claim: true).");
    expect(warnings[0]).toContain('The jobs run on each tick that fires while this process leads: no tick is claimed, and none missed is made up.');
  });

  it('names the fix for an explicit backend, and says nothing needs changing when auto chose it on a laptop', async () => {
    const { logger } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' }, providers: [Reports] });
    expect(logger.messages('warn', 'not in force')[0]).toMatch(/Use backend 'lease' \(or 'auto', which holds a Lease inside Kubernetes\) for them to apply, or remove them\.$/);

    vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
    const auto = await start({ leaderElection: { identity: 'pod-a', lease: { name: 'reports-leader' } }, providers: [Reports] });
    expect(auto.logger.messages('warn', 'not in force').at(-1)).toMatch(/They apply inside Kubernetes, where 'auto' holds the Lease; nothing to change for a single process on a laptop or in CI\.$/);
  });
});
