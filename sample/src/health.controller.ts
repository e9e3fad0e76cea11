import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { LeaderElectionHealthIndicator } from 'nestjs-cluster-leader/terminus';

/**
 * `GET /health` for the liveness probe: down only when restarting this pod would help (a leader
 * whose renew loop is stuck, an elector that stopped stepping); a follower is up. Every election's
 * identity, leader, term, age of the last renew and last API error come with the answer.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly leaderElection: LeaderElectionHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.leaderElection.isHealthy()]);
  }
}
