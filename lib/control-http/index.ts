/**
 * `nestjs-cluster-leader/control`: the jobs over HTTP, for operators. A separate entry point, as
 * `/terminus` is, so that apps without it load none of it (nor its page).
 */
export { LeaderElectionControlModule } from './leader-election-control.module.js';
export { JobControlExceptionFilter, jobControlHttpException } from './job-control.exception-filter.js';
export type { ControlElectionsAnswer } from './control-api.interface.js';
export type { LeaderElectionControlMutations, LeaderElectionControlOptions } from '../interfaces/leader-election-control-options.interface.js';
