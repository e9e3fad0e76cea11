import { Injectable, type Type } from '@nestjs/common';
import { Cron, Interval } from '@nestjs/schedule';
import { EventEmitter, once } from 'node:events';
import { currentLeaderJob, LeaderOnly, type LeaderJobContext, type LeaderOnlyOptions } from '../../lib/index.js';

/** One run of a recorded job, as the job itself saw it. */
export interface RecordedRun {
  /** The pod (candidate) it ran on. */
  identity: string;
  /** The job's name as the recorder was told (e.g. the method). */
  job: string;
  context: LeaderJobContext;
}

/**
 * Every run of the recorded jobs of a test, on every candidate, in the order they started. The
 * jobs are real `@Cron()`/`@Interval()` methods with `@LeaderOnly()`: the recorder only sees
 * what the gate let through, with the context the gate gave.
 */
export class RunRecorder extends EventEmitter {
  readonly runs: RecordedRun[] = [];

  record(identity: string, job: string): RecordedRun {
    const context = currentLeaderJob()!;
    // scheduledAt may be a getter (computed when first read): copy its value, not the accessor.
    const run = { identity, job, context: { ...context, scheduledAt: context.scheduledAt } };
    this.runs.push(run);
    this.emit('run', run);
    return run;
  }

  /** The runs of one job (all, if omitted). */
  of(job?: string): RecordedRun[] {
    return job === undefined ? this.runs : this.runs.filter((run) => run.job === job);
  }

  /** The fire times the runs stood for, in the order they ran. */
  scheduledTimes(job?: string): number[] {
    return this.of(job).map((run) => run.context.scheduledAt!.getTime());
  }

  /** Fire times that ran more than once (should be none). */
  duplicates(job?: string): number[] {
    const times = this.scheduledTimes(job);
    return [...new Set(times.filter((time, i) => times.indexOf(time) !== i))];
  }

  /** Resolves once `predicate` holds (now, or after a later run), or rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
    const signal = AbortSignal.timeout(timeoutMs);
    while (!predicate()) await once(this, 'run', { signal });
  }

  clear(): void {
    this.runs.length = 0;
  }
}

export interface RecordedJobSpec {
  recorder: RunRecorder;
  /** The candidate the class is for: every run records it. */
  identity: string;
  options?: LeaderOnlyOptions;
  /** What each run does after it was recorded (default: nothing). */
  work?: (run: RecordedRun) => Promise<void> | void;
}

/** A provider with one `@Cron(expression)` job named `tick`, recorded as `job`. */
export function cronJob({ recorder, identity, options = {}, work }: RecordedJobSpec, expression = '* * * * * *', cronName?: string, job = 'tick'): Type<{ tick(): Promise<void> }> {
  @Injectable()
  class RecordedCronJob {
    @Cron(expression, cronName === undefined ? {} : { name: cronName })
    @LeaderOnly(options)
    async tick() {
      const run = recorder.record(identity, job);
      await work?.(run);
    }
  }
  return RecordedCronJob;
}

/** A provider with one `@Interval(ms)` job named `every`, recorded as `job`. */
export function intervalJob({ recorder, identity, options = {}, work }: RecordedJobSpec, ms: number, job = 'every'): Type<{ every(): Promise<void> }> {
  @Injectable()
  class RecordedIntervalJob {
    @Interval(ms)
    @LeaderOnly(options)
    async every() {
      const run = recorder.record(identity, job);
      await work?.(run);
    }
  }
  return RecordedIntervalJob;
}

/** Resolves when `signal` aborts: a run that stops as soon as its leadership ends. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : once(signal, 'abort').then(() => undefined);
}
