import { Injectable, type INestApplication } from '@nestjs/common';
import { Timeout } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService, LeaderOnly } from '../lib/index.js';
import { LeaderElectionTestingModule, TestLeadership } from '../lib/testing/index.js';
import { CacheService } from './readme/cache.service.js';
import { CacheWarmer } from './readme/cache-warmer.js';
import { closeAll, compileApp, useFakeTime } from './support/nest-app.js';

/** Start-up work on the leader: what a leader-only @Timeout does, and what to use instead. */

const apps: INestApplication[] = [];

afterEach(async () => {
  await closeAll(apps.splice(0));
  vi.useRealTimers();
});

@Injectable()
class WarmUpOnTimeout {
  runs = 0;

  @Timeout('warm-up', 1_000)
  @LeaderOnly()
  warmUp(): void {
    this.runs++;
  }
}

async function startApp(providers: Array<typeof WarmUpOnTimeout | typeof CacheWarmer | typeof CacheService>, leading: boolean) {
  const { app } = await compileApp({ leaderElectionModule: LeaderElectionTestingModule.forRoot({ leading }), providers });
  apps.push(app);
  await app.init();
  return { app, leadership: app.get(TestLeadership), service: app.get(ClusterLeaderService) };
}

describe('a leader-only @Timeout', () => {
  it('is skipped, for good, when no pod leads here at its moment', async () => {
    useFakeTime();
    const { app, leadership, service } = await startApp([WarmUpOnTimeout], false);

    await vi.advanceTimersByTimeAsync(1_000);
    leadership.lead();
    await vi.advanceTimersByTimeAsync(60_000);

    expect(app.get(WarmUpOnTimeout).runs).toBe(0);
    expect(service.jobCounters()['WarmUpOnTimeout.warmUp']).toEqual({ runs: 0, skipped: 1, failed: 0 });
  });

  it('runs on a pod that leads at its moment', async () => {
    useFakeTime();
    const { app } = await startApp([WarmUpOnTimeout], true);

    await vi.advanceTimersByTimeAsync(1_000);

    expect(app.get(WarmUpOnTimeout).runs).toBe(1);
  });
});

describe('the CacheWarmer of docs/configuration.md: start-up work once per term of leadership', () => {
  it('runs when this pod starts leading, again in each new term, never while following', async () => {
    const { app, leadership } = await startApp([CacheWarmer, CacheService], false);
    const cache = app.get(CacheService);
    expect(cache.rebuilds).toEqual([]);

    leadership.lead(1, { fencingToken: '1042' });
    leadership.lead(1); // the same term: nothing new
    leadership.follow('pod-b');
    leadership.lead(2);

    expect(cache.rebuilds.map(({ fencingToken }) => fencingToken)).toEqual(['1042', '2']);
    expect(cache.rebuilds[0]!.signal.aborted).toBe(true);
    expect(cache.rebuilds[1]!.signal.aborted).toBe(false);
  });

  it('runs at once on a pod that already leads when the app starts', async () => {
    const { app } = await startApp([CacheWarmer, CacheService], true);

    expect(app.get(CacheService).rebuilds.map(({ fencingToken }) => fencingToken)).toEqual(['0']);
  });
});
