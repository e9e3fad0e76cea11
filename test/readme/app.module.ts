// app.module.ts
import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { LeaderElectionModule } from 'nestjs-cluster-leader';
import { BillingJobs } from './billing.jobs.js';
import { InvoiceService } from './invoice.service.js';

@Module({
  imports: [
    ScheduleModule.forRoot(),
    LeaderElectionModule.forRoot({
      // 'auto' (the default) holds a Lease inside Kubernetes and leads alone outside it.
      lease: { name: 'billing-jobs-leader' },
    }),
  ],
  providers: [BillingJobs, InvoiceService],
})
export class AppModule {}
