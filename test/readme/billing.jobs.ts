// billing.jobs.ts
import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly } from 'nestjs-cluster-leader';
import { InvoiceService } from './invoice.service.js';

@Injectable()
export class BillingJobs {
  constructor(private readonly invoices: InvoiceService) {}

  @Cron('0 0 * * * *')
  @LeaderOnly({ missedRuns: 'runOnce' }) // an hour nobody ran (a crash, an outage) is made up once
  async closeHourlyInvoices() {
    const { scheduledAt, fencingToken, signal } = currentLeaderJob()!;
    // fencingToken: a decimal string on the Lease backend; null on sidecar and standalone
    for (const invoice of await this.invoices.open(scheduledAt!)) {
      if (signal.aborted) return; // this pod stopped leading: stop writing
      await this.invoices.close(invoice, { fencingToken });
    }
  }
}
