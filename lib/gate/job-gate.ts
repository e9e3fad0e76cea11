import { Logger } from '@nestjs/common';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import type { ElectionState } from '../leadership/election-state.js';
import { DRAIN_TIMED_OUT, JOB_FAILED, JOB_PAUSED_ITSELF } from '../leader-election.messages.js';
import { ElectionEvents, type JobRun, type JobRunLedger } from '../leadership/election-events.js';
import { setSafeTimeout } from '../leadership/timers.js';
import { CronFireTimes } from '../ledger/fire-times.js';
import type { JobPolicy } from '../ledger/job-policy.js';
import type { TickLedger } from '../ledger/tick-ledger.interface.js';
import { ClaimedRuns } from './claimed-runs.js';
import { OverlappingTicks } from './overlapping-ticks.js';
import type { GatedJob, JobCounters, RegisteredJob } from './gated-job.js';
import { leaderJobContextStorage } from './leader-job-context.storage.js';

const NO_FIRE_TIMES: readonly Date[] = [];

/**
 * The context of a scheduled run that is not claimed: its fire time as this pod's clock and the
 * job's own schedule say, computed only if the job asks for it (a cron computation costs far more
 * than the gate), or the time it fired for an @Interval() or @Timeout(). A class, so that a run
 * costs one small allocation and no closure (the gate's overhead is measured per tick).
 */
class UnclaimedRunContext implements LeaderJobContext {
  readonly election: string;
  readonly term: number | null;
  readonly fencingToken: string | null;
  readonly signal: AbortSignal;
  readonly catchUp = false;
  readonly kind = 'scheduled';
  readonly missedFireTimes = NO_FIRE_TIMES;
  private computed: Date | null | undefined;

  constructor(
    termContext: LeaderJobContext,
    private readonly fireTimes: CronFireTimes | undefined,
    private readonly firedAt = Date.now(),
    signal = termContext.signal,
  ) {
    this.election = termContext.election;
    this.term = termContext.term;
    this.fencingToken = termContext.fencingToken;
    this.signal = signal;
  }

  /** The same run with its own signal (`overlap: 'cancelOther'`). */
  withSignal(signal: AbortSignal): UnclaimedRunContext {
    return new UnclaimedRunContext(this, this.fireTimes, this.firedAt, signal);
  }

  get scheduledAt(): Date | null {
    if (this.computed === undefined) {
      const fireTime = this.fireTimes === undefined ? this.firedAt : this.fireTimes.tickFireTime(this.firedAt);
      this.computed = fireTime === undefined ? null : new Date(fireTime);
    }
    return this.computed;
  }
}

/**
 * Decides, on every tick of a @LeaderOnly() job, whether it runs here, and keeps track of the jobs
 * that are running so that shutdown can wait for them before leadership is released.
 * One per application; the decision reads leadership from memory only. A job that claims its
 * ticks additionally writes the claim to the election's Lease before it runs (see ClaimedRuns).
 */
export class JobGate {
  private readonly logger = new Logger('LeaderOnly');
  private readonly counters = new Map<string, JobCounters>();
  private readonly registered = new Map<GatedJob, RegisteredJob>();
  /** A job of an election split into shards: the decorator's description -> the one of its shard. */
  private readonly routes = new Map<GatedJob, GatedJob>();
  /** Gated jobs running now, per election. */
  private readonly running = new Map<string, { count: number }>();
  /** Woken whenever a job finishes, by whoever waits for a drain. */
  private readonly finishWaiters = new Set<() => void>();
  private readonly claimed: ClaimedRuns;
  private readonly overlapping: OverlappingTicks;
  private readonly unsubscribers: (() => void)[] = [];
  /** Set by TestLeadership only: per election, the fire time that a job a test calls runs for. */
  private readonly fixedScheduledAt = new Map<string, Date | null>();

  constructor(
    private readonly elections: ReadonlyMap<string, ElectionState>,
    /** observability (issue 9): runs, skips and failures are reported here. */
    private readonly events: ElectionEvents = new ElectionEvents(),
  ) {
    this.overlapping = new OverlappingTicks(this.logger, events);
    this.claimed = new ClaimedRuns(this.logger, events, {
      started: (entry) => this.started(entry),
      finished: (entry) => this.finished(entry),
      invoke: (entry, self, args, context, settled, ledger) => this.invoke(entry, self, args, context, settled, ledger),
    });
  }

