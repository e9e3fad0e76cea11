import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronFireTimes } from '../lib/ledger/fire-times.js';
import type { CronSchedule } from '../lib/ledger/job-schedule.js';
import { scheduleCron } from '../lib/ledger/schedule-cron.loader.js';

type Zoned = Pick<CronSchedule, 'cronTime' | 'timeZone' | 'utcOffset'>;
const at = (iso: string) => new Date(iso).getTime();
const iso = (ms: number) => new Date(ms).toISOString();

/** Every time the real CronJob (the copy @nestjs/schedule uses) calls its job in [from, to], under fake time. */
function realCronJobTicks(schedule: Zoned, from: string, to: string): number[] {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(at(from));
  const ticks: number[] = [];
  const job = scheduleCron().CronJob.from({ ...schedule, onTick: () => void ticks.push(Date.now()), start: true });
  vi.advanceTimersByTime(at(to) - at(from));
  job.stop();
  return ticks;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('fire times match the real CronJob, across DST changes (Europe/Berlin, 2026)', () => {
  const berlin = (cronTime: string): Zoned => ({ cronTime, timeZone: 'Europe/Berlin' });
  const cases: Array<{ name: string; schedule: Zoned; from: string; to: string; expected: string[] }> = [
    {
      name: 'every 15 minutes, clocks forward: 02:00-02:59 does not exist, 01:45 CET is followed by 03:00 CEST',
      schedule: berlin('0 */15 * * * *'), from: '2026-03-29T00:20:00Z', to: '2026-03-29T01:20:00Z',
      expected: ['2026-03-29T00:30:00.000Z', '2026-03-29T00:45:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-29T01:15:00.000Z'],
    },
    {
      name: 'daily at 02:30, clocks forward: fires at the jump, 03:00 CEST',
      schedule: berlin('0 30 2 * * *'), from: '2026-03-28T00:00:00Z', to: '2026-03-30T23:00:00Z',
      expected: ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    },
    {
      name: 'hourly, clocks back: 02:00 fires twice, in CEST and in CET',
      schedule: berlin('0 0 * * * *'), from: '2026-10-24T22:30:00Z', to: '2026-10-25T02:30:00Z',
      expected: ['2026-10-24T23:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z'],
    },
    {
      name: 'daily at 02:30, clocks back: fires once, in the first pass (CEST)',
      schedule: berlin('0 30 2 * * *'), from: '2026-10-24T00:00:00Z', to: '2026-10-26T23:00:00Z',
      expected: ['2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'],
    },
    {
      name: 'a fixed UTC offset in minutes (+05:30), as cron builds the zone',
      schedule: { cronTime: '0 0 9 * * *', utcOffset: 330 }, from: '2026-06-01T00:00:00Z', to: '2026-06-02T23:00:00Z',
      expected: ['2026-06-01T03:30:00.000Z', '2026-06-02T03:30:00.000Z'],
    },
    {
      name: 'a negative offset that is not whole hours (-01:30)',
      schedule: { cronTime: '0 0 0 * * *', utcOffset: -90 }, from: '2026-06-01T00:00:00Z', to: '2026-06-02T12:00:00Z',
      expected: ['2026-06-01T01:30:00.000Z', '2026-06-02T01:30:00.000Z'],
    },
  ];

  it.each(cases)('$name', ({ schedule, from, to, expected }) => {
    const ticks = realCronJobTicks(schedule, from, to);
    expect(ticks.map(iso)).toEqual(expected);
    const fireTimes = new CronFireTimes(schedule);
    expect(fireTimes.between(at(from), at(to), 100).fireTimes.map(iso)).toEqual(expected);
    // Every tick the CronJob made belongs to its own fire time, and `next` walks the same sequence.
    for (const tick of ticks) expect(fireTimes.tickFireTime(tick)).toBe(tick);
    for (let i = 1; i < ticks.length; i++) expect(fireTimes.next(ticks[i - 1] as number)).toBe(ticks[i]);
  });

  it('the repeated hour: a CronJob started inside it also fires a daily 02:30 CET (cron 4.4 does, so does next())', () => {
    const schedule = berlin('0 30 2 * * *');
    // Started at 02:10 CET, in the second pass of the repeated hour.
    expect(realCronJobTicks(schedule, '2026-10-25T01:10:00Z', '2026-10-25T02:00:00Z').map(iso)).toEqual(['2026-10-25T01:30:00.000Z']);
    expect(new CronFireTimes(schedule).next(at('2026-10-25T01:10:00Z'))).toBe(at('2026-10-25T01:30:00Z'));
  });
});

describe('tickFireTime: the fire time a tick belongs to', () => {
  const hourly = () => new CronFireTimes({ cronTime: '0 0 * * * *', timeZone: 'UTC' });
  const perSecond = () => new CronFireTimes({ cronTime: '* * * * * *', timeZone: 'UTC' });

  it.each([
    { when: 'on time', now: '2026-05-01T10:00:00.003Z', expected: '2026-05-01T10:00:00.000Z' },
    { when: '3 s late (a GC pause)', now: '2026-05-01T10:00:03.000Z', expected: '2026-05-01T10:00:00.000Z' },
    { when: '59 s late, within the look-back', now: '2026-05-01T10:00:59.000Z', expected: '2026-05-01T10:00:00.000Z' },
    { when: '20 ms early, within the tolerance', now: '2026-05-01T09:59:59.980Z', expected: '2026-05-01T10:00:00.000Z' },
    { when: '100 ms early: still the previous hour, which is beyond the look-back', now: '2026-05-01T09:59:59.900Z', expected: undefined },
    { when: '61 s late, beyond the look-back', now: '2026-05-01T10:01:01.000Z', expected: undefined },
  ])('hourly job, tick $when', ({ now, expected }) => {
    expect(new CronFireTimes({ cronTime: '0 0 * * * *', timeZone: 'UTC' }).tickFireTime(at(now))).toBe(expected === undefined ? undefined : at(expected));
  });

  it('a longer look-back finds an older fire time', () => {
    expect(hourly().tickFireTime(at('2026-05-01T10:30:00Z'), { lookBackMs: 3_600_000 })).toBe(at('2026-05-01T10:00:00Z'));
  });

  it('a tick delayed past the next fire time belongs to that next one', () => {
    expect(perSecond().tickFireTime(at('2026-05-01T10:00:01.363Z'))).toBe(at('2026-05-01T10:00:01Z'));
  });

  it('answers a running job from its memo with one cron computation per tick, like the CronJob itself', () => {
    const fireTimes = perSecond();
    fireTimes.tickFireTime(at('2026-05-01T10:00:00.002Z'));
    const next = vi.spyOn(fireTimes, 'next');
    const previous = vi.spyOn(fireTimes, 'previous');
    for (let second = 1; second <= 20; second++) {
      expect(fireTimes.tickFireTime(at('2026-05-01T10:00:00.004Z') + second * 1_000)).toBe(at('2026-05-01T10:00:00Z') + second * 1_000);
    }
    expect(next).toHaveBeenCalledTimes(20);
    expect(previous).not.toHaveBeenCalled();
    // Far from the memo (a clock step, a long pause): a fresh search, and the same answer as a new instance.
    expect(fireTimes.tickFireTime(at('2026-05-01T12:34:56.010Z'))).toBe(at('2026-05-01T12:34:56Z'));
    expect(fireTimes.tickFireTime(at('2026-05-01T08:00:00.010Z'))).toBe(at('2026-05-01T08:00:00Z'));
  });
});

describe('between, previous, latest: bounded, whatever the schedule', () => {
  it('between stops at maxCount: a per-second job over a day costs maxCount + 1 computations', () => {
    const fireTimes = new CronFireTimes({ cronTime: '* * * * * *', timeZone: 'UTC' });
    const next = vi.spyOn(fireTimes, 'next');
    const found = fireTimes.between(at('2026-05-01T00:00:00Z'), at('2026-05-02T00:00:00Z'), 5);
    expect(found).toEqual({ fireTimes: [1, 2, 3, 4, 5].map((s) => at('2026-05-01T00:00:00Z') + s * 1_000), truncated: true });
    expect(next).toHaveBeenCalledTimes(6);
  });

  it('between includes its end and excludes its start', () => {
    const fireTimes = new CronFireTimes({ cronTime: '0 0 * * * *', timeZone: 'UTC' });
    expect(fireTimes.between(at('2026-05-01T10:00:00Z'), at('2026-05-01T12:00:00Z'), 10).fireTimes.map(iso)).toEqual(['2026-05-01T11:00:00.000Z', '2026-05-01T12:00:00.000Z']);
  });

  it.each([
    { cronTime: '*/13 * * * * *', span: 600_000 },
    { cronTime: '0 */7 9-17 * * 1-5', span: 2 * 86_400_000 },
    { cronTime: '0 0 12 * * *', span: 9 * 86_400_000 },
  ])('previous and latest agree with walking forward ($cronTime)', ({ cronTime, span }) => {
    const fireTimes = new CronFireTimes({ cronTime, timeZone: 'Europe/Berlin' });
    const start = at('2026-05-04T06:00:00Z');
    const all = fireTimes.between(start, start + span, 5_000).fireTimes;
    expect(all.length).toBeGreaterThan(5);
    for (const before of [all[3] as number, (all[4] as number) + 1, start + span / 2, start + span]) {
      const expected = all.filter((fire) => fire < before);
      expect(fireTimes.previous(before, start + 1)).toBe(expected[expected.length - 1]);
      expect(fireTimes.latest(start, before, 3)).toEqual({ fireTimes: expected.slice(-3), truncated: expected.length > 3 });
    }
    expect(fireTimes.previous(all[0] as number, start + 1)).toBeUndefined();
  });

  it('latest after a day-long gap of a per-second job costs tens of computations, not 86400', () => {
    const fireTimes = new CronFireTimes({ cronTime: '* * * * * *', timeZone: 'UTC' });
    const next = vi.spyOn(fireTimes, 'next');
    const end = at('2026-05-02T00:00:00Z');
    expect(fireTimes.latest(at('2026-05-01T00:00:00Z'), end, 10)).toEqual({ fireTimes: [10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((s) => end - s * 1_000), truncated: true });
    expect(next.mock.calls.length).toBeLessThan(200);
  });

  it('a one-off date has exactly one fire time', () => {
    const fireTimes = new CronFireTimes({ cronTime: new Date('2030-01-01T00:00:00Z') });
    expect(fireTimes.next(at('2029-12-31T00:00:00Z'))).toBe(at('2030-01-01T00:00:00Z'));
    expect(fireTimes.next(at('2030-01-01T00:00:00Z'))).toBeUndefined();
    expect(fireTimes.between(at('2029-01-01T00:00:00Z'), at('2031-01-01T00:00:00Z'), 5)).toEqual({ fireTimes: [at('2030-01-01T00:00:00Z')], truncated: false });
    expect(fireTimes.tickFireTime(at('2030-01-01T00:00:00.004Z'))).toBe(at('2030-01-01T00:00:00Z'));
  });

  it('an expression that never fires has no next fire time (cron looks 8 years ahead)', () => {
    expect(new CronFireTimes({ cronTime: '0 0 0 30 2 *', timeZone: 'UTC' }).next(at('2026-01-01T00:00:00Z'))).toBeUndefined();
  });

  it('rejects what CronJob.from() rejects, with cron\'s own error', () => {
    expect(() => new CronFireTimes({ cronTime: '61 * * * * *' })).toThrow(/out of range/);
    expect(() => new CronFireTimes({ cronTime: '* * * * *', timeZone: 'Mars/Olympus' })).toThrow(/Invalid timezone/);
  });
});
