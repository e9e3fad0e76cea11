import type * as OpenTelemetry from '@opentelemetry/api';
import type { Span, Tracer } from '@opentelemetry/api';
import { PACKAGE_NAME } from '../leader-election.constants.js';
import type { ElectionEventListener, JobRun, LeadershipChangedEvent } from '../leadership/election-events.js';

/** Attribute names, namespaced after the package as OpenTelemetry's naming conventions ask. */
export const ATTRIBUTES = {
  election: 'nestjs_cluster_leader.election',
  job: 'nestjs_cluster_leader.job',
  term: 'nestjs_cluster_leader.term',
  scheduledTime: 'nestjs_cluster_leader.scheduled_time',
  catchUp: 'nestjs_cluster_leader.catch_up',
  coversFireTimes: 'nestjs_cluster_leader.covers_fire_times',
  fencingToken: 'nestjs_cluster_leader.fencing_token',
  kind: 'nestjs_cluster_leader.kind',
  outcome: 'nestjs_cluster_leader.outcome',
  identity: 'nestjs_cluster_leader.identity',
  isLeader: 'nestjs_cluster_leader.is_leader',
  leader: 'nestjs_cluster_leader.leader',
  reason: 'nestjs_cluster_leader.reason',
} as const;

/** The name of the span event (and of the short span) for a change of leadership. */
export const LEADERSHIP_CHANGED_EVENT = 'nestjs_cluster_leader.leadership_changed';

/**
 * OpenTelemetry spans for the elections, through @opentelemetry/api only (the app registers an
 * SDK, or the API stays a no-op):
 * - one span per run of a @LeaderOnly() job, `leader-only job <Class.method>`, active while the
 *   job runs, so the job's own spans are its children; its status is ERROR when the job throws
 *   (with the exception recorded), and `nestjs_cluster_leader.outcome` says succeeded or failed;
 * - a span event for each change of leadership on every running job span of that election (a job
 *   that sees its AbortSignal fire shows why), and on a short span of its own,
 *   `leadership change <election>`, so changes show when no job runs.
 */
export class LeaderElectionTracing implements ElectionEventListener {
  private readonly tracer: Tracer;
  private readonly spans = new WeakMap<JobRun, Span>();
  /** The spans of the runs in flight, per election, for the leadership events. */
  private readonly running = new Map<string, Set<Span>>();

  constructor(private readonly api: typeof OpenTelemetry) {
    this.tracer = api.trace.getTracer(PACKAGE_NAME);
  }

  jobStarted(run: JobRun): void {
    const { job, term, ledger } = run;
    const attributes: OpenTelemetry.Attributes = {
      [ATTRIBUTES.election]: job.election,
      [ATTRIBUTES.job]: job.name,
      'code.function.name': job.name,
    };
    if (term !== null) attributes[ATTRIBUTES.term] = term;
    if (ledger?.scheduledTime !== undefined) attributes[ATTRIBUTES.scheduledTime] = new Date(ledger.scheduledTime).toISOString();
    if (ledger?.catchUp !== undefined) attributes[ATTRIBUTES.catchUp] = ledger.catchUp;
    if (ledger?.coversFireTimes !== undefined) attributes[ATTRIBUTES.coversFireTimes] = ledger.coversFireTimes.map((time) => new Date(time).toISOString());
    if (ledger?.fencingToken !== undefined) attributes[ATTRIBUTES.fencingToken] = ledger.fencingToken;
    attributes[ATTRIBUTES.kind] = ledger?.kind ?? 'scheduled';
    const span = this.tracer.startSpan(`leader-only job ${job.name}`, { kind: this.api.SpanKind.INTERNAL, attributes, startTime: run.startedAtWall });
    this.spans.set(run, span);
    let spans = this.running.get(job.election);
    if (spans === undefined) {
      spans = new Set();
      this.running.set(job.election, spans);
    }
    spans.add(span);
  }

  runWithin<T>(run: JobRun, body: () => T): T {
    const span = this.spans.get(run);
    if (span === undefined) return body();
    return this.api.context.with(this.api.trace.setSpan(this.api.context.active(), span), body);
  }

  jobFinished(run: JobRun): void {
    const span = this.spans.get(run);
    if (span === undefined) return;
    this.spans.delete(run);
    this.running.get(run.job.election)?.delete(span);
    span.setAttribute(ATTRIBUTES.outcome, run.outcome!);
    if (run.outcome === 'failed') {
      const error = run.error;
      if (error instanceof Error) {
        span.recordException(error);
        span.setAttribute('error.type', error.name);
      } else {
        span.setAttribute('error.type', '_OTHER');
      }
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end();
  }

  leadershipChanged(event: LeadershipChangedEvent): void {
    const attributes: OpenTelemetry.Attributes = {
      [ATTRIBUTES.election]: event.election,
      [ATTRIBUTES.identity]: event.identity,
      [ATTRIBUTES.isLeader]: event.isLeader,
      [ATTRIBUTES.reason]: event.reason,
    };
    if (event.leader !== null) attributes[ATTRIBUTES.leader] = event.leader;
    if (event.term !== null) attributes[ATTRIBUTES.term] = event.term;
    for (const span of this.running.get(event.election) ?? []) span.addEvent(LEADERSHIP_CHANGED_EVENT, attributes);
    const span = this.tracer.startSpan(`leadership change ${event.election}`, { kind: this.api.SpanKind.INTERNAL, attributes });
    span.addEvent(LEADERSHIP_CHANGED_EVENT, attributes);
    span.end();
  }
}
