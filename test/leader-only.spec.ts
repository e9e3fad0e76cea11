import { Injectable, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, Interval, ScheduleModule, SchedulerRegistry, Timeout } from '@nestjs/schedule';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { describe, expect, it, vi } from 'vitest';
import {
  currentLeaderJob,
  LeaderElectionModule,
  LeaderOnly,
  LeaderOnlySetupError,
  type LeaderElectionModuleOptions,
  type LeaderJobContext,
} from '../lib/index.js';
import { compileApp, deferred, RecordingLogger, useFakeTime } from './support/nest-app.js';
import { HANDOVER_GUARD_MS, nextPoll, passHandoverGuard, POLL_INTERVAL_MS, sidecarOptions, useSidecarApps } from './support/sidecar-apps.js';

const { apps, start, standInNaming } = useSidecarApps();

@Injectable()
class LedgerJobs {
  readonly ledger = 'main-ledger';

  @LeaderOnly()
  settle(amount: number, currency: string): string {
    return `${this.ledger}:${amount} ${currency}`;
  }

  @LeaderOnly()
  async settleLater(amount: number): Promise<string> {
    await Promise.resolve();
    return `${this.ledger}:${amount * 2}`;
  }
}

const leaderBackends: Array<{ backend: string; options: () => Promise<LeaderElectionModuleOptions> }> = [
  { backend: 'standalone', options: async () => ({ backend: 'standalone', identity: 'pod-a' }) },
  { backend: 'sidecar', options: async () => sidecarOptions(await standInNaming('pod-a')) },
];

describe.each(leaderBackends)('@LeaderOnly on the leader ($backend backend)', ({ options }) => {
  it('runs a sync method with its `this` and arguments and passes its return value through', async () => {
    const { app, leader } = await start({ leaderElection: await options(), providers: [LedgerJobs] });
    await leader.waitForLeadership();

    expect(app.get(LedgerJobs).settle(42, 'EUR')).toBe('main-ledger:42 EUR');
    expect(leader.jobCounters()['LedgerJobs.settle']).toEqual({ runs: 1, skipped: 0, failed: 0 });
  });

  it('runs an async method and resolves with its value', async () => {
    const { app, leader } = await start({ leaderElection: await options(), providers: [LedgerJobs] });
    await leader.waitForLeadership();

    await expect(app.get(LedgerJobs).settleLater(21)).resolves.toBe('main-ledger:42');
    expect(leader.jobCounters()['LedgerJobs.settleLater']).toEqual({ runs: 1, skipped: 0, failed: 0 });
  });
});

@Injectable()
class TickingJob {
  runs = 0;

  @Interval('ticking', 1_000)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

describe('@LeaderOnly on a follower', () => {
  it('skips every tick and counts it, without calling the method', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-b');
    const firstPoll = standIn.nextPollsSettled();
    const { app, leader } = await start({ leaderElection: sidecarOptions(standIn), providers: [TickingJob] });
    await firstPoll;
    expect(leader.leader()).toBe('pod-b');

    for (let second = 0; second < 3; second++) await nextPoll(standIn);

    expect(app.get(TickingJob).runs).toBe(0);
    expect(leader.jobCounters()['TickingJob.tick']).toEqual({ runs: 0, skipped: 3, failed: 0 });
    expect(app.get(TickingJob).tick()).toBeUndefined();
  });
});

