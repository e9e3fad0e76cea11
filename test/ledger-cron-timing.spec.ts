import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CronFireTimes, EARLY_TOLERANCE_MS } from '../lib/ledger/fire-times.js';
import { scheduleCron } from '../lib/ledger/schedule-cron.loader.js';

/*
 * What cron 4.4 (the CronJob @nestjs/schedule builds) really does with its timers: measured with a
 * real per-second CronJob on the real clock for a few seconds, and with a simulated stall.
 */

type Job = ReturnType<ReturnType<typeof scheduleCron>['CronJob']['from']>;
const jobs: Job[] = [];
afterEach(() => {
  for (const job of jobs.splice(0)) job.stop();
  vi.useRealTimers();
});

function perSecondJob(onTick: () => void, extra: Record<string, unknown> = {}): Job {
  const job = scheduleCron().CronJob.from({ cronTime: '* * * * * *', timeZone: 'UTC', onTick, start: true, ...extra });
  jobs.push(job);
  return job;
}

function busyWait(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // A blocked event loop, as a long synchronous job or a GC pause makes it.
  }
}

describe('a real CronJob on the real clock', () => {
  it('calls the job at or after its fire time, never before (the early tolerance only absorbs clock steps)', async () => {
    const ticks = new EventEmitter();
    const lateness: number[] = [];
    perSecondJob(() => {
      const now = Date.now();
      lateness.push(now - Math.floor(now / 1_000) * 1_000);
      if (lateness.length === 4) ticks.emit('done');
    });
    await once(ticks, 'done');
    console.info(`cron 4.4 per-second job, lateness of 4 ticks under this machine's load (ms): ${lateness.join(', ')}`);
    // Never early: a tick before its fire time would read as ~999 ms late of the previous second.
    for (const late of lateness) expect(late).toBeLessThan(500);
    expect(EARLY_TOLERANCE_MS).toBeLessThan(1_000);
  });

  it('fires a tick its blocked event loop delayed past the 250 ms threshold, and silently loses the fire time its lateness covered', async () => {
    const calls: number[] = [];
    const ticks = new EventEmitter();
    const warn = vi.spyOn(console, 'warn');
    perSecondJob(() => {
      calls.push(Date.now());
      if (calls.length === 1) {
        // Block from the first call until 2.4 s past it: the timer armed for the next second fires
        // after the one after it has passed too.
        busyWait(2_400);
      } else if (calls.length === 3) {
        ticks.emit('done');
      }
    });
    await once(ticks, 'done');
    const [first, late] = calls as [number, number, number];
    const firstFire = Math.floor(first / 1_000) * 1_000;
    // The timer armed for firstFire + 1 s fired ~1.4 s late, far past the 250 ms threshold, and cron
    // called the job anyway; no warning, no call for the fire time its lateness covered.
    expect(late - (firstFire + 1_000)).toBeGreaterThan(1_000);
    expect(warn.mock.calls.some(([message]) => String(message).includes('[Cron]'))).toBe(false);
    // The ledger names each call by the latest fire time at or before it: firstFire + 1 s was
    // called by nobody, a misfire that only the ledger can see.
    const fireTimes = new CronFireTimes({ cronTime: '* * * * * *', timeZone: 'UTC' });
    const belongTo = calls.map((call) => (fireTimes.tickFireTime(call) as number) - firstFire);
    expect(belongTo[0]).toBe(0);
    expect(belongTo[1]).toBeGreaterThanOrEqual(2_000);
    expect(belongTo[2]).toBe((belongTo[1] as number) + 1_000);
  });
});

describe("cron's threshold", () => {
  it('skips a fire time, without calling the job, when computing it took past the fire time by more than `threshold`', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(new Date('2026-05-01T10:00:00.500Z'));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const calls: number[] = [];
    const job = perSecondJob(() => void calls.push(Date.now()));
    // A stall of 1.3 s (GC, CPU starvation) while cron computes the next fire time after 10:00:01.
    const sendAt = job.cronTime as unknown as { sendAt: (...args: unknown[]) => unknown };
    const original = sendAt.sendAt.bind(job.cronTime);
    let stalls = 0;
    vi.spyOn(sendAt, 'sendAt').mockImplementation((...args: unknown[]) => {
      const result = original(...args);
      if (calls.length === 1 && stalls++ === 0) vi.setSystemTime(Date.now() + 1_300);
      return result;
    });
    vi.advanceTimersByTime(4_000);
    const seconds = calls.map((call) => new Date(call).toISOString().slice(17, 23));
    // 10:00:01 ran. While computing the fire time after 10:00:02, cron stalled until 10:00:03.300,
    // found 10:00:03 already 300 ms past and skipped it with only a console warning; 10:00:02's
    // own call then came late, at 03.300. The job was called 4 times for 5 fire times.
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/Missed execution deadline by 300ms .* Skipping execution as it exceeds threshold \(250ms\)/));
    expect(seconds).toEqual(['01.000', '03.300', '04.000', '05.000']);
    // The ledger names the late call by the latest fire time before it (10:00:03), so the fire
    // time nobody ran is 10:00:02: the next tick's plan sees it as missed.
    const fireTimes = new CronFireTimes({ cronTime: '* * * * * *', timeZone: 'UTC' });
    expect(calls.map((call) => new Date(fireTimes.tickFireTime(call) as number).toISOString().slice(17, 23))).toEqual(['01.000', '03.000', '04.000', '05.000']);
  });
});
