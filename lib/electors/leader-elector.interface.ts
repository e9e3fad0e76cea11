/**
 * One backend's way of finding out who leads one election. It publishes what it learns to the
 * election's ElectionState and never throws from its loops: faults are logged once per change of
 * state and end in "not leader" until they heal.
 */
export interface LeaderElector {
  /** Begin campaigning or observing, in the background. Returns at once. */
  start(): void;
  /**
   * Shutdown began: acquire nothing from now on (a pod that is leaving must not take an election
   * from a healthy one). A leadership already held is kept until stop(), while jobs drain.
   */
  stopCampaigning(): void;
  /**
   * Stop for good: release leadership if this pod holds it and `release` allows (the caller has
   * already waited for running jobs), then clear every timer, request, watch and socket.
   */
  stop(options?: StopOptions): Promise<void>;
}

export interface StopOptions {
  /**
   * false: jobs of this election are still running (the drain timed out), so leadership must not
   * be handed to another pod now; the lock is left to expire instead. @default true
   */
  release?: boolean;
}

/** The running jobs of one election, as an elector may need to wait for them. */
export interface ElectionJobs {
  /** Resolves true once none runs, or false after the module's drainTimeoutMs. */
  drain(): Promise<boolean>;
}
