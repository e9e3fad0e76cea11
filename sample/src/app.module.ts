import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { collectDefaultMetrics } from 'prom-client';
import { LeaderElectionModule } from 'nestjs-cluster-leader';
import { LeaderElectionControlModule } from 'nestjs-cluster-leader/control';
import { LeaderElectionHealthIndicator } from 'nestjs-cluster-leader/terminus';
import { ControlTokenGuard } from './control-token.guard.js';
import { HealthController } from './health.controller.js';
import { JobsController } from './jobs.controller.js';
import { leaderElectionOptionsFromEnv } from './leader-election.config.js';
import { MetricsController } from './metrics.controller.js';
import { ReportJob } from './report.job.js';
import { StatusController } from './status.controller.js';

// The process's own metrics (CPU, memory, event loop lag) next to the library's.
collectDefaultMetrics();

@Module({
  imports: [
    ScheduleModule.forRoot(),
    LeaderElectionModule.forRootAsync({
      useFactory: () => leaderElectionOptionsFromEnv(process.env),
    }),
    TerminusModule,
    // The dashboard at /leader, its API under /leader/api/; pause, resume and run behind the same
    // bearer token as POST /jobs/... (SAMPLE_CONTROL_TOKEN).
    LeaderElectionControlModule.forRoot({ path: 'leader', mutations: { guard: ControlTokenGuard } }),
  ],
  providers: [ReportJob, LeaderElectionHealthIndicator],
  controllers: [StatusController, HealthController, MetricsController, JobsController],
})
export class AppModule {}
