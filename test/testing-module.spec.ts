import { Injectable, type INestApplication, type Provider } from '@nestjs/common';
import { Cron, Interval } from '@nestjs/schedule';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ClusterLeaderService,
  currentLeaderJob,
  LeaderOnly,
  LeaderOnlySetupError,
  UnknownElectionError,
  type LeaderJobContext,
  type LeadershipState,
  type LeadershipTerm,
} from 'nestjs-cluster-leader';
import { LeaderElectionTestingModule, TestLeadership, type TestLeadershipOptions } from 'nestjs-cluster-leader/testing';
import { closeAll, compileApp, deferred, useFakeTime } from './support/nest-app.js';

const apps: INestApplication[] = [];

afterEach(async () => {
  await closeAll(apps.splice(0));
  vi.useRealTimers();
});

@Injectable()
class HourlyJobs {
  runs = 0;
  contexts: Array<LeaderJobContext | undefined> = [];

  @Interval('hourly', 1_000)
  @LeaderOnly()
  tick(): void {
    this.runs++;
    this.contexts.push(currentLeaderJob());
  }

  @LeaderOnly({ election: 'reports' })
  report(): string {
    return `report in term ${currentLeaderJob()?.term}`;
  }
}

/** An app on LeaderElectionTestingModule with the real ScheduleModule, compiled but not started. */
async function compileTestApp(options: TestLeadershipOptions = {}, providers: Provider[] = [HourlyJobs]) {
  const { app, logger } = await compileApp({
    leaderElectionModule: LeaderElectionTestingModule.forRoot({ elections: { reports: {} }, ...options }),
    providers,
  });
  apps.push(app);
  return { app, logger, leadership: app.get(TestLeadership), service: app.get(ClusterLeaderService) };
}

async function startTestApp(options: TestLeadershipOptions = {}, providers: Provider[] = [HourlyJobs]) {
  const compiled = await compileTestApp(options, providers);
  await compiled.app.init();
  return compiled;
}

describe('LeaderElectionTestingModule', () => {
  it('leads once the app starts, in term 0, as test-pod, and not before (as a real backend)', async () => {
    const { app, service } = await compileTestApp();

    expect(service.isLeader()).toBe(false);
    await app.init();

    expect(service.state()).toEqual({ election: 'default', identity: 'test-pod', isLeader: true, leader: 'test-pod', term: 0 });
    expect(service.state('reports')).toMatchObject({ isLeader: true, term: 0 });
  });

  it('starts each election as its options say', async () => {
    const { service } = await startTestApp({ identity: 'pod-a', term: 4, elections: { reports: { leading: false } } });

    expect(service.state()).toMatchObject({ identity: 'pod-a', isLeader: true, leader: 'pod-a', term: 4 });
    expect(service.state('reports')).toMatchObject({ isLeader: false, leader: null, term: 4 });
  });

  it('runs scheduled jobs on their ticks while leading, and skips them while following', async () => {
    useFakeTime();
    const { app, leadership, service } = await startTestApp();
    const jobs = app.get(HourlyJobs);

    await vi.advanceTimersByTimeAsync(2_000);
    leadership.follow('pod-b');
    await vi.advanceTimersByTimeAsync(3_000);
    leadership.lead();
    await vi.advanceTimersByTimeAsync(1_000);

    expect(jobs.runs).toBe(3);
    expect(service.jobCounters()['HourlyJobs.tick']).toEqual({ runs: 3, skipped: 3, failed: 0 });
    expect(jobs.contexts.map((context) => context?.term)).toEqual([0, 0, 1]);
  });

  it('drives the real state: changes(), callbacks, log lines and the term\'s AbortSignal', async () => {
    const started: LeadershipTerm[] = [];
    const stopped: LeadershipState[] = [];
    const newLeaders: string[] = [];
    const { leadership, service, logger } = await startTestApp({
      onStartedLeading: (term) => void started.push(term),
      onStoppedLeading: (state) => void stopped.push(state),
      onNewLeader: (identity) => void newLeaders.push(identity),
    });
    const seen: Array<Pick<LeadershipState, 'isLeader' | 'leader' | 'term'>> = [];
    const subscription = service.changes().subscribe(({ isLeader, leader, term }) => seen.push({ isLeader, leader, term }));
    const firstSignal = started[0]!.signal;

    expect(leadership.changeTerm(5)).toMatchObject({ isLeader: true, term: 5 });
    expect(firstSignal.aborted).toBe(true);
    expect(String(firstSignal.reason)).toContain("Leadership of election 'default' ended: a new term began");
    leadership.follow('pod-b');
    expect(started[1]!.signal.aborted).toBe(true);
    leadership.loseLeadership();
    expect(leadership.lead()).toMatchObject({ isLeader: true, leader: 'test-pod', term: 6 });
    subscription.unsubscribe();

    expect(seen).toEqual([
      { isLeader: true, leader: 'test-pod', term: 0 },
      { isLeader: true, leader: 'test-pod', term: 5 },
      { isLeader: false, leader: 'pod-b', term: 5 },
      { isLeader: false, leader: null, term: 5 },
      { isLeader: true, leader: 'test-pod', term: 6 },
    ]);
    expect(started.map(({ term }) => term)).toEqual([0, 5, 6]);
    expect(stopped.map(({ term }) => term)).toEqual([5, 5]);
    expect(newLeaders).toEqual(['test-pod', 'pod-b', 'test-pod']);
    expect(logger.messages('log', 'stopped leading')).toEqual([
      "Election 'default': this pod (test-pod) stopped leading (term 0): a new term began.",
      "Election 'default': this pod (test-pod) stopped leading (term 5): another pod leads.",
    ]);
    expect(logger.messages('log', 'no leader is known')).toEqual(["Election 'default': no leader is known."]);
  });

  it('applies what the test decides before the app starts when it starts', async () => {
    const { app, leadership, service } = await compileTestApp();

    leadership.follow('pod-b', 9);
    expect(service.isLeader()).toBe(false);
    await app.init();

    expect(service.state()).toMatchObject({ isLeader: false, leader: 'pod-b', term: 9 });
  });

  it('drives each election on its own through election(name)', async () => {
    const { app, leadership, service } = await startTestApp({ elections: { reports: { leading: false } } });
    const jobs = app.get(HourlyJobs);

    expect(jobs.report()).toBeUndefined();
    leadership.election('reports').lead(2);

    expect(jobs.report()).toBe('report in term 2');
    expect(service.isLeader()).toBe(true);
    expect(() => leadership.election('nope')).toThrow(UnknownElectionError);
  });

  it('refuses follow() naming this pod itself', async () => {
    const { leadership } = await startTestApp();

    expect(() => leadership.follow('test-pod')).toThrow("follow('test-pod') names this pod itself; call lead() to make it lead.");
  });

  it('stops leading on app.close() after running jobs drain, and ignores calls from then on', async () => {
    @Injectable()
    class SlowJob {
      readonly release = deferred();
      abortedWhileRunning: boolean | undefined;

      @LeaderOnly()
      async run(): Promise<void> {
        const { signal } = currentLeaderJob()!;
        await this.release.promise;
        this.abortedWhileRunning = signal.aborted;
      }
    }
    const { app, leadership, service } = await startTestApp({}, [SlowJob]);
    const job = app.get(SlowJob);
    const running = job.run();

    const closing = app.close();
    await vi.waitFor(() => expect(service.isLeader()).toBe(false));
    job.release.resolve();
    await running;
    await closing;
    apps.splice(0);
    leadership.lead(3);

    expect(job.abortedWhileRunning).toBe(true);
    expect(service.state()).toMatchObject({ isLeader: false, term: 0 });
  });
});

