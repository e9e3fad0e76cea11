import { describe, expect, it } from 'vitest';
import { TestLeadership } from 'nestjs-cluster-leader/testing';
import { BillingJobs } from './billing.jobs.js';
import { InvoiceService } from './invoice.service.js';

describe('BillingJobs (unit)', () => {
  it('closes open invoices with its term as fencing token, only while leading', async () => {
    const invoices = new InvoiceService([{ id: 'inv-1' }, { id: 'inv-2' }]);
    const jobs = new BillingJobs(invoices);
    const leadership = TestLeadership.attach(jobs, { term: 3 });

    await jobs.closeHourlyInvoices();
    expect(invoices.closed).toEqual([
      { id: 'inv-1', fencingToken: 3 },
      { id: 'inv-2', fencingToken: 3 },
    ]);

    leadership.follow('pod-b');
    await jobs.closeHourlyInvoices(); // skipped: another pod leads
    expect(leadership.jobCounters()['BillingJobs.closeHourlyInvoices']).toEqual({ runs: 1, skipped: 1, failed: 0 });
  });
});
