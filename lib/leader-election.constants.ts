/** The election used when a job or a call does not name one. */
export const DEFAULT_ELECTION = 'default';

/** Where `@LeaderOnly()` stores its options, on the wrapped method. */
export const LEADER_ONLY_METADATA = 'nestjs-cluster-leader:leader-only';

/**
 * The property under which the module attaches its job gate to every provider instance that has
 * `@LeaderOnly()` methods. A symbol, so it never collides with user fields; per instance (not
 * global), so several Nest apps in one process (tests, workers) each use their own gate.
 */
export const JOB_GATE = Symbol('nestjs-cluster-leader:job-gate');

/**
 * The metadata key under which @nestjs/schedule's @Cron, @Interval and @Timeout mark a method
 * (`SCHEDULER_TYPE` in its schedule.constants, not exported from its index).
 */
export const SCHEDULER_TYPE_METADATA = 'SCHEDULER_TYPE';

/**
 * Provided (as `true`) by LeaderElectionTestingModule: a test may call its jobs itself, so an app
 * without ScheduleModule is not a mistake there.
 */
export const SCHEDULE_MODULE_OPTIONAL = Symbol('nestjs-cluster-leader:schedule-module-optional');

/** The sidecar backend's defaults: the leader-elector's usual address, one poll per second. */
export const SIDECAR_DEFAULTS = {
  url: 'http://localhost:4040',
  pollIntervalMs: 1_000,
  requestTimeoutMs: 500,
  /** The real sidecar answers ~20 bytes; anything this large is not a leader-elector. */
  maxBodyBytes: 4_096,
} as const;

/** Kubernetes' own components use these (kube-controller-manager, kube-scheduler). */
export const LEASE_DEFAULTS = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
} as const;

export const SHUTDOWN_DEFAULTS = {
  /** How long shutdown waits for running leader-only jobs before it gives up leadership anyway. */
  drainTimeoutMs: 10_000,
} as const;

/** Where the drop-in for the leader-elector sidecar answers: the sidecar's own `--http` address. */
export const SIDECAR_API_DEFAULTS = {
  host: '127.0.0.1',
  port: 4_040,
} as const;

/** When the health check reports down (see HealthOptions). */
export const HEALTH_DEFAULTS = {
  /**
   * kube-scheduler's and kube-controller-manager's: both build their leader-election healthz
   * check with client-go's NewLeaderHealthzAdaptor(20 * time.Second).
   */
  toleranceMs: 20_000,
  stalledAfterRetryPeriods: 3,
} as const;

/** The name of the package's OpenTelemetry tracer and the prefix of its own metrics. */
export const PACKAGE_NAME = 'nestjs-cluster-leader';
