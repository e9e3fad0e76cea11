import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsRegistry } from '../interfaces/leader-election-options.interface.js';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import type {
  ApiErrorEvent,
  ElectionEventListener,
  JobRun,
  LeadershipChangedEvent,
  LeaseRoundEvent,
  ObservedJob,
  SkipReason,
} from '../leadership/election-events.js';

/** Our own metrics' prefix; the two client-go metrics keep Kubernetes' names. */
const PREFIX = 'nestjs_cluster_leader_';

/** Renew and acquire rounds: a few ms on a healthy apiserver, up to three request timeouts. */
const ROUND_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A follower's skips, counted in plain numbers and added to the counter when it is read. */
interface PendingSkips {
  readonly labels: { election: string; job: string; reason: SkipReason };
  count: number;
}

/**
 * The skip counter's sources, per counter: every LeaderElectionMetrics registered on it (a second
 * app in the process reuses the counter, and with it the first one's collect function).
 */
const skipSources = new WeakMap<object, Set<LeaderElectionMetrics>>();

/** Jobs run from milliseconds to an hour. */
const JOB_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Prometheus metrics of the elections and their jobs, fed by the election events. The names of
 * client-go's leader-election metrics (k8s.io/component-base/metrics/prometheus/clientgo/
 * leaderelection) are kept as they are, with their `name` label (here the election's name), so
 * dashboards and alerts written for Kubernetes' own components work; the rest carry the
 * package's prefix and `election` / `job` / `reason` / `code` labels.
 *
 * Registering into a registry that already has these metrics (a second app in one process, as in
 * tests) reuses them instead of throwing.
 */
export class LeaderElectionMetrics implements ElectionEventListener {
  private readonly masterStatus: Gauge<'name'>;
  private readonly slowPath: Counter<'name'>;
  private readonly transitions: Counter<'election'>;
  private readonly roundDuration: Histogram<'election' | 'outcome'>;
  private readonly apiErrors: Counter<'election' | 'verb' | 'code'>;
  private readonly jobRuns: Counter<'election' | 'job'>;
  private readonly jobFailures: Counter<'election' | 'job'>;
  private readonly skippedTicks: Counter<'election' | 'job' | 'reason'>;
  private readonly jobDuration: Histogram<'election' | 'job' | 'outcome'>;
  private readonly caughtUp: Counter<'election' | 'job'>;
  private readonly missed: Counter<'election' | 'job'>;
  private readonly lastSuccess: Gauge<'election' | 'job'>;
  private readonly requestedRuns: Counter<'election' | 'job' | 'kind'>;
  private readonly selfPauses: Counter<'election' | 'job'>;
  /**
   * Per job and reason, built once. A skip only adds 1 to a number here (prom-client would hash
   * the labels on every inc, about 800 ns); the counter gets the sums whenever it is read.
   */
  private readonly skipCounts = new WeakMap<ObservedJob, Partial<Record<SkipReason, PendingSkips>>>();
  private readonly pendingSkips: PendingSkips[] = [];

  /**
   * @param pausedJobs every job of the app and whether it is paused now (read at each scrape: a
   *   pause may come from any pod, or from kubectl)
   */
  constructor(
    prom: typeof PromClient,
    registry: MetricsRegistry | undefined,
    elections: readonly string[],
    private readonly pausedJobs: () => readonly { election: string; job: string; paused: boolean }[] = () => [],
  ) {
    const registers = [(registry ?? prom.register) as Registry];
    const reuse = <M>(name: string, kind: new (...args: never[]) => M, create: () => M): M => {
      const existing = registers[0]!.getSingleMetric(name);
      if (existing === undefined) return create();
      if (existing instanceof kind) return existing;
      throw new LeaderElectionConfigError('metrics.registry', name, `The registry already has a metric named ${name} of another type; pass another registry (metrics.registry), or remove that metric.`);
    };
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      reuse(name, prom.Counter, () => new prom.Counter<L>({ name, help, labelNames, registers })) as Counter<L>;
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      reuse(name, prom.Gauge, () => new prom.Gauge<L>({ name, help, labelNames, registers })) as Gauge<L>;
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      reuse(name, prom.Histogram, () => new prom.Histogram<L>({ name, help, labelNames, buckets, registers })) as Histogram<L>;

    this.masterStatus = gauge('leader_election_master_status', "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.", ['name']);
    this.slowPath = counter('leader_election_slowpath_total', "Total number of slow path exercised in renewing leader leases. 'name' is the string used to identify the lease. Please make sure to group by name.", ['name']);
    this.transitions = counter(`${PREFIX}leadership_transitions_total`, 'Times this pod started or stopped leading the election.', ['election']);
    this.roundDuration = histogram(`${PREFIX}lease_round_duration_seconds`, 'Duration of each acquire or renew round of the Lease elector, by outcome (acquired, renewed, held-by-other, conflict, failed).', ['election', 'outcome'], ROUND_BUCKETS_SECONDS);
    this.apiErrors = counter(`${PREFIX}api_errors_total`, 'Failed requests to the Kubernetes API, by verb and HTTP status (0: no answer: refused, reset or timed out; 409: a lost race).', ['election', 'verb', 'code']);
    this.jobRuns = counter(`${PREFIX}job_runs_total`, 'Runs of each leader-only job started on this pod.', ['election', 'job']);
    this.jobFailures = counter(`${PREFIX}job_failures_total`, 'Runs of each leader-only job that threw or rejected.', ['election', 'job']);
    this.skippedTicks = reuse(`${PREFIX}job_skipped_ticks_total`, prom.Counter, () => new prom.Counter({
      name: `${PREFIX}job_skipped_ticks_total`,
      help: 'Ticks of each leader-only job not run on this pod, by reason (not-leader, overlap, claimed-elsewhere, misfire, paused).',
      labelNames: ['election', 'job', 'reason'],
      registers,
      collect() {
        for (const source of skipSources.get(this) ?? []) source.flushSkips();
      },
    })) as Counter<'election' | 'job' | 'reason'>;
    let sources = skipSources.get(this.skippedTicks);
    if (sources === undefined) {
      sources = new Set();
      skipSources.set(this.skippedTicks, sources);
    }
    sources.add(this);
    this.jobDuration = histogram(`${PREFIX}job_run_duration_seconds`, 'Duration of each run of a leader-only job, by outcome (succeeded, failed).', ['election', 'job', 'outcome'], JOB_BUCKETS_SECONDS);
    this.caughtUp = counter(`${PREFIX}job_ticks_caught_up_total`, 'Ticks of each leader-only job that nobody ran in time and this pod caught up.', ['election', 'job']);
    this.missed = counter(`${PREFIX}job_ticks_missed_total`, 'Ticks of each leader-only job given up on (misfire policy or starting deadline).', ['election', 'job']);
    this.requestedRuns = counter(`${PREFIX}job_requested_runs_total`, 'Runs of each leader-only job asked for from a pod or kubectl, by kind (manual: run now; backfill).', ['election', 'job', 'kind']);
    this.selfPauses = counter(`${PREFIX}job_self_pauses_total`, 'Times each leader-only job paused itself after pauseAfterFailures failed runs in a row.', ['election', 'job']);
    const readPaused = this.pausedJobs;
    // Set from the Lease at each scrape (collect): a pause may come from any pod or from kubectl.
    reuse(`${PREFIX}job_paused`, prom.Gauge, () => new prom.Gauge({
      name: `${PREFIX}job_paused`,
      help: 'Whether each leader-only job is paused on every pod (1) or not (0), as this pod sees its Lease.',
      labelNames: ['election', 'job'],
      registers,
      collect() {
        for (const { election, job, paused } of readPaused()) this.set({ election, job }, paused ? 1 : 0);
      },
    }));
    this.lastSuccess = gauge(`${PREFIX}job_last_success_timestamp_seconds`, 'When each leader-only job last finished successfully on this pod, in seconds since the Unix epoch.', ['election', 'job']);
    // The series exist from the start, as client-go's do: a follower reports 0, not nothing.
    for (const election of elections) {
      this.masterStatus.set({ name: election }, 0);
      this.slowPath.inc({ name: election }, 0);
      this.transitions.inc({ election }, 0);
    }
  }

  leadershipChanged(event: LeadershipChangedEvent): void {
    this.masterStatus.set({ name: event.election }, event.isLeader ? 1 : 0);
    if (event.isLeader !== event.wasLeader) this.transitions.inc({ election: event.election });
  }

  leaseRound(event: LeaseRoundEvent): void {
    this.roundDuration.observe({ election: event.election, outcome: event.outcome }, event.durationMs / 1000);
    if (event.slowPath) this.slowPath.inc({ name: event.election });
  }

  apiError(event: ApiErrorEvent): void {
    this.apiErrors.inc({ election: event.election, verb: event.verb, code: String(event.code) });
  }

  jobStarted(run: JobRun): void {
    this.jobRuns.inc({ election: run.job.election, job: run.job.name });
    const kind = run.ledger?.kind;
    if (kind === 'manual' || kind === 'backfill') this.requestedRuns.inc({ election: run.job.election, job: run.job.name, kind });
  }

  jobPausedItself(job: ObservedJob): void {
    this.selfPauses.inc({ election: job.election, job: job.name });
  }

  jobFinished(run: JobRun): void {
    const labels = { election: run.job.election, job: run.job.name };
    this.jobDuration.observe({ ...labels, outcome: run.outcome! }, run.durationMs / 1000);
    if (run.outcome === 'failed') this.jobFailures.inc(labels);
    else this.lastSuccess.set(labels, (run.startedAtWall + run.durationMs) / 1000);
  }

  tickSkipped(job: ObservedJob, reason: SkipReason): void {
    let byReason = this.skipCounts.get(job);
    if (byReason === undefined) {
      byReason = {};
      this.skipCounts.set(job, byReason);
    }
    let pending = byReason[reason];
    if (pending === undefined) {
      pending = { labels: { election: job.election, job: job.name, reason }, count: 0 };
      byReason[reason] = pending;
      this.pendingSkips.push(pending);
      this.skippedTicks.inc(pending.labels, 0); // the series exists from the first skip on
    }
    pending.count++;
  }

  /** Adds the skips counted since the last read to the counter (called by its collect()). */
  flushSkips(): void {
    for (const pending of this.pendingSkips) {
      if (pending.count === 0) continue;
      this.skippedTicks.inc(pending.labels, pending.count);
      pending.count = 0;
    }
  }

  /** The app is closing: count what is left, and stop feeding the shared counter. */
  dispose(): void {
    this.flushSkips();
    skipSources.get(this.skippedTicks)?.delete(this);
  }

  ticksCaughtUp(job: ObservedJob, count: number): void {
    this.caughtUp.inc({ election: job.election, job: job.name }, count);
  }

  ticksMissed(job: ObservedJob, count: number): void {
    this.missed.inc({ election: job.election, job: job.name }, count);
  }
}
