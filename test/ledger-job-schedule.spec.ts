import { Injectable } from '@nestjs/common';
import { Cron, CronExpression, Interval, SchedulerRegistry, Timeout } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderOnly } from '../lib/index.js';
import {
  readJobSchedule,
  SCHEDULE_CRON_OPTIONS,
  SCHEDULE_INTERVAL_OPTIONS,
  SCHEDULE_TIMEOUT_OPTIONS,
  SCHEDULER_NAME,
  SCHEDULER_TYPE,
  SchedulerType,
} from '../lib/ledger/job-schedule.js';
import { scheduleCron } from '../lib/ledger/schedule-cron.loader.js';
import { closeAll, startApp } from './support/nest-app.js';
import type { INestApplication } from '@nestjs/common';

class Decorated {
  @Cron('0 30 2 * * *', { name: 'nightly', timeZone: 'Europe/Berlin', threshold: 1000, waitForCompletion: true })
  cron(): void {}

  @Cron(CronExpression.EVERY_5_MINUTES, { utcOffset: 120, disabled: true })
  offset(): void {}

  @Cron(new Date('2030-01-01T00:00:00Z'))
  once(): void {}

  @Interval('poll', 2_500)
  interval(): void {}

  @Timeout(1_000)
  timeout(): void {}

  plain(): void {}
}

const proto = Decorated.prototype as unknown as Record<string, object>;

describe('the metadata keys repeated from @nestjs/schedule', () => {
  it('read back what the real decorators stored', () => {
    expect(Reflect.getMetadataKeys(proto.cron)).toEqual(expect.arrayContaining([SCHEDULER_TYPE, SCHEDULER_NAME, SCHEDULE_CRON_OPTIONS]));
    expect(Reflect.getMetadata(SCHEDULER_TYPE, proto.cron)).toBe(SchedulerType.CRON);
    expect(Reflect.getMetadata(SCHEDULER_NAME, proto.cron)).toBe('nightly');
    expect(Reflect.getMetadata(SCHEDULE_CRON_OPTIONS, proto.cron)).toMatchObject({ cronTime: '0 30 2 * * *', timeZone: 'Europe/Berlin' });
    expect(Reflect.getMetadata(SCHEDULER_TYPE, proto.interval)).toBe(SchedulerType.INTERVAL);
    expect(Reflect.getMetadata(SCHEDULE_INTERVAL_OPTIONS, proto.interval)).toEqual({ timeout: 2_500 });
    expect(Reflect.getMetadata(SCHEDULER_TYPE, proto.timeout)).toBe(SchedulerType.TIMEOUT);
    expect(Reflect.getMetadata(SCHEDULE_TIMEOUT_OPTIONS, proto.timeout)).toEqual({ timeout: 1_000 });
    // Every key the decorators wrote is one of ours: nothing stored elsewhere is missed.
    const keys = new Set([proto.cron, proto.interval, proto.timeout].flatMap((method) => Reflect.getMetadataKeys(method)));
    expect([...keys].sort()).toEqual([SCHEDULER_NAME, SCHEDULER_TYPE, SCHEDULE_CRON_OPTIONS, SCHEDULE_INTERVAL_OPTIONS, SCHEDULE_TIMEOUT_OPTIONS].sort());
  });
});

describe('readJobSchedule', () => {
  it('describes a @Cron() with its time zone, name and cron options', () => {
    expect(readJobSchedule(proto.cron)).toEqual({
      kind: 'cron', cronTime: '0 30 2 * * *', timeZone: 'Europe/Berlin', name: 'nightly', disabled: false, threshold: 1000, waitForCompletion: true,
    });
    expect(readJobSchedule(proto.offset)).toEqual({ kind: 'cron', cronTime: '0 */5 * * * *', utcOffset: 120, disabled: true, waitForCompletion: false });
    expect(readJobSchedule(proto.once)).toEqual({ kind: 'cron', cronTime: new Date('2030-01-01T00:00:00Z'), disabled: false, waitForCompletion: false });
  });

  it('describes @Interval() and @Timeout() in milliseconds, and anything else as unscheduled', () => {
    expect(readJobSchedule(proto.interval)).toEqual({ kind: 'interval', ms: 2_500, name: 'poll' });
    expect(readJobSchedule(proto.timeout)).toEqual({ kind: 'timeout', ms: 1_000 });
    expect(readJobSchedule(proto.plain)).toEqual({ kind: 'none' });
    expect(readJobSchedule(undefined)).toEqual({ kind: 'none' });
  });

  it('finds the schedule with @LeaderOnly() above or below @Cron()', () => {
    class BothOrders {
      @LeaderOnly()
      @Cron('0 0 * * * *', { timeZone: 'UTC' })
      above(): void {}

      @Cron('0 0 * * * *', { timeZone: 'UTC' })
      @LeaderOnly()
      below(): void {}
    }
    const methods = BothOrders.prototype as unknown as Record<string, object>;
    const expected = { kind: 'cron', cronTime: '0 0 * * * *', timeZone: 'UTC', disabled: false, waitForCompletion: false };
    expect(readJobSchedule(methods.above)).toEqual(expected);
    expect(readJobSchedule(methods.below)).toEqual(expected);
  });
});

@Injectable()
class NamedCron {
  @Cron('*/10 * * * * *', { name: 'ledger-probe', timeZone: 'Europe/Berlin' })
  @LeaderOnly()
  probe(): void {}
}

describe('the cron package the ledger loads', () => {
  const apps: INestApplication[] = [];
  afterEach(() => closeAll(apps.splice(0)));

  it('is the very copy whose CronJob @nestjs/schedule runs the job with', async () => {
    const { app } = await startApp({ providers: [NamedCron] });
    apps.push(app);
    const job = app.get(SchedulerRegistry).getCronJob('ledger-probe');
    const cron = scheduleCron();
    expect(job).toBeInstanceOf(cron.CronJob as unknown as new () => object);
    expect(job.cronTime).toBeInstanceOf(cron.CronTime);
  });
});
