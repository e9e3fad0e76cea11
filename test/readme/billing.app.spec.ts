import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterLeaderService } from 'nestjs-cluster-leader';
import { LeaderElectionTestingModule, TestLeadership } from 'nestjs-cluster-leader/testing';
import { BillingJobs } from './billing.jobs.js';
import { InvoiceService } from './invoice.service.js';

describe('billing app', () => {
  let app: INestApplication | undefined;
  afterEach(() => app?.close()); // app is set before init(): a failed start still closes, and shows its cause

  it('runs the job on the leader and aborts it when leadership is lost', async () => {
    const invoices = new InvoiceService([
      { id: 'inv-1', openedAt: new Date('2026-05-01T09:10:00Z') },
      { id: 'inv-2', openedAt: new Date('2026-05-01T09:40:00Z') },
    ]);
    const moduleRef = await Test.createTestingModule({
      imports: [LeaderElectionTestingModule.forRoot({ leading: false, scheduledAt: new Date('2026-05-01T10:00:00Z') })],
      providers: [BillingJobs, { provide: InvoiceService, useValue: invoices }],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    const leadership = app.get(TestLeadership);
    const service = app.get(ClusterLeaderService);
    const jobs = app.get(BillingJobs);

    await jobs.closeHourlyInvoices(); // skipped: no pod leads yet
    expect(invoices.closed).toEqual([]);

    leadership.lead(7, { fencingToken: '2001' });
    expect(service.state()).toMatchObject({ isLeader: true, leader: 'test-pod', term: 7 });
    invoices.beforeClose = () => void leadership.follow('pod-b'); // lost while closing inv-1
    await jobs.closeHourlyInvoices();

    expect(invoices.closed).toEqual([{ id: 'inv-1', fencingToken: '2001' }]); // inv-2 not written
    expect(service.leader()).toBe('pod-b');
  });
});