// Every scheduler decorator, placed above and below @LeaderOnly: both orders must keep the job.
@Injectable()
class CronAbove {
  runs = 0;
  @Cron('*/5 * * * * *', { name: 'cron-above' })
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

@Injectable()
class CronBelow {
  runs = 0;
  @LeaderOnly()
  @Cron('*/5 * * * * *', { name: 'cron-below' })
  tick(): void {
    this.runs++;
  }
}

@Injectable()
class IntervalAbove {
  runs = 0;
  @Interval('interval-above', 5_000)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

@Injectable()
class IntervalBelow {
  runs = 0;
  @LeaderOnly()
  @Interval('interval-below', 5_000)
  tick(): void {
    this.runs++;
  }
}

@Injectable()
class TimeoutAbove {
  runs = 0;
  @Timeout('timeout-above', 5_000)
  @LeaderOnly()
  tick(): void {
    this.runs++;
  }
}

@Injectable()
class TimeoutBelow {
  runs = 0;
  @LeaderOnly()
  @Timeout('timeout-below', 5_000)
  tick(): void {
    this.runs++;
  }
}

type CountingJob = { runs: number };

const registered = {
  cron: (registry: SchedulerRegistry) => [...registry.getCronJobs().keys()],
  interval: (registry: SchedulerRegistry) => registry.getIntervals(),
  timeout: (registry: SchedulerRegistry) => registry.getTimeouts(),
};

describe('@LeaderOnly stacked with the scheduler decorators', () => {
  it.each([
    { kind: 'cron', order: 'above', job: CronAbove, name: 'cron-above', runsIn15s: 3 },
    { kind: 'cron', order: 'below', job: CronBelow, name: 'cron-below', runsIn15s: 3 },
    { kind: 'interval', order: 'above', job: IntervalAbove, name: 'interval-above', runsIn15s: 3 },
    { kind: 'interval', order: 'below', job: IntervalBelow, name: 'interval-below', runsIn15s: 3 },
    { kind: 'timeout', order: 'above', job: TimeoutAbove, name: 'timeout-above', runsIn15s: 1 },
    { kind: 'timeout', order: 'below', job: TimeoutBelow, name: 'timeout-below', runsIn15s: 1 },
  ] as const)(
    '@$kind $order @LeaderOnly stays registered and runs on its ticks',
    async ({ kind, job, name, runsIn15s }) => {
      useFakeTime();
      const { app, leader } = await start({ providers: [job as Type<CountingJob>] });

      expect(registered[kind](app.get(SchedulerRegistry))).toContain(name);
      await vi.advanceTimersByTimeAsync(15_000);

      expect(app.get<Type<CountingJob>, CountingJob>(job).runs).toBe(runsIn15s);
      expect(leader.jobCounters()[`${job.name}.tick`]).toEqual({ runs: runsIn15s, skipped: 0, failed: 0 });
    },
  );
});

@Injectable()
class FailingJobs {
  healthyRuns = 0;

  @Interval('explodes-sync', 1_000)
  @LeaderOnly()
  explodeNow(): void {
    throw new Error('ledger locked');
  }

  @Interval('explodes-async', 1_000)
  @LeaderOnly()
  async explodeLater(): Promise<void> {
    await Promise.resolve();
    throw new Error('ledger locked');
  }

  @Interval('healthy', 1_000)
  @LeaderOnly()
  healthy(): void {
    this.healthyRuns++;
  }
}

describe('@LeaderOnly when the job throws', () => {
  it.each([
    { how: 'synchronously', method: 'explodeNow' },
    { how: 'asynchronously', method: 'explodeLater' },
  ])('logs a job that fails $how, counts it and keeps the app running', async ({ method }) => {
    useFakeTime();
    const { app, leader, logger } = await start({ providers: [FailingJobs] });

    await vi.advanceTimersByTimeAsync(3_000);

    const failures = logger.entries.filter(
      (entry) => entry.level === 'error' && entry.message === `Leader-only job FailingJobs.${method} failed: ledger locked`,
    );
    expect(failures).toHaveLength(3);
    expect(failures.every((entry) => entry.context === 'LeaderOnly')).toBe(true);
    expect(leader.jobCounters()[`FailingJobs.${method}`]).toEqual({ runs: 3, skipped: 0, failed: 3 });
    // The gate handles the failure: the scheduler never sees it.
    expect(logger.entries.filter((entry) => entry.context === 'Scheduler')).toEqual([]);
    expect(app.get(FailingJobs).healthyRuns).toBe(3);
    expect(leader.isLeader()).toBe(true);
  });

  it('returns undefined to a direct caller instead of throwing', async () => {
    const { app } = await start({ providers: [FailingJobs] });

    expect(app.get(FailingJobs).explodeNow()).toBeUndefined();
    await expect(app.get(FailingJobs).explodeLater()).resolves.toBeUndefined();
  });
});

@Injectable()
class OrphanJob {
  @Cron('*/5 * * * * *')
  @LeaderOnly()
  tick(): void {}
}

@Injectable()
class MisnamedElectionJob {
  @Interval(1_000)
  @LeaderOnly({ election: 'nope' })
  tick(): void {}
}

@Injectable()
class ScheduledJobs {
  @Timeout(1_000)
  @LeaderOnly()
  warmUp(): void {}

