// The README's BillingJobs (see "Usage"), which its "Testing" examples test.
import { Injectable } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly } from 'nestjs-cluster-leader';
import { InvoiceService } from './invoice.service.js';

@Injectable()
export class BillingJobs {
  constructor(private readonly invoices: InvoiceService) {}

  @Cron('0 0 * * * *')
  @LeaderOnly()
  async closeHourlyInvoices() {
    const { term, signal } = currentLeaderJob()!;
    for (const invoice of await this.invoices.open()) {
      if (signal.aborted) return; // this pod stopped leading: stop writing
      await this.invoices.close(invoice, { fencingToken: term });
    }
  }
}
