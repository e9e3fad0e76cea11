import { Logger } from '@nestjs/common';
import type { ElectionState } from '../leadership/election-state.js';
import { DRAIN_TIMED_OUT, JOB_FAILED } from '../leader-election.messages.js';
import { setSafeTimeout } from '../leadership/timers.js';
import { leaderJobContextStorage } from './leader-job-context.storage.js';
import { ElectionEvents, type JobRun } from '../observability/election-events.js';

/** A @LeaderOnly() method, as the decorator describes it to the gate. */
export interface GatedJob {
  /** `ClassName.methodName`, for logs and counters. */
  readonly name: string;
  readonly election: string;
  readonly method: (...args: unknown[]) => unknown;
}

/** How often each job ran, was skipped on a follower, or failed, in this process. */
export interface JobCounters {
  runs: number;
  skipped: number;
  failed: number;
}

/**
 * Decides, on every tick of a @LeaderOnly() job, whether it runs here, and keeps track of the jobs
 * that are running so that shutdown can wait for them before leadership is released.
 * One per application; it reads leadership from memory only, never over the network.
 */
export class JobGate {
  private readonly logger = new Logger('LeaderOnly');
  private readonly counters = new Map<string, JobCounters>();
  /** Gated jobs running now, per election. */
  private readonly running = new Map<string, number>();
  /** Woken whenever a job finishes, by whoever waits for a drain. */
  private readonly finishWaiters = new Set<() => void>();

  constructor(
    private readonly elections: ReadonlyMap<string, ElectionState>,
    /** observability (issue 9): runs, skips and failures are reported here. */
    private readonly events: ElectionEvents = new ElectionEvents(),
  ) {}

  hasElection(name: string): boolean {
    return this.elections.has(name);
  }

  electionNames(): string[] {
    return [...this.elections.keys()];
  }

  /** Runs the job with its `this` and arguments when this pod leads its election; skips it otherwise. */
  run(job: GatedJob, self: unknown, args: unknown[]): unknown {
    const counters = this.countersOf(job.name);
    const context = this.elections.get(job.election)?.currentJobContext();
    if (context === undefined) {
      counters.skipped++;
      // observability (issue 9): counted, and summarised in one line per change of leadership
      // (SkippedTicksSummary). Never a line per tick: Nest's default logger prints every level,
      // verbose and debug included, and a follower skips every tick of every job.
      this.events.tickSkipped(job, 'not-leader');
      return undefined;
    }
    counters.runs++;
    this.running.set(job.election, (this.running.get(job.election) ?? 0) + 1);
    const observed = this.events.jobStarted(job, context); // observability (issue 9): undefined when nobody observes runs
    let result: unknown;
    try {
      // Reflect.apply as the callback keeps the per-tick cost free of closure allocations.
      result = observed === undefined
        ? leaderJobContextStorage.run(context, Reflect.apply, job.method, self, args)
        : this.events.runJob(observed, () => leaderJobContextStorage.run(context, Reflect.apply, job.method, self, args));
    } catch (error) {
      this.failed(job, counters, error, observed);
      this.finished(job);
      return undefined;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          if (observed !== undefined) this.events.jobFinished(observed, 'succeeded'); // observability (issue 9)
          this.finished(job);
          return value;
        },
        (error: unknown) => {
          this.failed(job, counters, error, observed);
          this.finished(job);
          return undefined;
        },
      );
    }
    if (observed !== undefined) this.events.jobFinished(observed, 'succeeded'); // observability (issue 9)
    this.finished(job);
    return result;
  }

  /** A job that throws is logged and counted; it never reaches the scheduler or the process. */
  private failed(job: GatedJob, counters: JobCounters, error: unknown, observed?: JobRun): void {
    counters.failed++;
    if (observed !== undefined) this.events.jobFinished(observed, 'failed', error); // observability (issue 9)
    this.logger.error(`${JOB_FAILED(job.name)}: ${error instanceof Error ? error.message : String(error)}`, error instanceof Error ? error.stack : undefined);
  }

  private finished(job: GatedJob): void {
    const left = (this.running.get(job.election) ?? 1) - 1;
    if (left === 0) this.running.delete(job.election);
    else this.running.set(job.election, left);
    for (const wake of this.finishWaiters) wake();
  }

  private countersOf(name: string): JobCounters {
    let counters = this.counters.get(name);
    if (counters === undefined) {
      counters = { runs: 0, skipped: 0, failed: 0 };
      this.counters.set(name, counters);
    }
    return counters;
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
    const busy = () => Object.fromEntries([...this.running].filter(([election]) => elections === undefined || elections.includes(election)));
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