  hasElection(name: string): boolean {
    return this.elections.has(name);
  }

  electionNames(): string[] {
    return [...this.elections.keys()];
  }

  /**
   * Called by the explorer at startup for every @LeaderOnly() method of a provider instance.
   * @param scheduled whether its scheduler still runs it, when that can be known (a named @Cron())
   * @param decorated the job as its decorator describes it, when it runs in another election (a shard's)
   */
  register(job: GatedJob, instance: object, policy: JobPolicy, claims: boolean, scheduled?: () => boolean, decorated: GatedJob = job): void {
    if (decorated !== job) this.routes.set(decorated, job);
    const { schedule } = policy;
    const fireTimes = policy.fireTimes ?? (schedule.kind === 'cron' ? new CronFireTimes(schedule) : undefined);
    this.registered.set(job, {
      job, policy, claims, instance, fireTimes, scheduled,
      running: 0,
      overlapLogged: false,
      counters: this.countersOf(job.name),
      electionRunning: this.runningIn(job.election),
      planned: undefined,
      kept: undefined,
      cancellers: new Set(),
      failuresInARow: 0,
    });
  }

  /**
   * Starts watching leadership: when this pod begins a term, each claiming job of that election
   * gets a chance to catch up on the fire times nobody claimed (its `missedRuns` policy).
   */
  start(): void {
    for (const [name, state] of this.elections) {
      this.unsubscribers.push(
        state.onTermStarted((context) => {
          for (const entry of this.registered.values()) {
            if (entry.job.election === name && entry.claims) this.claimed.leadershipStarted(entry, state, context);
          }
        }),
      );
    }
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  /**
   * For tests (TestLeadership.setScheduledAt): the jobs of `election` run for this fire time, as
   * `currentLeaderJob().scheduledAt` gives it; `undefined` goes back to the real ticks' rule.
   */
  fixScheduledAt(election: string, scheduledAt: Date | null | undefined): void {
    if (scheduledAt === undefined) this.fixedScheduledAt.delete(election);
    else this.fixedScheduledAt.set(election, scheduledAt);
  }

  /**
   * Runs the job with its `this` and arguments when this pod leads its election; skips it
   * otherwise. `firedAt`: when the tick came, for a tick kept until the previous run ended.
   */
  run(decorated: GatedJob, self: unknown, args: unknown[], firedAt?: number): unknown {
    // A split election's job runs in its shard's election (one lookup, only when any is split).
    const job = this.routes.size === 0 ? decorated : (this.routes.get(decorated) ?? decorated);
    const state = this.elections.get(job.election);
    const context = state?.currentJobContext();
    const entry = this.registered.get(job);
    if (context === undefined) {
      (entry?.counters ?? this.countersOf(job.name)).skipped++;
      // observability (issue 9): counted, and summarised in one line per change of leadership
      // (SkippedTicksSummary). Never a line per tick: Nest's default logger prints every level,
      // verbose and debug included, and a follower skips every tick of every job.
      this.events.tickSkipped(job, 'not-leader');
      return undefined;
    }
    // Tests only: the map is empty in an app, so a tick pays one size check.
    const fixed = this.fixedScheduledAt.size === 0 ? undefined : this.fixedScheduledAt.get(job.election);
    if (entry === undefined) return this.invoke({ job, counters: this.countersOf(job.name) }, self, args, fixed === undefined ? context : { ...context, scheduledAt: fixed });
    // Paused cluster-wide (the Lease's control state): skipped, and counted as such.
    if (state!.control?.pauseOf(entry.policy.ledgerKey) !== undefined) {
      entry.counters.skipped++;
      this.events.tickSkipped(job, 'paused');
      return undefined;
    }
    if (entry.running > 0 && this.overlapping.onTick(entry, self, args)) return undefined;
    const ledger = state!.ledger;
    if (entry.claims && ledger !== undefined) return this.claimed.tick(entry, state!, context, self, args, firedAt);
    if (fixed !== undefined) return this.invoke(entry, self, args, { ...context, scheduledAt: fixed });
    if (entry.policy.schedule.kind === 'none') return this.invoke(entry, self, args, context);
    const runContext = new UnclaimedRunContext(context, entry.fireTimes, firedAt);
    // `claim: false` on the Lease backend: the run is recorded with the next write, so that a
    // version of the app that claims this job does not catch up the ticks this one ran.
    if (ledger !== undefined && entry.policy.schedule.kind !== 'timeout') this.recordUnclaimed(entry, ledger, runContext);
    return this.invoke(entry, self, args, runContext);
  }

  /**
   * Runs the method once under `context`, counting it as running until it settles. Never throws
   * and never rejects: a job's error is logged and counted. Returns what the method returned (a
   * promise of it for an async method; undefined after an error); `settled` learns whether it
   * succeeded.
   */
  private invoke(
    entry: Pick<RegisteredJob, 'job' | 'counters'> & Partial<RegisteredJob>,
    self: unknown,
    args: unknown[],
    context: LeaderJobContext,
    settled?: (succeeded: boolean) => void,
    ledger?: JobRunLedger,
  ): unknown {
    const { job, counters } = entry;
    let cancellable: { signal: AbortSignal; done: () => void } | undefined;
    if (entry.policy?.overlap === 'cancelOther') {
      cancellable = this.overlapping.cancellable(entry as RegisteredJob, context);
      context = context instanceof UnclaimedRunContext ? context.withSignal(cancellable.signal) : { ...context, signal: cancellable.signal };
    }
    const ended = (succeeded: boolean, error?: unknown) => {
      cancellable?.done();
      if (entry.policy !== undefined) this.outcome(entry as RegisteredJob, succeeded, error);
      settled?.(succeeded);
    };
    counters.runs++;
    this.started(entry);
    const observed = this.events.jobStarted(job, context, ledger); // observability (issue 9): undefined when nobody observes runs
    let result: unknown;
    try {
      // Reflect.apply as the callback keeps the per-tick cost free of closure allocations.
      result = observed === undefined
        ? leaderJobContextStorage.run(context, Reflect.apply, job.method, self, args)
        : this.events.runJob(observed, () => leaderJobContextStorage.run(context, Reflect.apply, job.method, self, args));
    } catch (error) {
      this.failed(job, counters, error, observed);
      ended(false, error);
      this.finished(entry);
      return undefined;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          if (observed !== undefined) this.events.jobFinished(observed, 'succeeded'); // observability (issue 9)
          ended(true);
          this.finished(entry);
          return value;
        },
        (error: unknown) => {
          this.failed(job, counters, error, observed);
          ended(false, error);
          this.finished(entry);
          return undefined;
        },
      );
    }
    if (observed !== undefined) this.events.jobFinished(observed, 'succeeded'); // observability (issue 9)
    ended(true);
    this.finished(entry);
    return result;
  }

  /** Counts failures in a row; `pauseAfterFailures` pauses the job on every pod once they reach it. */
  private outcome(entry: RegisteredJob, succeeded: boolean, error?: unknown): void {
    if (succeeded) {
      entry.failuresInARow = 0;
      return;
    }
    const limit = entry.policy.pauseAfterFailures;
    if (limit === undefined || ++entry.failuresInARow < limit) return;
    entry.failuresInARow = 0;
    const state = this.elections.get(entry.job.election);
    const control = state?.control;
    if (state === undefined || control === undefined) return;
    const message = error instanceof Error ? error.message : String(error);
    this.logger.warn(JOB_PAUSED_ITSELF(entry.job.name, limit, message));
    this.events.jobPausedItself(entry.job);
    void control.pause(entry.policy.ledgerKey, { by: `${state.identity} (pauseAfterFailures)`, at: Date.now(), note: `failed ${limit} times in a row; the last error: ${message}` })
      .catch((cause: unknown) => this.logger.error(`${entry.job.name} could not pause itself: ${cause instanceof Error ? cause.message : String(cause)}`));
  }

  private recordUnclaimed(entry: RegisteredJob, ledger: TickLedger, context: UnclaimedRunContext): void {
    const scheduledAt = context.scheduledAt;
    if (scheduledAt !== null) ledger.ranUnclaimed(entry.policy.ledgerKey, { fireTime: scheduledAt.getTime(), state: 'succeeded', term: context.term ?? 0 });
  }

  /** A job that throws is logged and counted; it never reaches the scheduler or the process. */
  private failed(job: GatedJob, counters: JobCounters, error: unknown, observed?: JobRun): void {
    counters.failed++;
    if (observed !== undefined) this.events.jobFinished(observed, 'failed', error); // observability (issue 9)
    this.logger.error(`${JOB_FAILED(job.name)}: ${error instanceof Error ? error.message : String(error)}`, error instanceof Error ? error.stack : undefined);
  }

  private started(entry: { job: GatedJob; running?: number; electionRunning?: { count: number } }): void {
    if (entry.running !== undefined) entry.running++;
    (entry.electionRunning ?? this.runningIn(entry.job.election)).count++;
  }

  private finished(entry: { job: GatedJob; running?: number; overlapLogged?: boolean; electionRunning?: { count: number }; kept?: unknown }): void {
    if (entry.running !== undefined && --entry.running === 0) {
      entry.overlapLogged = false;
      // A tick kept while it ran (overlap 'bufferOne' or 'cancelOther') runs now, for its own time.
      const kept = entry.kept === undefined ? undefined : this.overlapping.takeKept(entry as RegisteredJob);
      if (kept !== undefined) queueMicrotask(() => void this.run(entry.job, kept.self, kept.args, kept.firedAt));
    }
    (entry.electionRunning ?? this.runningIn(entry.job.election)).count--;
    if (this.finishWaiters.size > 0) for (const wake of this.finishWaiters) wake();
  }

  /** The running count of one election: one object per election, updated in place on every run. */
  private runningIn(election: string): { count: number } {
    let running = this.running.get(election);
    if (running === undefined) {
      running = { count: 0 };
      this.running.set(election, running);
    }
    return running;
  }

  private countersOf(name: string): JobCounters {
    let counters = this.counters.get(name);
    if (counters === undefined) {
      counters = { runs: 0, skipped: 0, failed: 0 };
      this.counters.set(name, counters);
    }
    return counters;
  }

  /** The jobs registered in this application, as the explorer registered them. */
  jobs(): IterableIterator<RegisteredJob> {
    return this.registered.values();
  }

  /** The registered job of an observed run (the gate reports runs with the job itself). */
  registeredJob(job: object): RegisteredJob | undefined {
    return this.registered.get(job as GatedJob);
  }

  /** Resolves once no run of the job is in progress in this process. */
  async idle(entry: RegisteredJob): Promise<void> {
    while (entry.running > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.finishWaiters.delete(wake);
          resolve();
        };
        this.finishWaiters.add(wake);
      });
    }
  }

  /** Runs a job once for a request (run now, backfill), with the gate's counting and reporting. */
  runFor(entry: RegisteredJob, context: LeaderJobContext, ledger: JobRunLedger): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let succeeded = true;
      const result = this.invoke(entry, entry.instance, [], context, (ok) => (succeeded = ok), ledger);
      void Promise.resolve(result).then(() => resolve(succeeded));
    });
  }

  /** A snapshot of every job's counters, keyed by `ClassName.methodName`. */
  snapshot(): Record<string, JobCounters> {
    return Object.fromEntries([...this.counters].map(([name, counters]) => [name, { ...counters }]));
  }

  /**
   * Resolves once no gated job of `elections` (every election, if omitted) is running, or after
   * `timeoutMs`, with the elections whose jobs are still running then and how many (empty: all
   * drained). A timeout is logged once, naming them.
   */
  async drain(timeoutMs: number, elections?: readonly string[]): Promise<Record<string, number>> {
    const busy = () =>
      Object.fromEntries(
        [...this.running]
          .filter(([election, { count }]) => count > 0 && (elections === undefined || elections.includes(election)))
          .map(([election, { count }]) => [election, count]),
      );
    if (Object.keys(busy()).length === 0) return {};
    let wake: () => void = () => {};
    let timedOut = false;
    const timer = setSafeTimeout(() => {
      timedOut = true;
      wake();
    }, timeoutMs);
    try {
      while (!timedOut && Object.keys(busy()).length > 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.finishWaiters.add(resolve);
        });
        this.finishWaiters.delete(wake);
      }
    } finally {
      clearTimeout(timer);
      this.finishWaiters.delete(wake);
    }
    const still = busy();
    if (Object.keys(still).length > 0) this.logger.warn(DRAIN_TIMED_OUT(still, timeoutMs));
    return still;
  }
}