  @LeaderOnly()
  @Interval(1_000)
  poll(): void {}
}

describe('@LeaderOnly set up wrongly', () => {
  it('refuses to start scheduled jobs without ScheduleModule, naming them and the fix', async () => {
    const compiling = compileApp({ scheduleModule: false, providers: [ScheduledJobs, TickingJob] });

    await expect(compiling).rejects.toThrow(LeaderOnlySetupError);
    await expect(compiling).rejects.toThrow(
      'ScheduledJobs.warmUp, ScheduledJobs.poll, TickingJob.tick are scheduled with @Cron, @Interval or @Timeout and decorated with @LeaderOnly(), but ScheduleModule is not imported, so they would never run. Import ScheduleModule.forRoot() from @nestjs/schedule in the app module.',
    );
  });

  it('starts without ScheduleModule when no @LeaderOnly() method is scheduled: the app calls them itself', async () => {
    const { app } = await compileApp({ scheduleModule: false, providers: [LedgerJobs] });
    apps.push(app);
    await app.init();

    expect(app.get(LedgerJobs).settle(1, 'EUR')).toBe('main-ledger:1 EUR');
  });

  it('refuses to start without LeaderElectionModule, naming the class and the fix', async () => {
    useFakeTime();
    const { app } = await compileApp({ leaderElectionModule: null, providers: [OrphanJob] });
    apps.push(app);

    const init = app.init();

    await expect(init).rejects.toThrow(LeaderOnlySetupError);
    await expect(init).rejects.toThrow(/^OrphanJob is decorated with @LeaderOnly\(\), but LeaderElectionModule is not imported/);
    await expect(init).rejects.toThrow('Import LeaderElectionModule.forRoot(...) (or forRootAsync) in the app module.');
  });

  it('refuses a call without its instance, saying so rather than blaming the module', async () => {
    const { app } = await start({ leaderElection: { backend: 'standalone', identity: 'pod-a' }, providers: [LedgerJobs] });
    const detached = app.get(LedgerJobs).settle;

    expect(() => detached(1, 'EUR')).toThrow(LeaderOnlySetupError);
    expect(() => detached(1, 'EUR')).toThrow(/called without its instance/);
  });

  it('refuses to start when a job names an election that is not configured', async () => {
    const compiling = compileApp({
      leaderElection: { backend: 'standalone', identity: 'pod-a', elections: { reports: { backend: 'standalone' } } },
      providers: [MisnamedElectionJob],
    });

    await expect(compiling).rejects.toThrow(LeaderOnlySetupError);
    await expect(compiling).rejects.toThrow(
      "MisnamedElectionJob.tick is decorated with @LeaderOnly({ election: 'nope' }), but no election of that name is configured (configured: 'default', 'reports').",
    );
  });

  it('stops NestFactory.create() as a bad module option does: Nest logs the message as a startup error, rather than app.listen() throwing a raw stack', async () => {
    @Module({ imports: [ScheduleModule.forRoot(), LeaderElectionModule.forRoot({ backend: 'standalone', identity: 'pod-a' })], providers: [MisnamedElectionJob] })
    class AppModule {}
    const logger = new RecordingLogger();

    const creating = NestFactory.createApplicationContext(AppModule, { logger, abortOnError: false });

    await expect(creating).rejects.toThrow(LeaderOnlySetupError);
    // Nest's ExceptionHandler, which prints a LeaderElectionConfigError the same way (and exits 1
    // when abortOnError is left on, as in an app's main.ts).
    expect(logger.entries.filter((entry) => entry.level === 'error')).toEqual([
      { level: 'error', context: 'ExceptionHandler', message: expect.stringMatching(/^MisnamedElectionJob\.tick is decorated with @LeaderOnly\(\{ election: 'nope' \}\)/) },
    ]);
  });

  it('checks the jobs of a factory provider when the app starts, with the same rules', async () => {
    const { app } = await compileApp({ providers: [{ provide: 'MISNAMED', useFactory: () => new MisnamedElectionJob() }] });
    apps.push(app);

    await expect(app.init()).rejects.toThrow("MisnamedElectionJob.tick is decorated with @LeaderOnly({ election: 'nope' })");
    // A failed start leaves nothing running that close() would trip over.
    await expect(app.close()).resolves.toBeUndefined();
  });
});

@Injectable()
class TwoElectionJobs {
  reportRuns = 0;
  housekeepingRuns = 0;

