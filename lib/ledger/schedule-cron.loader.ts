import { createRequire } from 'node:module';

/**
 * The few members of the `cron` package the ledger uses, typed structurally so that this library
 * needs neither its own copy of `cron` nor its type declarations.
 */
export interface CronTimeLike {
  /** True when the source is a date (a job that fires once) rather than a cron expression. */
  readonly realDate: boolean;
  /** The expression, or a luxon DateTime for a one-off date. */
  readonly source: unknown;
  /** The first fire time strictly after `start`, as a luxon DateTime, computed in `zone`. */
  getNextDateFrom(start: Date, zone?: string): { toMillis(): number };
}

export interface CronPackage {
  CronTime: new (source: unknown, timeZone?: string | null, utcOffset?: number | null) => CronTimeLike;
  CronJob: {
    from(params: Record<string, unknown>): {
      readonly cronTime: CronTimeLike;
      start(): void;
      stop(): unknown;
    };
  };
}

let loaded: CronPackage | undefined;

/**
 * The `cron` package exactly as `@nestjs/schedule` loads it: resolved from `@nestjs/schedule`'s own
 * location, so the fire times computed here come from the same code (the same version, the same
 * copy) as the CronJob that actually fires the job. A copy of our own could drift: @nestjs/schedule
 * pins one exact version (12.0.2 pins cron 4.4.0), and a second copy in another version would
 * compute other fire times around DST changes the day either side upgrades.
 * Loaded on first use, so an app that never claims a cron tick never loads it.
 */
export function scheduleCron(): CronPackage {
  if (loaded === undefined) {
    const schedule = createRequire(import.meta.url).resolve('@nestjs/schedule');
    loaded = createRequire(schedule)('cron') as CronPackage;
  }
  return loaded;
}
