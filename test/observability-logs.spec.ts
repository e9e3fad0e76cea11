import { Injectable, type INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderOnly } from 'nestjs-cluster-leader';
import { LeaderElectionTestingModule, TestLeadership } from 'nestjs-cluster-leader/testing';
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