  @Interval('reports', 1_000)
  @LeaderOnly({ election: 'reports' })
  report(): void {
    this.reportRuns++;
  }

  @Interval('housekeeping', 1_000)
  @LeaderOnly()
  housekeeping(): void {
    this.housekeepingRuns++;
  }
}

describe('@LeaderOnly with several elections', () => {
  it('runs a job only while the election it names is led by this pod', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-b');
    const firstPoll = standIn.nextPollsSettled();
    const { app, leader } = await start({
      leaderElection: {
        backend: 'standalone',
        identity: 'pod-a',
        elections: { reports: { backend: 'sidecar', sidecar: { url: standIn.url, pollIntervalMs: POLL_INTERVAL_MS } } },
      },
      providers: [TwoElectionJobs],
    });
    await firstPoll;
    const jobs = app.get(TwoElectionJobs);

    await nextPoll(standIn);
    expect({ reports: jobs.reportRuns, housekeeping: jobs.housekeepingRuns }).toEqual({ reports: 0, housekeeping: 1 });

    standIn.leader = 'pod-a';
    await nextPoll(standIn);
    expect(leader.leader('reports')).toBe('pod-a');
    expect(leader.isLeader('reports')).toBe(false);
    // The ticks during the handover guard skip, and so does the one that shares its instant with
    // the poll that ends the guard.
    await passHandoverGuard(standIn);
    expect(leader.isLeader('reports')).toBe(true);
    expect(leader.jobCounters()['TwoElectionJobs.report']).toEqual({ runs: 0, skipped: 4, failed: 0 });
    await vi.advanceTimersByTimeAsync(1_000);

    expect(leader.jobCounters()).toEqual({
      'TwoElectionJobs.report': { runs: 1, skipped: 4, failed: 0 },
      'TwoElectionJobs.housekeeping': { runs: 5, skipped: 0, failed: 0 },
    });
  });
});

@Injectable()
class LongExport {
  readonly started = deferred<LeaderJobContext | undefined>();
  readonly release = deferred();
  readonly finished = deferred<{ context: LeaderJobContext | undefined; abortedAtEnd: boolean | undefined }>();

  // Due 100 ms after a sidecar pod named at startup has passed the handover guard and leads.
  @Timeout('long-export', HANDOVER_GUARD_MS + 100)
  @LeaderOnly()
  async export(): Promise<void> {
    this.started.resolve(currentLeaderJob());
    await this.release.promise;
    const context = currentLeaderJob();
    this.finished.resolve({ context, abortedAtEnd: context?.signal.aborted });
  }
}

describe('currentLeaderJob()', () => {
  it('gives a running job its election, term and a signal that aborts when leadership is lost', async () => {
    useFakeTime();
    const standIn = await standInNaming('pod-a');
    const { app, leader } = await start({ leaderElection: sidecarOptions(standIn), providers: [LongExport] }, standIn);
    const job = app.get(LongExport);

    await vi.advanceTimersByTimeAsync(100);
    const context = await job.started.promise;
    expect(context).toMatchObject({ election: 'default', term: null, fencingToken: null, signal: expect.any(AbortSignal), catchUp: false, missedFireTimes: [] });
    // The sidecar backend has no ledger: the tick is not claimed; its fire time is when it fired.
    expect(context?.scheduledAt).toBeInstanceOf(Date);
    expect(context?.signal.aborted).toBe(false);

    standIn.leader = 'pod-b';
    const lost = firstValueFrom(leader.changes().pipe(filter((state) => !state.isLeader)));
    await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS - 100);
    await lost;
    job.release.resolve();
    const { context: contextAtEnd, abortedAtEnd } = await job.finished.promise;

    expect(contextAtEnd).toBe(context);
    expect(abortedAtEnd).toBe(true);
    expect(String(context?.signal.reason)).toContain("Leadership of election 'default' ended: the sidecar names another leader");
  });

  it('is undefined outside a leader-only job', async () => {
    const { leader } = await start({});
    await leader.waitForLeadership();

    expect(currentLeaderJob()).toBeUndefined();
    expect(leader.currentJob()).toBeUndefined();
  });
});
