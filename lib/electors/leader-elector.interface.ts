/**
 * One backend's way of finding out who leads one election. It publishes what it learns to the
 * election's ElectionState and never throws from its loops: faults are logged once per change of
 * state and end in "not leader" until they heal.
 */
export interface LeaderElector {
  /** Begin campaigning or observing, in the background. Returns at once. */
  start(): void;
  /**
   * Stop for good: release leadership if this pod holds it (the caller has already waited for
   * running jobs), then clear every timer, request, watch and socket.
   */
  stop(): Promise<void>;
}
