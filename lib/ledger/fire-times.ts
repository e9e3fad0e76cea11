import type { CronSchedule } from './job-schedule.js';
import { scheduleCron, type CronTimeLike } from './schedule-cron.loader.js';

/**
 * How much earlier than a fire time a tick may arrive and still belong to it, in ms.
 * Measured (test/ledger-cron-timing.spec.ts): cron 4.4 never calls a job before its fire time by
 * the wall clock; when its timer wakes early, it re-arms for the rest (`callbackWrapper`). The
 * margin only absorbs a wall clock stepped back between cron's check and the gate's `Date.now()`.
 * It must stay far below one second, cron's resolution, or a tick would be taken for the next one.
 */
export const EARLY_TOLERANCE_MS = 50;

/**
 * How far back a tick looks for the fire time it belongs to, in ms: a tick delayed by a GC pause
 * or a blocked event loop longer than this has no identity (`tickFireTime` answers undefined), and
 * the gate should skip it and say so. The gate may pass a larger bound (e.g. the starting deadline).
 */
export const DEFAULT_LOOK_BACK_MS = 60_000;

export interface TickFireTimeOptions {
  /** @default EARLY_TOLERANCE_MS (50) */
  earlyToleranceMs?: number;
  /** @default DEFAULT_LOOK_BACK_MS (60000) */
  lookBackMs?: number;
}

/** Up to a bounded number of fire times, oldest first, and whether more were left out. */
export interface BoundedFireTimes {
  fireTimes: number[];
  truncated: boolean;
}

const SECOND_MS = 1_000;

/**
 * The fire times of one `@Cron()` job, in ms since the epoch, computed by the `cron` package's own
 * `CronTime.getNextDateFrom` (the copy @nestjs/schedule uses), in the zone its CronJob uses, so a
 * tick's identity is the fire time the CronJob itself was waiting for. Never hand-parsed.
 *
 * DST, as cron 4.4 computes it (test/ledger-fire-times.spec.ts, Europe/Berlin 2026): on the night
 * the clocks go forward, wall times that do not exist fire once at the jump (a daily 02:30 fires at
 * 03:00 CEST; a `0 *\/15 * * * *` job has no 02:15, 02:30, 02:45); on the night they go back, a job
 * whose wall times repeat fires in both passes (an hourly job fires at 02:00 CEST and at 02:00 CET)
 * while a daily 02:30 fires once, in the first pass, except on a pod whose CronJob is (re)started
 * inside the repeated hour: cron then also computes 02:30 CET for it.
 *
 * Instances keep a small memo (the last tick's fire time and the next one), so the tick of a
 * running job costs one cron computation, as the CronJob's own re-arming does. One per job.
 */
export class CronFireTimes {
  private readonly cronTime: CronTimeLike;
  private readonly zone: string | undefined;
  /** A one-off date's instant; undefined for an expression. */
  private readonly once: number | undefined;
  private memo: { prev: number; next: number | undefined } | undefined;

  /** Throws cron's own error for an invalid expression, time zone or offset, as CronJob.from() would. */
  constructor(schedule: Pick<CronSchedule, 'cronTime' | 'timeZone' | 'utcOffset'>) {
    const { CronTime } = scheduleCron();
    // The same branches as CronJob.from() and the CronJob constructor, which @nestjs/schedule calls.
    this.cronTime =
      schedule.timeZone != null
        ? new CronTime(schedule.cronTime, schedule.timeZone, null)
        : schedule.utcOffset != null
          ? new CronTime(schedule.cronTime, null, schedule.utcOffset)
          : new CronTime(schedule.cronTime, undefined, undefined);
    this.zone = zoneOf(this.cronTime);
    this.once = this.cronTime.realDate ? (this.cronTime.source as { toMillis(): number }).toMillis() : undefined;
  }

  /** The first fire time strictly after `afterMs`, or undefined when there is none (cron looks 8 years ahead). */
  next(afterMs: number): number | undefined {
    if (this.once !== undefined) return this.once > afterMs ? this.once : undefined;
    try {
      return this.cronTime.getNextDateFrom(new Date(afterMs), this.zone).toMillis();
    } catch {
      return undefined; // cron's "No execution date was found in the next 8 years"
    }
  }

  /** The fire times in (afterMs, atOrBeforeMs], oldest first, at most `maxCount` of them. */
  between(afterMs: number, atOrBeforeMs: number, maxCount: number): BoundedFireTimes {
    const fireTimes: number[] = [];
    let cursor = afterMs;
    // Bounded by maxCount + 1 computations whatever the schedule: never a walk over a whole day.
    while (fireTimes.length <= maxCount) {
      const next = this.next(cursor);
      if (next === undefined || next > atOrBeforeMs) return { fireTimes, truncated: false };
      if (next <= cursor) {
        cursor += SECOND_MS; // never seen from cron 4.4, but a loop must not depend on it
        continue;
      }
      if (fireTimes.length === maxCount) return { fireTimes, truncated: true };
      fireTimes.push(next);
      cursor = next;
    }
    return { fireTimes, truncated: true };
  }

