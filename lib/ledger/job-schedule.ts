/*
 * The Reflect metadata keys under which @nestjs/schedule's decorators store a job's schedule, on
 * the method function itself, and the values of its SchedulerType enum. @nestjs/schedule exports
 * neither (dist/index.d.ts exports CronExpression, the decorators, the module and the registry)
 * and its `exports` map allows no deep import, so the values are repeated here, from
 * dist/schedule.constants.js and dist/enums/scheduler-type.enum.js of @nestjs/schedule 12.0.2;
 * test/ledger-job-schedule.spec.ts applies the real decorators and proves they read back.
 */
export const SCHEDULER_NAME = 'SCHEDULER_NAME';
export const SCHEDULER_TYPE = 'SCHEDULER_TYPE';
export const SCHEDULE_CRON_OPTIONS = 'SCHEDULE_CRON_OPTIONS';
export const SCHEDULE_INTERVAL_OPTIONS = 'SCHEDULE_INTERVAL_OPTIONS';
export const SCHEDULE_TIMEOUT_OPTIONS = 'SCHEDULE_TIMEOUT_OPTIONS';
export const SchedulerType = { CRON: 1, TIMEOUT: 2, INTERVAL: 3 } as const;

/** A `@Cron()` job: what @nestjs/schedule hands to `CronJob.from()`. */
export interface CronSchedule {
  readonly kind: 'cron';
  /** The cron expression, or a Date for a job that fires once (a luxon DateTime is read as its Date). */
  readonly cronTime: string | Date;
  /** IANA time zone; without it and without `utcOffset`, cron uses the process's time zone. */
  readonly timeZone?: string;
  /** Fixed offset from UTC, in minutes (cron's unit). */
  readonly utcOffset?: number;
  /** `@Cron({ name })`, unique per app (SchedulerRegistry rejects duplicates). */
  readonly name?: string;
  /** `@Cron({ disabled: true })`: the CronJob is created but never started. */
  readonly disabled: boolean;
  /** cron's `threshold` in ms (its default is 250): see fire-times.ts on what it does. */
  readonly threshold?: number;
  /** `@Cron({ waitForCompletion: true })`: cron itself drops ticks while the job runs, silently. */
  readonly waitForCompletion: boolean;
}

export interface IntervalSchedule {
  readonly kind: 'interval';
  /** The interval's period in milliseconds (`setInterval` on each pod, from its bootstrap). */
  readonly ms: number;
  readonly name?: string;
}

export interface TimeoutSchedule {
  readonly kind: 'timeout';
  /** Delay after each pod's bootstrap, in milliseconds (`setTimeout`, once per process). */
  readonly ms: number;
  readonly name?: string;
}

/** A `@LeaderOnly()` method that no scheduler calls: the app calls it by hand. */
export interface NoSchedule {
  readonly kind: 'none';
}

export type JobSchedule = CronSchedule | IntervalSchedule | TimeoutSchedule | NoSchedule;

/**
 * The schedule @nestjs/schedule's decorators stored on `method`. Pass the function found on the
 * prototype (`prototype[methodName]`), which is the one the scheduler reads: with `@LeaderOnly()`
 * above `@Cron()`, the decorator copied the metadata onto its wrapper; below it, `@Cron()` wrote
 * straight onto the wrapper. The original method (`GatedJob.method`) may carry none.
 */
export function readJobSchedule(method: unknown): JobSchedule {
  if (typeof method !== 'function') return { kind: 'none' };
  const type: unknown = Reflect.getMetadata(SCHEDULER_TYPE, method);
  const name = optionalString(Reflect.getMetadata(SCHEDULER_NAME, method));
  switch (type) {
    case SchedulerType.CRON:
      return cronSchedule(Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, method) ?? {}, name);
    case SchedulerType.INTERVAL:
      return { kind: 'interval', ms: timeoutOf(Reflect.getMetadata(SCHEDULE_INTERVAL_OPTIONS, method)), ...(name !== undefined && { name }) };
    case SchedulerType.TIMEOUT:
      return { kind: 'timeout', ms: timeoutOf(Reflect.getMetadata(SCHEDULE_TIMEOUT_OPTIONS, method)), ...(name !== undefined && { name }) };
    default:
      return { kind: 'none' };
  }
}

function cronSchedule(options: Record<string, unknown>, name: string | undefined): CronSchedule {
  const { cronTime, timeZone, utcOffset, disabled, threshold, waitForCompletion } = options;
  return {
    kind: 'cron',
    cronTime: asCronTime(cronTime),
    // CronJob.from() treats null like undefined (`!= null`), so do we.
    ...(timeZone != null && { timeZone: timeZone as string }),
    ...(utcOffset != null && { utcOffset: utcOffset as number }),
    ...(name !== undefined && { name }),
    disabled: Boolean(disabled),
    ...(threshold != null && { threshold: threshold as number }),
    waitForCompletion: Boolean(waitForCompletion),
  };
}

/** cron accepts a luxon DateTime as a one-off date; it fires at that instant, which a Date keeps. */
function asCronTime(value: unknown): string | Date {
  if (value instanceof Date) return value;
  if (value !== null && typeof value === 'object' && typeof (value as { toMillis?: unknown }).toMillis === 'function') {
    return new Date((value as { toMillis(): number }).toMillis());
  }
  return value as string;
}

function timeoutOf(options: unknown): number {
  return (options as { timeout?: number } | undefined)?.timeout as number;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
