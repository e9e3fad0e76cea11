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
  /** What health checks need to know of the elector's own loop; backends without one omit it. */
  status?(): ElectorStatus;
}

/** A read-only view of an elector's loop, for health checks. Durations in milliseconds. */
export interface ElectorStatus {
  /**
   * The elector believes this pod holds the election and would renew it. It can outlast
   * `isLeader()`: the election state steps down at its deadline by itself, while a renew that
   * hangs keeps the elector believing.
   */
  believesLeading: boolean;
  /** Since the send time of the last successful acquire or renew; null if there was none. */
  lastRenewAgoMs: number | null;
  /** How far the elector's loop is behind its own schedule (0 when on time). */
  loopLateMs: number;
  /** The last failed API request (kept after it heals, with its age); null if none failed. */
  lastApiError: { verb: string; code: number; reason: string; message: string; agoMs: number } | null;
  leaseDurationMs: number;
  retryPeriodMs: number;
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
