import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LeaderElectionModule } from '../../lib/index.js';
import { leaderElectionOptionsFromEnv } from './leader-election.config.js';
import { ReportJob } from './report.job.js';
import { StatusController } from './status.controller.js';

@Module({
  imports: [
    ScheduleModule.forRoot(),
    LeaderElectionModule.forRootAsync({
      useFactory: () => leaderElectionOptionsFromEnv(process.env),
    }),
  ],
  providers: [ReportJob],
  controllers: [StatusController],
})
export class AppModule {}
