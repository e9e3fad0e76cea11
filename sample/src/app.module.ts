import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { collectDefaultMetrics } from 'prom-client';
import { LeaderElectionModule } from 'nestjs-cluster-leader';
import { LeaderElectionHealthIndicator } from 'nestjs-cluster-leader/terminus';
import { HealthController } from './health.controller.js';
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
  ],
  providers: [ReportJob, LeaderElectionHealthIndicator],
  controllers: [StatusController, HealthController, MetricsController],
})
export class AppModule {}
