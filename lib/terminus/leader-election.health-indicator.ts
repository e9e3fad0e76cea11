import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ClusterLeaderService } from '../cluster-leader.service.js';
import type { ElectionHealth } from '../observability/election-health.js';

/**
 * A @nestjs/terminus health indicator for every election of the app, built on terminus 12's
 * HealthIndicatorService. Down only when restarting this pod would help (see
 * ClusterLeaderService.health()): a leader whose renew loop is stuck, or an elector that stopped
 * stepping. A follower, or a pod that cannot reach the API, is up: it is doing its job, and a
 * restart would not make anything lead sooner. Each election's details (identity, leader, term,
 * age of the last renew, last API error) come with the result either way.
 *
 * Loaded only from `nestjs-cluster-leader/terminus`, so apps without terminus never load it.
 *
 * @example
 * ```ts
 * @Module({ imports: [TerminusModule], controllers: [HealthController], providers: [LeaderElectionHealthIndicator] })
 * export class HealthModule {}
 *
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.leaderElection.isHealthy()]); }
 * ```
 */
@Injectable()
export class LeaderElectionHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly clusterLeader: ClusterLeaderService,
  ) {}

  /**
   * @param key the key of the result in terminus' answer
   * @param elections the elections to judge, by name; every configured one by default
   */
  isHealthy<const Key extends string = 'leader-election'>(
    key: Key = 'leader-election' as Key,
    elections: readonly string[] = this.clusterLeader.elections(),
  ): HealthIndicatorResult<Key> {
    const details: Record<string, ElectionHealth> = {};
    for (const election of elections) details[election] = this.clusterLeader.health(election);
    const session = this.healthIndicatorService.check(key);
    const problems = Object.values(details).flatMap((health) => (health.problem === null ? [] : [health.problem]));
    if (problems.length === 0) return session.up({ elections: details });
    return session.down({ message: problems.join(' '), elections: details });
  }
}
