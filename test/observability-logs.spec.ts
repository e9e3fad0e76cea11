import { Injectable, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService, LeaderOnly, type LeaderElectionModuleOptions } from 'nestjs-cluster-leader';
import { LeaderElectionTestingModule, TestLeadership } from 'nestjs-cluster-leader/testing';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { closeAll, startApp } from './support/nest-app.js';

/**
 * Logs an operator can act on (issue 9, item 6): one line per change of leadership with identity,
 * term and reason; skipped ticks never logged one by one at any level (Nest's default logger
 * prints every level), but counted and summarised once per change, per election and job.
 */

@Injectable()
class BusyJobs {
  @LeaderOnly()
  report(): void {}

  @LeaderOnly()
  cleanup(): void {}

  @LeaderOnly({ election: 'reports' })
  nightly(): void {}
}

const apps: INestApplication[] = [];
afterEach(() => closeAll(apps.splice(0)));

async function start() {
  const { app, logger } = await startApp({
    leaderElectionModule: LeaderElectionTestingModule.forRoot({ leading: false, term: 3, elections: { reports: { leading: false } } }),
    providers: [BusyJobs],
  });
  apps.push(app);
  return { logger, leadership: app.get(TestLeadership), jobs: app.get(BusyJobs) };
}

describe('logs', () => {
  it('never logs a skipped tick on its own, and summarises them in one line when leadership changes', async () => {
    const { logger, leadership, jobs } = await start();
    for (let tick = 0; tick < 5; tick++) jobs.report();
    jobs.cleanup();
    jobs.nightly();
    expect(logger.entries.filter((entry) => /skip/i.test(entry.message))).toEqual([]);

    leadership.lead(4);
    expect(logger.messages('log', 'skipped')).toEqual([
      "Election 'default': 6 ticks of leader-only jobs skipped here since the last change of leadership (BusyJobs.report: 5, BusyJobs.cleanup: 1).",
    ]);
    // Counted per election: the other election's skip waits for its own change.
    leadership.election('reports').follow('pod-b');
    expect(logger.messages('log', 'skipped')).toHaveLength(2);
    expect(logger.messages('log', 'skipped')[1]).toBe(
      "Election 'reports': 1 tick of leader-only jobs skipped here since the last change of leadership (BusyJobs.nightly: 1).",
    );
    // No skips since: no summary at the next change.
    leadership.follow('pod-b');
    expect(logger.messages('log', 'skipped')).toHaveLength(2);
  });

  it('says who, which term and why, once per change', async () => {
    const { logger, leadership } = await start();
    leadership.lead(4);
    leadership.follow('pod-b');
    expect(logger.messages('log', 'this pod (test-pod)')).toEqual([
      "Election 'default': this pod (test-pod) is now the leader (term 4): the test made it lead.",
      "Election 'default': this pod (test-pod) stopped leading (term 4): another pod leads.",
    ]);
  });
});

describe('at start, one line per Lease election', () => {
  let server: KubeApiServer | undefined;
  afterEach(async () => {
    await closeAll(apps.splice(0));
    await server?.close();
    server = undefined;
  });

  async function startOnLease(options: LeaderElectionModuleOptions) {
    server = await KubeApiServer.start();
    server.addUser('pod-a');
    const kubeConfig = server.kubeConfig('pod-a');
    const withKubeConfig = { ...options, lease: { ...options.lease!, kubeConfig } } as LeaderElectionModuleOptions;
    const { app, logger } = await startApp({ leaderElection: withKubeConfig });
    apps.push(app);
    await app.get(ClusterLeaderService).waitForLeadership();
    return logger;
  }

  it('names the Lease, the identity and the timings', async () => {
    const logger = await startOnLease({ backend: 'lease', identity: 'pod-a', lease: { name: 'billing-jobs-leader', namespace: 'shop', retryPeriodMs: 500 } });

    expect(logger.messages('log', 'Lease')).toEqual([
      "Election 'default': campaigning for the Lease shop/billing-jobs-leader as pod-a (leaseDurationMs 15000, renewDeadlineMs 10000, retryPeriodMs 500).",
      expect.stringMatching(/^Election 'default': this pod \(pod-a\) is now the leader \(term 0\): /),
    ]);
    expect(logger.messages('log', 'the leader is')).toEqual([]);
  });

  it("says in the same line that 'auto' chose the Lease, and why", async () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    const logger = await startOnLease({ identity: 'pod-a', lease: { name: 'billing-jobs-leader', namespace: 'shop' } });

    expect(logger.messages('log', 'campaigning')).toEqual([
      "Election 'default': campaigning for the Lease shop/billing-jobs-leader as pod-a (leaseDurationMs 15000, renewDeadlineMs 10000, retryPeriodMs 2000); " +
        "backend 'auto' chose 'lease' because KUBERNETES_SERVICE_HOST is set (running inside Kubernetes).",
    ]);
    expect(logger.messages('log', "backend 'auto'")).toHaveLength(1);
  });
});
