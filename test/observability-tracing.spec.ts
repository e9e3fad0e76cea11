import { Injectable, type INestApplication } from '@nestjs/common';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { currentLeaderJob, LeaderElectionConfigError, LeaderOnly, type LeaseOptions } from '../lib/index.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { closeAll, compileApp, deferred, startApp } from './support/nest-app.js';

/**
 * OpenTelemetry spans through the real @opentelemetry/api, first without an SDK (a no-op), then
 * with the real SDK's in-memory exporter and async context manager registered globally, as an
 * app's tracing setup does.
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };

@Injectable()
class TracedJobs {
  fail = false;
  readonly started = deferred();

  @LeaderOnly()
  async report(): Promise<string> {
    // The job's own span: a child of the run's span, through the active context.
    await trace.getTracer('billing').startActiveSpan('write report', async (span) => {
      await Promise.resolve();
      span.end();
    });
    if (this.fail) throw new TypeError('report store unavailable');
    return 'done';
  }

  /** Runs until its leadership ends. */
  @LeaderOnly()
  async untilStepDown(): Promise<void> {
    const { signal } = currentLeaderJob()!;
    this.started.resolve();
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }
}

const apps: INestApplication[] = [];
afterEach(() => closeAll(apps.splice(0)));

describe('tracing without an OpenTelemetry SDK', () => {
  it('is a no-op: the job runs and returns its value', async () => {
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', tracing: {} }, providers: [TracedJobs] });
    apps.push(app);
    expect(await app.get(TracedJobs).report()).toBe('done');
    expect(trace.getActiveSpan()).toBeUndefined();
  });
});

describe('tracing with the SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const contextManager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  });
  afterAll(() => {
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  const spans = (name: string | RegExp): ReadableSpan[] =>
    exporter.getFinishedSpans().filter((span) => (typeof name === 'string' ? span.name === name : name.test(span.name)));

  it('makes one span per job run, named after the job, active while it runs, with the outcome', async () => {
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', tracing: {} }, providers: [TracedJobs] });
    apps.push(app);
    const jobs = app.get(TracedJobs);

    expect(await jobs.report()).toBe('done');
    const [run] = spans('leader-only job TracedJobs.report');
    expect(run).toBeDefined();
    expect(run!.instrumentationScope.name).toBe('nestjs-cluster-leader');
    expect(run!.attributes).toEqual({
      'nestjs_cluster_leader.election': 'default',
      'nestjs_cluster_leader.job': 'TracedJobs.report',
      'code.function.name': 'TracedJobs.report',
      'nestjs_cluster_leader.kind': 'scheduled',
      'nestjs_cluster_leader.outcome': 'succeeded',
    });
    expect(run!.status.code).toBe(SpanStatusCode.UNSET);
    const [write] = spans('write report');
    expect(write!.parentSpanContext?.spanId).toBe(run!.spanContext().spanId);
    expect(write!.spanContext().traceId).toBe(run!.spanContext().traceId);
  });

  it('marks a failed run as an error, with the exception recorded', async () => {
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', tracing: {} }, providers: [TracedJobs] });
    apps.push(app);
    const jobs = app.get(TracedJobs);
    jobs.fail = true;

    expect(await jobs.report()).toBeUndefined();
    const [run] = spans('leader-only job TracedJobs.report');
    expect(run!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'report store unavailable' });
    expect(run!.attributes).toMatchObject({ 'nestjs_cluster_leader.outcome': 'failed', 'error.type': 'TypeError' });
    expect(run!.events.map((event) => event.name)).toEqual(['exception']);
    expect(run!.events[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'report store unavailable' });
  });

  it('records each leadership change as a span event: on a short span of its own, and on the running jobs of that election', async () => {
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', tracing: {} }, providers: [TracedJobs] });
    const jobs = app.get(TracedJobs);
    const running = jobs.untilStepDown();
    await jobs.started.promise;
    await app.close(); // shutdown ends leadership: the job's signal fires, and it returns
    await running;

    const changes = spans('leadership change default');
    expect(changes.map((span) => span.attributes)).toEqual([
      { 'nestjs_cluster_leader.election': 'default', 'nestjs_cluster_leader.identity': 'pod-a', 'nestjs_cluster_leader.is_leader': true, 'nestjs_cluster_leader.leader': 'pod-a', 'nestjs_cluster_leader.reason': "backend 'standalone' always leads" },
      { 'nestjs_cluster_leader.election': 'default', 'nestjs_cluster_leader.identity': 'pod-a', 'nestjs_cluster_leader.is_leader': false, 'nestjs_cluster_leader.leader': 'pod-a', 'nestjs_cluster_leader.reason': 'shutdown began' },
    ]);
    expect(changes.every((span) => span.events.map((event) => event.name).join() === 'nestjs_cluster_leader.leadership_changed')).toBe(true);
    const [run] = spans('leader-only job TracedJobs.untilStepDown');
    expect(run!.events.map((event) => [event.name, event.attributes?.['nestjs_cluster_leader.reason']])).toEqual([
      ['nestjs_cluster_leader.leadership_changed', 'shutdown began'],
    ]);
    expect(run!.attributes['nestjs_cluster_leader.outcome']).toBe('succeeded');
  });

  it('makes no spans without the tracing option, and refuses a bad one at startup', async () => {
    const { app } = await startApp({ leaderElection: { backend: 'standalone', identity: 'pod-a' }, providers: [TracedJobs] });
    apps.push(app);
    await app.get(TracedJobs).report();
    expect(spans(/^leader-only job|^leadership change/)).toEqual([]);
    expect(spans('write report')).toHaveLength(1); // the app's own span, a root now

    for (const [tracing, option] of [['yes', 'tracing'], [{ enabled: 1 }, 'tracing.enabled'], [{ sampler: 'x' }, 'tracing.sampler']] as const) {
      const error = await compileApp({ leaderElection: { backend: 'standalone', identity: 'pod-a', tracing: tracing as never } }).then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(LeaderElectionConfigError);
      expect((error as Error).message).toContain(`option \`${option}\``);
    }
  });

  describe('on the Lease backend', () => {
    const cluster = new LeaseCandidates('tracing-lease');
    beforeEach(() => cluster.setUp());
    afterEach(() => cluster.tearDown());

    it('carries the term on the run span and on the leadership change', async () => {
      const a = await cluster.startTracked({ identity: 'pod-a', lease: FAST, module: { tracing: {} }, providers: [TracedJobs] });
      await cluster.timeline.until(() => a.leader.isLeader());
      await a.app.get(TracedJobs).report();

      const [run] = spans('leader-only job TracedJobs.report');
      expect(run!.attributes['nestjs_cluster_leader.term']).toBe(0);
      const started = spans('leadership change default').find((span) => span.attributes['nestjs_cluster_leader.is_leader'] === true);
      expect(started!.attributes).toMatchObject({ 'nestjs_cluster_leader.term': 0, 'nestjs_cluster_leader.reason': 'it acquired the Lease', 'nestjs_cluster_leader.leader': 'pod-a' });
    });
  });
});