@Injectable()
class UnitJobs {
  @LeaderOnly()
  run(): number | null | undefined {
    return currentLeaderJob()?.term;
  }

  @LeaderOnly({ election: 'reports' })
  report(): string {
    return 'reported';
  }
}

describe('TestLeadership.attach (a unit test without a Nest app)', () => {
  it('lets @LeaderOnly() methods run through the real gate, and changes leadership', () => {
    const jobs = new UnitJobs();
    const leadership = TestLeadership.attach(jobs, { term: 3 });

    expect(jobs.run()).toBe(3);
    leadership.follow();
    expect(jobs.run()).toBeUndefined();
    expect(leadership.state()).toEqual({ election: 'default', identity: 'test-pod', isLeader: false, leader: 'other-pod', term: 3 });
    leadership.lead();
    expect(jobs.run()).toBe(4);
    expect(leadership.jobCounters()['UnitJobs.run']).toEqual({ runs: 2, skipped: 1, failed: 0 });
  });

  it('creates the elections the jobs name, starting as the top level says', () => {
    const jobs = new UnitJobs();
    const leadership = TestLeadership.attach(jobs, { leading: false });

    expect(jobs.report()).toBeUndefined();
    leadership.election('reports').lead();
    expect(jobs.report()).toBe('reported');
    expect(jobs.run()).toBeUndefined();
  });

  it('keeps the startup check: without it, a direct call says the module is missing', () => {
    expect(() => new UnitJobs().run()).toThrow(LeaderOnlySetupError);
    expect(() => new UnitJobs().run()).toThrow('UnitJobs.run is decorated with @LeaderOnly(), but LeaderElectionModule is not imported');
  });

  it('refuses an instance without @LeaderOnly() methods, and one that already has a leadership', async () => {
    class Plain {
      run(): void {}
    }
    expect(() => TestLeadership.attach(new Plain())).toThrow('Plain has no @LeaderOnly() method');

    const jobs = new UnitJobs();
    TestLeadership.attach(jobs);
    expect(() => TestLeadership.attach(jobs)).toThrow(LeaderOnlySetupError);
    const { app } = await startTestApp({}, [HourlyJobs]);
    expect(() => TestLeadership.attach(app.get(HourlyJobs))).toThrow('already has a leadership attached');
  });
});

@Injectable()
class FencedJobs {
  readonly seen: Array<Pick<LeaderJobContext, 'term' | 'fencingToken' | 'scheduledAt'>> = [];

