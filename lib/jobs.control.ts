import { randomBytes } from 'node:crypto';
import { pauseAnnotation, type RequestResult, type RunRecord } from './control/control-record.js';
import { CONTROL_NEEDS_LEASE, UNKNOWN_JOB } from './control/control.messages.js';
import type { ElectionRegistry } from './election.registry.js';
import { ControlRequestTimeoutError } from './errors/control-request-timeout.error.js';
import { UnknownJobError } from './errors/unknown-job.error.js';
import { backfillFireTimes, MAX_BACKFILL_RUNS } from './gate/control-runs.js';
import type { RegisteredJob } from './gate/gated-job.js';
import type { BackfillOptions, JobDescription, JobRunSummary, PauseOptions, RequestOutcome, ResumeOptions, RunNowOptions } from './interfaces/job-description.interface.js';
import { JobControlError } from './errors/job-control.error.js';
import type { ElectionState } from './leadership/election-state.js';
import { CronFireTimes } from './ledger/fire-times.js';
import { setSafeTimeout } from './leadership/timers.js';

/** How many next fire times jobs() lists. */
const NEXT_FIRE_TIMES = 3;
/** How long runNow() and backfill() wait for the outcome, unless told. */
const DEFAULT_WAIT_MS = 60_000;

/**
 * Seeing and steering the @LeaderOnly() jobs from any pod (issue 14), behind
 * ClusterLeaderService: jobs() describes every job from this pod's view of the Lease; pause,
 * resume and the requests (run now, backfill) are written to the Lease by whichever pod is asked,
 * and carried out once by the leader (see gate/control-runs.ts).
 */
export class JobsControl {
  /**
   * Each @Cron() job's next fire times, kept until the first of them passes: the `cron` package
   * takes 0.1 to 0.5 ms per fire time it computes, too much to pay for every job on every call.
   */
  private readonly upcoming = new WeakMap<RegisteredJob, { times: number[]; iso: string[] }>();

  constructor(private readonly registry: ElectionRegistry) {}

  jobs(): JobDescription[] {
    const now = Date.now();
    return [...this.registry.gate.jobs()].map((entry) => this.describe(entry, now));
  }

  async pause(job: string, { note = '' }: PauseOptions = {}): Promise<JobDescription> {
    const { entry, state } = this.find(job, 'pause');
    const by = state.identity;
    await state.control!.pause(entry.policy.ledgerKey, { by, at: Date.now(), note });
    return this.describe(entry, Date.now());
  }

  async resume(job: string, { skipMissed = false }: ResumeOptions = {}): Promise<JobDescription> {
    const { entry, state } = this.find(job, 'resume');
    if (skipMissed && state.ledger !== undefined) {
      const now = Date.now();
      // The latest fire time up to now (an @Interval()'s cadence starts again from now).
      const last = entry.fireTimes?.previous(now + 1, 0) ?? now;
      state.ledger.skipTo(entry.policy.ledgerKey, { fireTime: last, state: 'succeeded', term: state.state.term ?? 0 });
    }
    await state.control!.resume(entry.policy.ledgerKey);
    return this.describe(entry, Date.now());
  }

  async runNow(job: string, { timeoutMs = DEFAULT_WAIT_MS }: RunNowOptions = {}): Promise<RequestOutcome> {
    const { entry, state } = this.find(job, 'run');
    const id = randomBytes(8).toString('hex');
    return this.ask(state, { id, job: entry.policy.ledgerKey, kind: 'run', by: state.identity, at: Date.now() }, timeoutMs);
  }

  async backfill(job: string, { from, to, timeoutMs = DEFAULT_WAIT_MS }: BackfillOptions): Promise<RequestOutcome> {
    const { entry, state } = this.find(job, 'backfill');
    const fromMs = toMs('from', from);
    const toMsValue = toMs('to', to);
    if (entry.policy.schedule.kind !== 'cron') {
      throw new JobControlError(`backfill("${job}"): a backfill replays a @Cron() job's fire times, and this job has none. Use runNow() instead.`);
    }
    if (fromMs > toMsValue) throw new JobControlError(`backfill("${job}"): \`from\` (${new Date(fromMs).toISOString()}) is after \`to\` (${new Date(toMsValue).toISOString()}). Swap them.`);
    const count = backfillFireTimes(entry, fromMs, toMsValue).length;
    const limit = entry.policy.missedRuns === 'runOnce' ? MAX_BACKFILL_RUNS : Math.min(entry.policy.maxMissedRuns, MAX_BACKFILL_RUNS);
    if (count > limit) {
      throw new JobControlError(`backfill("${job}"): the range holds ${count} fire times, more than ${limit} (the job's maxMissedRuns bounds a backfill, as it bounds a catch-up). Narrow the range, or raise maxMissedRuns.`);
    }
    const id = randomBytes(8).toString('hex');
    return this.ask(state, { id, job: entry.policy.ledgerKey, kind: 'backfill', from: fromMs, to: toMsValue, by: state.identity, at: Date.now() }, timeoutMs);
  }

  /** Writes the request to the Lease, then waits (from this pod's view of the Lease) for how it went. */
  private async ask(state: ElectionState, request: Parameters<NonNullable<ElectionState['control']>['request']>[0], timeoutMs: number): Promise<RequestOutcome> {
    const control = state.control!;
    // Listening before the request is written, so an outcome that comes at once is not missed.
    let stop: () => void = () => {};
    const ended = new Promise<RequestResult>((resolve, reject) => {
      const check = () => {
        const result = control.result(request.id);
        if (result === undefined || result.state === 'running') return;
        stop();
        resolve(result);
      };
      const timer = setSafeTimeout(() => {
        stop();
        reject(new ControlRequestTimeoutError(request.id, request.job, timeoutMs, control.result(request.id)?.state ?? 'waiting'));
      }, timeoutMs);
      const unsubscribe = control.onChange(check);
      stop = () => {
        clearTimeout(timer);
        unsubscribe();
      };
    });
    // Its timeout may fire while the request is still being written: never an unhandled rejection.
    ended.catch(() => undefined);
    try {
      await control.request(request);
    } catch (error) {
      stop(); // the request is not in the Lease: nothing to wait for (and no timer left to fire)
      throw error;
    }
    return summarizeResult(await ended);
  }

