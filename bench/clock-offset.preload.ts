/**
 * Loaded with `node --import` into a benchmark replica: shifts this process's wall clock by
 * CLOCK_OFFSET_MS (Date.now() and new Date(); not Date() called without new, which the library and
 * its dependencies do not use), as a VM whose NTP has drifted. The monotonic
 * clock (performance.now()) is left alone, as a real offset leaves it: leadership deadlines are
 * judged on it, fire times on the wall clock.
 */
const offsetMs = Number(process.env.CLOCK_OFFSET_MS ?? 0);

if (offsetMs !== 0 && Number.isFinite(offsetMs)) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class OffsetDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + offsetMs);
      else super(...(args as [string | number | Date]));
    }
    static override now(): number {
      return realNow() + offsetMs;
    }
  }
  globalThis.Date = OffsetDate as DateConstructor;
}

export {};
