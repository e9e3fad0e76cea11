import { Logger } from '@nestjs/common';
import { TICKS_SKIPPED_SUMMARY } from '../leader-election.messages.js';
import type { ElectionEventListener, LeadershipChangedEvent, ObservedJob, SkipReason } from '../leadership/election-events.js';

/**
 * A follower skips every tick of every leader-only job, so a line per skip would bury the log.
 * This counts the skips of each election per job and says them in one line when that election's
 * leadership changes (the individual skips are logged at `verbose` only). Always installed: it
 * needs no optional package, and counting costs a map update per skip, no allocation.
 */
export class SkippedTicksSummary implements ElectionEventListener {
  private readonly logger = new Logger('LeaderOnly');
  /** Skips since the last change, per election, per job. */
  private readonly skipped = new Map<string, Map<string, number>>();

  tickSkipped(job: ObservedJob, _reason: SkipReason): void {
    let jobs = this.skipped.get(job.election);
    if (jobs === undefined) {
      jobs = new Map();
      this.skipped.set(job.election, jobs);
    }
    jobs.set(job.name, (jobs.get(job.name) ?? 0) + 1);
  }

  leadershipChanged(event: LeadershipChangedEvent): void {
    const jobs = this.skipped.get(event.election);
    if (jobs === undefined || jobs.size === 0) return;
    this.logger.log(TICKS_SKIPPED_SUMMARY(event.election, jobs));
    jobs.clear();
  }
}
