import { Controller, Get } from '@nestjs/common';
import { ClusterLeaderService } from 'nestjs-cluster-leader';
import { ReportJob, type SampleRun } from './report.job.js';

export interface SampleStatus {
  identity: string;
  isLeader: boolean;
  leader: string | null;
  /** How often the report jobs ran in this process. */
  runs: number;
  term: number | null;
  /**
   * The shards this pod leads (SAMPLE_SHARDS): `default-shard-<i>`; without shards, `['default']`
   * on the leader and `[]` elsewhere. With shards, isLeader says whether it leads any, and
   * leader and term are null: each shard has its own (GET /jobs says which pod runs which job).
   */
  shards: string[];
}

@Controller()
export class StatusController {
  constructor(
    private readonly clusterLeader: ClusterLeaderService,
    private readonly reportJob: ReportJob,
  ) {}

  @Get('status')
  status(): SampleStatus {
    const shards = this.clusterLeader.shards();
    const runs = this.reportJob.runs;
    if (!this.clusterLeader.elections().includes('default')) {
      return { identity: this.clusterLeader.identity, isLeader: shards.length > 0, leader: null, runs, term: null, shards };
    }
    // One snapshot, so isLeader, leader and term agree with each other.
    const { identity, isLeader, leader, term } = this.clusterLeader.state();
    return { identity, isLeader, leader, runs, term, shards: isLeader ? ['default'] : [] };
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
