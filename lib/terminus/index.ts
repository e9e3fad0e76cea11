/**
 * `nestjs-cluster-leader/terminus`: the @nestjs/terminus health indicator. A separate entry point
 * so that the main one never loads @nestjs/terminus, an optional peer dependency.
 */
export { LeaderElectionHealthIndicator } from './leader-election.health-indicator.js';
export type { ElectionHealth } from '../observability/election-health.js';
