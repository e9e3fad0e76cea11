/**
 * Node keeps timer delays in a signed 32-bit integer: a delay above about 24.8 days (or NaN, or
 * negative) becomes 1 ms, with a TimeoutOverflowWarning each time. A Lease "pinned" with a huge
 * leaseDurationSeconds would then drive a loop that asks the API a few hundred times a second.
 * Every timer the library arms goes through here: the delay is clamped, and a timer that wakes
 * early simply re-plans, so clamping never makes anything happen sooner than it should.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export function clampDelay(delayMs: number): number {
  if (Number.isNaN(delayMs) || delayMs <= 0) return 0;
  return Math.min(Math.ceil(delayMs), MAX_TIMER_DELAY_MS);
}

/** setTimeout with a clamped delay, unref'd: the library's timers never keep a process alive. */
export function setSafeTimeout(callback: () => void, delayMs: number): NodeJS.Timeout {
  const timer = setTimeout(callback, clampDelay(delayMs));
  timer.unref();
  return timer;
}
