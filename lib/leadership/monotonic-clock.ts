/**
 * Milliseconds on the monotonic clock. Leadership deadlines use it, never the wall clock, because
 * the wall clock can jump (NTP, a VM resumed) and a jump must not extend a leader's belief.
 */
export const monotonicNow = (): number => performance.now();
