import { describe, expect, it } from 'vitest';
import { TestLeadership } from 'nestjs-cluster-leader/testing';
import { BillingJobs } from './billing.jobs.js';
import { InvoiceService } from './invoice.service.js';

const TEN_O_CLOCK = new Date('2026-05-01T10:00:00Z');

describe('BillingJobs (unit)', () => {
  it('closes the invoices of its hour with its fencing token, only while leading', async () => {
    const invoices = new InvoiceService([
      { id: 'inv-1', openedAt: new Date('2026-05-01T09:10:00Z') },
      { id: 'inv-2', openedAt: new Date('2026-05-01T10:20:00Z') }, // the next hour's
    ]);
    const jobs = new BillingJobs(invoices);
    const leadership = TestLeadership.attach(jobs, { term: 3, fencingToken: '1042', scheduledAt: TEN_O_CLOCK });

    await jobs.closeHourlyInvoices();
    expect(invoices.closed).toEqual([{ id: 'inv-1', fencingToken: '1042' }]);

    leadership.follow('pod-b');
    await jobs.closeHourlyInvoices(); // skipped: another pod leads
    expect(leadership.jobCounters()['BillingJobs.closeHourlyInvoices']).toEqual({ runs: 1, skipped: 1, failed: 0 });
  });

  it('writes without a fencing token on a backend that has none (sidecar, standalone)', async () => {
    const invoices = new InvoiceService([{ id: 'inv-1', openedAt: new Date('2026-05-01T09:10:00Z') }]);
    const jobs = new BillingJobs(invoices);
    TestLeadership.attach(jobs, { term: null, fencingToken: null, scheduledAt: TEN_O_CLOCK });

    await jobs.closeHourlyInvoices();
    expect(invoices.closed).toEqual([{ id: 'inv-1', fencingToken: null }]);
  });
});