  /** The latest fire time in [notBeforeMs, beforeMs), or undefined. Cost: O(log(range / 1 s)). */
  previous(beforeMs: number, notBeforeMs: number): number | undefined {
    if (this.once !== undefined) return this.once >= notBeforeMs && this.once < beforeMs ? this.once : undefined;
    const first = this.next(notBeforeMs - 1);
    if (first === undefined || first >= beforeMs) return undefined;
    // Invariant: next(lo) < beforeMs <= next(hi). next() only depends on the whole second of its
    // argument (cron drops the milliseconds), so lo and hi move in whole seconds.
    let lo = floorSecond(notBeforeMs - 1);
    let hi = floorSecond(beforeMs - 1);
    for (let step = SECOND_MS; hi - step > lo; step *= 2) {
      const probe = hi - step;
      if (this.isBefore(probe, beforeMs)) {
        lo = probe;
        break;
      }
      hi = probe;
    }
    while (hi - lo > SECOND_MS) {
      const mid = floorSecond(lo + (hi - lo) / 2);
      if (this.isBefore(mid, beforeMs)) lo = mid;
      else hi = mid;
    }
    // next(lo) < beforeMs <= next(lo + 1 s): next(lo) is the last fire time before beforeMs.
    return this.next(lo);
  }

  /**
   * The `count` latest fire times in (afterMs, beforeMs), oldest first; `truncated` when older ones
   * in the range were left out. Walks forward when the range is small, else steps back from
   * `beforeMs` with `previous()`: bounded either way, even for a per-second job after a long gap.
   */
  latest(afterMs: number, beforeMs: number, count: number): BoundedFireTimes {
    if (count <= 0) return { fireTimes: [], truncated: this.isBefore(afterMs, beforeMs) };
    const budget = 4 * count + 4;
    const forward = this.between(afterMs, beforeMs - 1, budget);
    if (!forward.truncated) {
      const { fireTimes } = forward;
      return { fireTimes: fireTimes.slice(-count), truncated: fireTimes.length > count };
    }
    const fireTimes: number[] = [];
    let cursor = beforeMs;
    while (fireTimes.length < count) {
      const previous = this.previous(cursor, afterMs + 1);
      if (previous === undefined) break;
      fireTimes.unshift(previous);
      cursor = previous;
    }
    // The forward walk found more than `budget` > `count` fire times in the range.
    return { fireTimes, truncated: true };
  }

  /**
   * The fire time a tick belongs to when the CronJob calls the job at wall time `nowMs`: the latest
   * fire time at or before `nowMs + earlyToleranceMs`, if it is no older than `lookBackMs`. A tick
   * delayed by a GC pause or a busy event loop still belongs to its fire time; one delayed past the
   * next fire time belongs to that one (cron fires a late timer once, for the fire time it armed,
   * and silently loses the ones its lateness covered: the ledger sees those as missed).
   */
  tickFireTime(nowMs: number, options: TickFireTimeOptions = {}): number | undefined {
    const horizon = nowMs + (options.earlyToleranceMs ?? EARLY_TOLERANCE_MS);
    const floor = nowMs - (options.lookBackMs ?? DEFAULT_LOOK_BACK_MS);
    let memo = this.memo;
    if (memo !== undefined && memo.prev <= horizon) {
      // The usual case: this tick is the memo's next fire time (or still its previous one).
      for (let steps = 0; memo.next !== undefined && memo.next <= horizon && steps < 2; steps++) {
        memo = { prev: memo.next, next: this.next(memo.next) };
      }
      if (memo.next === undefined || memo.next > horizon) {
        this.memo = memo;
        return memo.prev >= floor ? memo.prev : undefined;
      }
    }
    const found = this.previous(horizon + 1, floor);
    if (found === undefined) return undefined;
    this.memo = { prev: found, next: this.next(found) };
    return found;
  }

  private isBefore(afterMs: number, beforeMs: number): boolean {
    const next = this.next(afterMs);
    return next !== undefined && next < beforeMs;
  }
}

/**
 * The zone cron computes in, as `CronTime.sendAt()` sets it: the time zone (the process's own when
 * neither option is given), or a fixed `UTC±hh:mm` built from `utcOffset` minutes exactly as cron does.
 */
function zoneOf(cronTime: CronTimeLike): string | undefined {
  const { utcOffset, timeZone } = cronTime as CronTimeLike & { utcOffset?: number; timeZone?: string };
  if (utcOffset === undefined) return timeZone;
  const sign = utcOffset < 0 ? '-' : '+';
  const offsetHours = Math.trunc(utcOffset / 60);
  const offsetMinutes = Math.abs(utcOffset - offsetHours * 60);
  return `UTC${sign}${String(Math.abs(offsetHours)).padStart(2, '0')}:${String(offsetMinutes).padStart(2, '0')}`;
}

function floorSecond(ms: number): number {
  return Math.floor(ms / SECOND_MS) * SECOND_MS;
}