  private find(job: string, action: string): { entry: RegisteredJob; state: ElectionState } {
    const all = [...this.registry.gate.jobs()];
    const entry = all.find((candidate) => candidate.policy.ledgerKey === job) ?? all.find((candidate) => candidate.job.name === job);
    if (entry === undefined) throw new UnknownJobError(UNKNOWN_JOB(job, all.map((candidate) => candidate.policy.ledgerKey)));
    const state = this.registry.states.get(entry.job.election)!;
    if (state.control === undefined) {
      const backend = this.registry.options.elections.find((election) => election.name === state.name)!.backend;
      throw new JobControlError(CONTROL_NEEDS_LEASE(job, state.name, backend, action));
    }
    return { entry, state };
  }

  private nextFireTimes(entry: RegisteredJob, now: number): string[] {
    if (entry.policy.schedule.kind !== 'cron') return [];
    const cached = this.upcoming.get(entry);
    if (cached !== undefined && (cached.times[0] ?? Number.POSITIVE_INFINITY) > now) return cached.iso;
    const fireTimes = entry.fireTimes ?? new CronFireTimes(entry.policy.schedule);
    // The ones still ahead are kept; only the missing tail is computed.
    const times = (cached?.times ?? []).filter((time) => time > now);
    let cursor = times.at(-1) ?? now;
    while (times.length < NEXT_FIRE_TIMES) {
      const time = fireTimes.next(cursor);
      if (time === undefined) break;
      times.push(time);
      cursor = time;
    }
    const iso = times.map((time) => new Date(time).toISOString());
    this.upcoming.set(entry, { times, iso });
    return iso;
  }

  private shardOf({ job }: RegisteredJob): JobDescription['shard'] {
    const shard = this.registry.options.elections.find((election) => election.name === job.election)?.shard;
    return shard === undefined ? null : { election: shard.group, index: shard.index, of: shard.count, pinned: job.options.shard !== undefined };
  }

  private describe(entry: RegisteredJob, now: number): JobDescription {
    const { policy, job } = entry;
    const state = this.registry.states.get(job.election)!;
    const control = state.control;
    const pause = control?.pauseOf(policy.ledgerKey);
    const runs = control?.runs(policy.ledgerKey) ?? [];
    const inProgress = runs.find((run) => run.endedAt === undefined);
    return {
      name: job.name,
      key: policy.ledgerKey,
      election: job.election,
      shard: this.shardOf(entry),
      leader: state.state.leader,
      schedule: scheduleOf(entry),
      nextFireTimes: this.nextFireTimes(entry, now),
      controllable: control !== undefined,
      pauseAnnotation: control === undefined ? null : pauseAnnotation(policy.ledgerKey),
      paused: pause === undefined ? null : { by: pause.by, at: pause.at === null ? null : new Date(pause.at).toISOString(), note: pause.note },
      running: { here: entry.running, on: inProgress?.pod ?? (entry.running > 0 ? state.identity : null), since: inProgress === undefined ? null : new Date(inProgress.startedAt).toISOString() },
      lastRuns: runs.map(summarizeRun),
      counters: { ...entry.counters },
    };
  }
}

function scheduleOf({ policy }: RegisteredJob): JobDescription['schedule'] {
  const { schedule } = policy;
  switch (schedule.kind) {
    case 'cron':
      return {
        kind: 'cron',
        cron: schedule.cronTime instanceof Date ? schedule.cronTime.toISOString() : schedule.cronTime,
        ...(schedule.timeZone !== undefined && { timeZone: schedule.timeZone }),
        ...(schedule.utcOffset !== undefined && { utcOffset: schedule.utcOffset }),
        ...(schedule.disabled && { disabled: true }),
      };
    case 'interval':
      return { kind: 'interval', everyMs: schedule.ms };
    case 'timeout':
      return { kind: 'timeout', afterMs: schedule.ms };
    case 'none':
      return { kind: 'none' };
  }
}

function summarizeRun(run: RunRecord): JobRunSummary {
  return {
    fireTime: new Date(run.fireTime).toISOString(),
    pod: run.pod,
    term: run.term,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: run.endedAt === undefined ? null : new Date(run.endedAt).toISOString(),
    outcome: run.outcome ?? null,
    kind: run.kind,
  };
}

function summarizeResult(result: RequestResult): RequestOutcome {
  return {
    id: result.id,
    job: result.job,
    kind: result.kind,
    outcome: result.state === 'running' ? 'interrupted' : result.state,
    pod: result.pod,
    term: result.term,
    fireTime: result.fireTime === undefined ? null : new Date(result.fireTime).toISOString(),
    startedAt: new Date(result.startedAt).toISOString(),
    endedAt: result.endedAt === undefined ? null : new Date(result.endedAt).toISOString(),
    ...(result.total !== undefined && { total: result.total, done: result.done ?? 0 }),
    ...(result.reason !== undefined && { reason: result.reason }),
  };
}

function toMs(option: string, value: Date | string | number): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new JobControlError(`backfill: \`${option}\` is ${JSON.stringify(value)}, not a time. Use a Date, an ISO 8601 string or ms since the epoch.`);
  return ms;
}
