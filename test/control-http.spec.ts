import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderElectionConfigError, LeaderElectionModule, type JobDescription, type LeaseOptions, type RequestOutcome } from '../lib/index.js';
import { LeaderElectionControlModule, type ControlElectionsAnswer, type LeaderElectionControlOptions } from '../lib/control-http/index.js';
import { startControlApp, type ControlApp } from './support/control-app.js';
import { LeaseCandidates, quietWindow } from './support/lease-candidates.js';
import { RecordingLogger } from './support/nest-app.js';
import { cronJob, RunRecorder, type RecordedRun } from './support/recorded-jobs.js';

/**
 * LeaderElectionControlModule over real HTTP (Nest's Express platform), on real Lease elections
 * against the test apiserver: what each endpoint answers, what it changes in the Lease, the guard
 * in front of the mutating ones, and the options checked at startup.
 */

const FAST: Partial<LeaseOptions> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
const JOB = 'report';
const NEVER = '0 0 0 1 1 *'; // fires on January 1st only: runs in these tests are asked for

@Injectable()
class AllowGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

@Injectable()
class RefuseGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ method: string }>();
    throw new ForbiddenException(`This test's guard refuses every ${request.method}.`);
  }
}

const recorder = new RunRecorder();
const cluster = new LeaseCandidates('control-http-lease');
const apps: ControlApp[] = [];

beforeEach(async () => {
  recorder.clear();
  await cluster.setUp();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((started) => started.app.close()));
  await cluster.tearDown();
});

async function pod(identity: string, control: LeaderElectionControlOptions | null, cron = NEVER, work?: (run: RecordedRun) => Promise<void>): Promise<ControlApp> {
  const started = await startControlApp({ identity, cluster, lease: FAST, control, providers: [cronJob({ recorder, identity, work }, cron, JOB)] });
  apps.push(started);
  cluster.timeline.track(identity, started.leader);
  return started;
}

async function leading(app: ControlApp): Promise<void> {
  await cluster.timeline.until(() => app.leader.isLeader());
}

describe('read endpoints (mutations off, the default)', () => {
  it('serve the page, the elections and jobs(); a POST to a mutating path answers 405 saying how to turn them on, and changes nothing', async () => {
    const a = await pod('pod-a', {});
    await leading(a);

    const page = await a.request('/leader');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self'/);
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/); // nothing loaded from anywhere
    expect((await a.request('/leader/')).status).toBe(200);

    const elections = (await (await a.request('/leader/api/elections')).json()) as ControlElectionsAnswer;
    expect(elections).toMatchObject({ identity: 'pod-a', mutations: false, elections: [{ election: 'default', identity: 'pod-a', isLeader: true, leader: 'pod-a', term: 0, healthy: true }] });

    const jobs = (await (await a.request('/leader/api/jobs')).json()) as JobDescription[];
    expect(jobs).toEqual(JSON.parse(JSON.stringify(a.leader.jobs())));
    expect(jobs).toEqual([expect.objectContaining({ key: JOB, name: 'RecordedCronJob.tick', controllable: true, paused: null })]);

    for (const action of ['pause', 'resume', 'run', 'backfill']) {
      const refused = await a.post(`/leader/api/jobs/${JOB}/${action}`, { note: 'no' });
      expect(refused.status, action).toBe(405);
      expect(refused.headers.get('allow')).toBe('GET');
      expect(((await refused.json()) as { message: string }).message).toContain("LeaderElectionControlModule.forRoot({ path: 'leader', mutations: { guard: YourGuard } })");
    }
    expect(a.leader.jobs()[0]!.paused).toBeNull();
    expect(recorder.runs).toHaveLength(0);
  });

  it('serves at the path given, and at the root for an empty one', async () => {
    const a = await pod('pod-a', { path: '/ops/leader/' });
    expect((await a.request('/ops/leader')).status).toBe(200);
    expect((await a.request('/ops/leader/api/jobs')).status).toBe(200);
    expect((await a.request('/leader')).status).toBe(404);
    const b = await pod('pod-b', { path: '' });
    expect(await (await b.request('/')).text()).toMatch(/^<!doctype html>/);
    expect((await b.request('/api/elections')).status).toBe(200);
  });
});

