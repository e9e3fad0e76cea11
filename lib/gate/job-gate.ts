import { Logger } from '@nestjs/common';
import type { ElectionState } from '../leadership/election-state.js';
import { DRAIN_TIMED_OUT, JOB_FAILED, JOB_SKIPPED } from '../leader-election.messages.js';
import { leaderJobContextStorage } from './leader-job-context.storage.js';

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
  private running = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly elections: ReadonlyMap<string, ElectionState>) {}

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
      // Checked first: building and dispatching a filtered debug line costs more than the gate.
      if (Logger.isLevelEnabled('debug')) this.logger.debug(JOB_SKIPPED(job.name, job.election));
      return undefined;
    }
    counters.runs++;
    this.running++;
    let result: unknown;
    try {
      // Reflect.apply as the callback keeps the per-tick cost free of closure allocations.
      result = leaderJobContextStorage.run(context, Reflect.apply, job.method, self, args);
    } catch (error) {
      this.failed(job, counters, error);
      this.finished();
      return undefined;
    }
    if (result instanceof Promise) {
      return result.then(
        (value: unknown) => {
          this.finished();
          return value;
        },
        (error: unknown) => {
          this.failed(job, counters, error);
          this.finished();
          return undefined;
        },
      );
    }
    this.finished();
    return result;
  }

  /** A job that throws is logged and counted; it never reaches the scheduler or the process. */
  private failed(job: GatedJob, counters: JobCounters, error: unknown): void {
    counters.failed++;
    this.logger.error(`${JOB_FAILED(job.name)}: ${error instanceof Error ? error.message : String(error)}`, error instanceof Error ? error.stack : undefined);
  }

  private finished(): void {
    this.running--;
    if (this.running === 0) this.drained?.();
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

  /** Resolves when no gated job is running, or after `timeoutMs`; says which. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.running === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<boolean>((resolve) => {
      this.drained = () => resolve(true);
    });
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    this.drained = undefined;
    if (!done) this.logger.warn(DRAIN_TIMED_OUT(this.running, timeoutMs));
    return done;
  }
}
