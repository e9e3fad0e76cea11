import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService, currentLeaderJob, LeaderOnly, type LeaseOptions } from '../lib/index.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { startApp, useFakeTime, type RecordingLogger } from './support/nest-app.js';
import { cronJob, RunRecorder, untilAborted } from './support/recorded-jobs.js';
import type { INestApplication } from '@nestjs/common';

/**
 * Overlap beyond skip/allow (issue 14): `bufferOne` keeps one tick for when the run ends,
 * `cancelOther` aborts the run in progress through its own signal, and `pauseAfterFailures` pauses
 * a failing job on every pod. Real Nest apps with the real ScheduleModule; fake time on the
 * standalone backend, the test apiserver where a pause needs the Lease.
 */

const recorder = new RunRecorder();
let app: INestApplication | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
  recorder.clear();
  vi.useRealTimers();
});

async function standalone(providers: unknown[]): Promise<{ app: INestApplication; logger: RecordingLogger }> {
  const started = await startApp({ leaderElection: { backend: 'standalone', identity: 'solo' }, providers: providers as never[] });
  app = started.app;
  return started;
}

describe("overlap: 'bufferOne'", () => {
  it('keeps one tick while the run goes on and runs it, for its own fire time, as soon as the run ends; later ticks are skipped', async () => {
    useFakeTime(new Date('2026-01-01T00:00:00.000Z'));
    // The first run takes 2.5 s; the others are instant.
    const Job = cronJob({ recorder, identity: 'solo', options: { overlap: 'bufferOne' }, work: () => (recorder.runs.length === 1 ? new Promise((resolve) => setTimeout(resolve, 2_500)) : undefined) });
    await standalone([Job]);
    await vi.advanceTimersByTimeAsync(1_000); // 00:00:01 runs, until 00:00:03.5
    await vi.advanceTimersByTimeAsync(2_000); // 00:00:02 kept, 00:00:03 skipped
    expect(recorder.scheduledTimes()).toEqual([Date.parse('2026-01-01T00:00:01Z')]);
    await vi.advanceTimersByTimeAsync(600); // 00:00:03.5: the first ends, the kept one starts
    expect(recorder.scheduledTimes()).toEqual([Date.parse('2026-01-01T00:00:01Z'), Date.parse('2026-01-01T00:00:02Z')]);
    expect(app!.get(ClusterLeaderService).jobCounters()['RecordedCronJob.tick']).toMatchObject({ runs: 2, skipped: 1 });
  });
});

describe("overlap: 'cancelOther'", () => {
  @Injectable()
  class Replaced {
    signals: AbortSignal[] = [];
    other: AbortSignal | undefined;

    @Cron('* * * * * *')
    @LeaderOnly({ overlap: 'cancelOther' })
    async long(): Promise<void> {
      const { signal } = currentLeaderJob()!;
      this.signals.push(signal);
      await untilAborted(signal);
    }

    @Cron('0 0 * * * *')
    @LeaderOnly()
    other2(): void {}
  }

  it("aborts the run in progress through its own signal, the term's signal untouched, then runs the new tick", async () => {
    useFakeTime(new Date('2026-01-01T00:00:00.000Z'));
    await standalone([Replaced]);
    const jobs = app!.get(Replaced);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(jobs.signals).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000); // the next tick replaces it
    expect(jobs.signals[0]!.aborted).toBe(true);
    expect(String((jobs.signals[0]!.reason as Error).message)).toContain("overlap: 'cancelOther'");
    expect(jobs.signals).toHaveLength(2);
    expect(jobs.signals[1]!.aborted).toBe(false);
    expect(app!.get(ClusterLeaderService).isLeader()).toBe(true);
  });
});

describe('pauseAfterFailures', () => {
  const cluster = new LeaseCandidates('failures-lease');
  afterEach(async () => {
    await cluster.tearDown();
  });

  it('pauses a job that failed N times in a row on every pod, saying why; resume runs it again', async () => {
    await cluster.setUp();
    const fast: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
    let failing = true;
    const Job = cronJob({ recorder, identity: 'pod-a', options: { pauseAfterFailures: 2 }, work: () => { if (failing) throw new Error('database down'); } }, '* * * * * *', 'report');
    const a = await cluster.startTracked({ identity: 'pod-a', lease: fast, providers: [Job] });
    await cluster.logger.waitFor('warn', 'failed 2 times in a row and paused itself');
    await expect.poll(() => a.leader.jobs()[0]!.paused?.note).toBe('failed 2 times in a row; the last error: database down');
    expect(a.leader.jobs()[0]!.paused!.by).toBe('pod-a (pauseAfterFailures)');
    const runs = recorder.runs.length;
    failing = false;
    await a.leader.resume('report');
    await once(recorder, 'run', { signal: AbortSignal.timeout(5_000) });
    expect(recorder.runs.length).toBeGreaterThan(runs);
  });
});
