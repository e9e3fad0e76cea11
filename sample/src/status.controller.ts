import { Controller, Get } from '@nestjs/common';
import { ClusterLeaderService } from 'nestjs-cluster-leader';
import { ReportJob, type SampleRun } from './report.job.js';

export interface SampleStatus {
  identity: string;
  isLeader: boolean;
  leader: string | null;
  /** How often the report job ran in this process. */
  runs: number;
  term: number | null;
}

@Controller()
export class StatusController {
  constructor(
    private readonly clusterLeader: ClusterLeaderService,
    private readonly reportJob: ReportJob,
  ) {}

  @Get('status')
  status(): SampleStatus {
    // One snapshot, so isLeader, leader and term agree with each other.
    const { identity, isLeader, leader, term } = this.clusterLeader.state();
    return { identity, isLeader, leader, runs: this.reportJob.runs, term };
  }

  /** The report job's runs in this process, oldest first. */
  @Get('runs')
  runs(): readonly SampleRun[] {
    return this.reportJob.runLog();
  }

  /**
   * For the readiness probe: a follower is as ready as the leader. (The liveness probe uses
   * /health, which can tell a stuck leader.)
   */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }
}