  @Cron('0 0 * * * *')
  @LeaderOnly({ missedRuns: 'runOnce' })
  hourly(): void {
    const { term, fencingToken, scheduledAt } = currentLeaderJob()!;
    this.seen.push({ term, fencingToken, scheduledAt });
  }

  @LeaderOnly({ election: 'reports' })
  report(): void {
    const { term, fencingToken, scheduledAt } = currentLeaderJob()!;
    this.seen.push({ term, fencingToken, scheduledAt });
  }
}

const TEN = new Date('2026-05-01T10:00:00.000Z');
const ELEVEN = new Date('2026-05-01T11:00:00.000Z');

describe('fencing tokens and fire times in tests', () => {
  it('gives a fencing token that grows with each term by default, and the one a test names', async () => {
    const { app, leadership } = await startTestApp({ term: 4 }, [FencedJobs]);
    const jobs = app.get(FencedJobs);

    jobs.hourly();
    leadership.follow('pod-b');
    leadership.lead();
    jobs.hourly();
    leadership.lead(9, { fencingToken: '1042' });
    jobs.hourly();
    leadership.changeTerm(10, { fencingToken: '1077' });
    jobs.hourly();
    leadership.changeTerm(11);
    jobs.hourly();

    expect(jobs.seen.map(({ term, fencingToken }) => ({ term, fencingToken }))).toEqual([
      { term: 4, fencingToken: '4' },
      { term: 5, fencingToken: '5' },
      { term: 9, fencingToken: '1042' },
      { term: 10, fencingToken: '1077' },
      { term: 11, fencingToken: '11' },
    ]);
  });

  it('gives no fencing token without a term, as sidecar and standalone do, or when the test says null', async () => {
    const { app, leadership } = await startTestApp({ term: null }, [FencedJobs]);
    const jobs = app.get(FencedJobs);
    jobs.hourly();
    leadership.lead(2, { fencingToken: null });
    jobs.hourly();

    expect(jobs.seen.map(({ fencingToken }) => fencingToken)).toEqual([null, null]);
  });

  it('refuses a fencing token that is not a decimal string, and another token in the term it leads in', async () => {
    const { leadership } = await startTestApp({ term: 3, fencingToken: '300' }, [FencedJobs]);

    expect(() => leadership.lead(4, { fencingToken: 'abc' })).toThrow("fencingToken \"abc\": use a decimal string such as '1042'");
    expect(() => leadership.lead(3, { fencingToken: '301' })).toThrow('A fencing token belongs to one acquisition');
    expect(leadership.lead(3, { fencingToken: '300' })).toMatchObject({ isLeader: true, term: 3 });
    // A Lease deleted and re-created: the term starts again at 0, the token still grows.
    leadership.loseLeadership();
    expect(leadership.lead(0, { fencingToken: '301' })).toMatchObject({ isLeader: true, term: 0 });
  });

  it('runs a job the test calls for the fire time the test names, in the app and per election', async () => {
    const { app, leadership } = await startTestApp({ scheduledAt: TEN, elections: { reports: {} } }, [FencedJobs]);
    const jobs = app.get(FencedJobs);

    jobs.hourly();
    jobs.report();
    leadership.setScheduledAt(ELEVEN);
    jobs.hourly();
    leadership.election('reports').setScheduledAt(null);
    jobs.report();

    expect(jobs.seen.map(({ scheduledAt }) => scheduledAt)).toEqual([TEN, TEN, ELEVEN, null]);
  });

  it('without a fire time named, a @Cron() job called by the test sees what a real tick would', async () => {
    useFakeTime(new Date('2026-05-01T10:00:00.200Z'));
    const { app, leadership } = await startTestApp({}, [FencedJobs]);
    const jobs = app.get(FencedJobs);

    jobs.hourly();
    leadership.setScheduledAt(ELEVEN);
    leadership.setScheduledAt(undefined);
    jobs.hourly();

    expect(jobs.seen.map(({ scheduledAt }) => scheduledAt)).toEqual([TEN, TEN]);
  });

  it('gives attach() the same options', () => {
    const jobs = new FencedJobs();
    const leadership = TestLeadership.attach(jobs, { term: 3, fencingToken: '1042', scheduledAt: TEN });

    jobs.hourly();
    leadership.lead(4);
    jobs.hourly();

    expect(jobs.seen).toEqual([
      { term: 3, fencingToken: '1042', scheduledAt: TEN },
      { term: 4, fencingToken: '4', scheduledAt: TEN },
    ]);
  });
});

class Misnamed {
  @LeaderOnly({ election: 'nope' })
  run(): void {}
}

describe('a failed start', () => {
  it('rejects init() with the cause, and app.close() then closes cleanly', async () => {
    // A factory's instance is checked at init() (a class provider's fails compile() already).
    const { app } = await compileTestApp({}, [{ provide: 'MISNAMED', useFactory: () => new Misnamed() }]);

    await expect(app.init()).rejects.toThrow("Misnamed.run is decorated with @LeaderOnly({ election: 'nope' })");
    await expect(app.close()).resolves.toBeUndefined();
  });
});
