/**
 * `nestjs-cluster-leader/testing`: drive leadership from tests. `LeaderElectionTestingModule`
 * replaces `LeaderElectionModule` in an app test; `TestLeadership` makes the app (or, with
 * `TestLeadership.attach()`, one instance in a unit test) lead, follow or change term.
 */
export { LeaderElectionTestingModule } from './leader-election-testing.module.js';
export { TestLeadership } from './test-leadership.js';
export type { TestElectionOptions, TestLeadershipOptions } from './test-leadership-options.interface.js';
