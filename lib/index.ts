export { LeaderElectionModule } from './leader-election.module.js';
/** The injection token of the options as passed to forRoot() / returned by forRootAsync()'s factory. */
export { LEADER_ELECTION_MODULE_OPTIONS } from './leader-election.module-definition.js';
export type { LeaderElectionModuleAsyncOptions } from './interfaces/leader-election-async-options.interface.js';
export { ClusterLeaderService, type WaitForLeadershipOptions } from './cluster-leader.service.js';
export { LeaderOnly } from './decorators/leader-only.decorator.js';
export { currentLeaderJob } from './gate/leader-job-context.storage.js';
export type { JobCounters } from './gate/gated-job.js';
export { DEFAULT_ELECTION, LEASE_DEFAULTS, SIDECAR_API_DEFAULTS, SIDECAR_DEFAULTS } from './leader-election.constants.js';
export { LeaderElectionConfigError } from './errors/leader-election-config.error.js';
export { LeaderOnlySetupError } from './errors/leader-only-setup.error.js';
export { UnknownElectionError } from './errors/unknown-election.error.js';
export { ShardedElectionError } from './errors/sharded-election.error.js';
export { UnknownJobError } from './errors/unknown-job.error.js';
export { JobControlError } from './errors/job-control.error.js';
export { ControlRequestTimeoutError } from './errors/control-request-timeout.error.js';
export type { BackfillOptions, JobDescription, JobRunSummary, PauseOptions, RequestOutcome, ResumeOptions, RunNowOptions } from './interfaces/job-description.interface.js';
export type {
  ElectionOptions,
  LeaderElectionBackend,
  LeaderElectionCallbacks,
  LeaderElectionModuleOptions,
  LeaderElectionModuleOwnOptions,
  LeaseOptions,
  LeadershipTerm,
  SidecarApiOptions,
  SidecarOptions,
} from './interfaces/leader-election-options.interface.js';
export type { LeadershipState } from './interfaces/leadership-state.interface.js';
export type {
  InterruptedRunPolicy,
  LeaderOnlyOptions,
  MissedRunsPolicy,
  OverlapPolicy,
} from './interfaces/leader-only-options.interface.js';
export type { ElectionHealth } from './observability/election-health.js';
export type { HealthOptions, MetricsOptions, MetricsRegistry, TracingOptions } from './interfaces/leader-election-options.interface.js';
export { HEALTH_DEFAULTS } from './leader-election.constants.js';
export type { LeaderJobContext } from './interfaces/leader-job-context.interface.js';