describe('mutating endpoints behind the guard', () => {
  it('pause (with its note), resume and run from a follower: the Lease carries them, the leader runs the job, every pod describes it', async () => {
    const a = await pod('pod-a', { mutations: { guard: AllowGuard } });
    await leading(a);
    const b = await pod('pod-b', { mutations: { guard: AllowGuard } });
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');

    const paused = await b.post(`/leader/api/jobs/${JOB}/pause`, { note: 'database migration' });
    expect(paused.status).toBe(200);
    expect(((await paused.json()) as JobDescription).paused).toMatchObject({ by: 'pod-b', note: 'database migration' });
    await expect.poll(() => a.leader.jobs()[0]!.paused?.note).toBe('database migration');

    const resumed = await b.post(`/leader/api/jobs/${JOB}/resume`);
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as JobDescription).paused).toBeNull();
    await expect.poll(() => a.leader.jobs()[0]!.paused).toBeNull();

    const ran = await b.post(`/leader/api/jobs/${JOB}/run`);
    expect(ran.status).toBe(200);
    const outcome = (await ran.json()) as RequestOutcome;
    expect(outcome).toMatchObject({ job: JOB, kind: 'run', outcome: 'succeeded', pod: 'pod-a', term: 0 });
    expect(outcome.fireTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(recorder.runs).toEqual([expect.objectContaining({ identity: 'pod-a', context: expect.objectContaining({ kind: 'manual' }) })]);
    await expect.poll(async () => ((await (await b.request('/leader/api/jobs')).json()) as JobDescription[])[0]!.lastRuns[0]).toMatchObject({ pod: 'pod-a', kind: 'manual', outcome: 'succeeded' });
  });

  it('answers 404 for an unknown job (listing the known ones), 400 for a malformed body, 409 when the job refuses, 504 with the request id when the run outlasts timeoutMs', async () => {
    // A run asked for by hand takes 2 s: longer than the shortest wait the endpoint accepts.
    const slowWhenManual = (run: RecordedRun) => (run.context.kind === 'manual' ? quietWindow(2_000) : Promise.resolve());
    const a = await pod('pod-a', { mutations: { guard: AllowGuard } }, '0 0 * * * *', slowWhenManual);
    await leading(a);

    const unknown = await a.post('/leader/api/jobs/reports/pause');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ statusCode: 404, error: 'Not Found', message: expect.stringMatching(/No @LeaderOnly\(\) job is named "reports".*Known jobs: "report"/) });

    const badNote = await a.post(`/leader/api/jobs/${JOB}/pause`, { note: 5 });
    expect(badNote.status).toBe(400);
    expect(((await badNote.json()) as { message: string }).message).toBe('POST pause: "note" is 5, not a string. Send { "note": "why it is paused" }, or no body.');
    const typo = await a.post(`/leader/api/jobs/${JOB}/pause`, { reason: 'x' });
    expect(((await typo.json()) as { message: string }).message).toContain('the body has "reason", which it does not take. It takes "note".');
    const reversed = await a.post(`/leader/api/jobs/${JOB}/backfill`, { from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' });
    expect(reversed.status).toBe(400);
    const badWait = await a.post(`/leader/api/jobs/${JOB}/run`, { timeoutMs: '10s' });
    expect(badWait.status).toBe(400);
    expect(((await badWait.json()) as { message: string }).message).toBe('POST run: "timeoutMs" is "10s". Send whole milliseconds from 1000 to 600000, or leave it out (60000).');
    expect(a.leader.jobs()[0]!.paused).toBeNull();

    // 25 hourly fire times, more than maxMissedRuns (10): the job's setup refuses it.
    const tooMany = await a.post(`/leader/api/jobs/${JOB}/backfill`, { from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' });
    expect(tooMany.status).toBe(409);
    expect(((await tooMany.json()) as { message: string }).message).toMatch(/holds 25 fire times, more than 10/);

    const backfilled = await a.post(`/leader/api/jobs/${JOB}/backfill`, { from: '2026-03-01T00:00:00Z', to: '2026-03-01T02:00:00Z' });
    expect(await backfilled.json()).toMatchObject({ kind: 'backfill', outcome: 'succeeded', total: 3, done: 3 });

    const late = await a.post(`/leader/api/jobs/${JOB}/run`, { timeoutMs: 1_000 });
    expect(late.status).toBe(504);
    const body = (await late.json()) as { requestId: string; job: string; message: string };
    expect(body).toMatchObject({ statusCode: 504, error: 'Gateway Timeout', job: JOB, requestId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(body.message).toContain(`The request ${body.requestId} for job "${JOB}" did not end within 1000 ms (it is still running)`);
    // Not withdrawn: it ran, once, and ends.
    expect(recorder.runs.filter((run) => run.context.kind === 'manual')).toHaveLength(1);
    await expect.poll(() => a.leader.jobs()[0]!.lastRuns[0], { timeout: 5_000 }).toMatchObject({ kind: 'manual', outcome: 'succeeded' });
  });

  it('answers 409 on a backend without a Lease, saying why; the read endpoints still describe the job', async () => {
    const started = await startControlApp({ identity: 'solo', control: { mutations: { guard: AllowGuard } }, providers: [cronJob({ recorder, identity: 'solo' }, NEVER, JOB)] });
    apps.push(started);
    const refused = await started.post(`/leader/api/jobs/${JOB}/pause`, { note: 'x' });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: 'Conflict', message: expect.stringContaining("uses the 'standalone' backend, which keeps no shared state") });
    expect(await (await started.request('/leader/api/jobs')).json()).toEqual([expect.objectContaining({ key: JOB, controllable: false })]);
  });

  it("answer the guard's refusal (403) and change nothing; the read endpoints need no guard", async () => {
    const a = await pod('pod-a', { mutations: { guard: RefuseGuard } });
    await leading(a);
    for (const action of ['pause', 'resume', 'run', 'backfill']) {
      const refused = await a.post(`/leader/api/jobs/${JOB}/${action}`, {});
      expect(refused.status, action).toBe(403);
      expect(((await refused.json()) as { message: string }).message).toBe("This test's guard refuses every POST.");
    }
    expect(a.leader.jobs()[0]!.paused).toBeNull();
    expect(recorder.runs).toHaveLength(0);
    expect(await (await a.request('/leader/api/elections')).json()).toMatchObject({ mutations: true });
  });
});

describe('options checked at startup', () => {
  class NotAGuard {
    check(): boolean {
      return true;
    }
  }

  const compile = (options: unknown, leaderElection = true) =>
    Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        ...(leaderElection ? [LeaderElectionModule.forRoot({ backend: 'standalone', identity: 'pod-a' })] : []),
        LeaderElectionControlModule.forRoot(options as LeaderElectionControlOptions),
      ],
    })
      .setLogger(new RecordingLogger())
      .compile();

  it.each([
    ['mutations without a guard', { mutations: {} }, '`mutations.guard` is missing. The mutating endpoints (pause, resume, run, backfill) are mounted only behind a guard'],
    ['a guard that is no guard', { mutations: { guard: NotAGuard } }, '`mutations.guard` is a function. NotAGuard has no canActivate() method'],
    ['an instance instead of the class', { mutations: { guard: new AllowGuard() } }, "`mutations.guard` is {}. Pass the guard's class, not an instance"],
    ['mutations: true', { mutations: true }, '`mutations` is true. Pass { guard: YourGuard } or false.'],
    ['a misspelt option', { mutation: { guard: AllowGuard } }, '`mutation` is {}. There is no such option; the options are path, mutations, imports.'],
    ['a path the router would read as a pattern', { path: 'leader/:id' }, '`path` is "leader/:id". Use plain path segments'],
  ])('%s: a LeaderElectionConfigError naming the option, the value and the fix', async (_case, options, message) => {
    const compiling = compile(options);
    await expect(compiling).rejects.toThrow(LeaderElectionConfigError);
    await expect(compiling).rejects.toThrow(`LeaderElectionControlModule: option ${message}`);
  });

  it('says so, and what to import, when the app has no LeaderElectionModule', async () => {
    await expect(compile({}, false)).rejects.toThrow(
      'LeaderElectionControlModule: LeaderElectionControlModule serves what ClusterLeaderService knows, and the app has none to give it. Import LeaderElectionModule.forRoot()',
    );
  });
});
