import { Injectable, Logger } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly } from '../../lib/index.js';

/** A job that must run on one replica only: every replica schedules it, only the leader runs it. */
@Injectable()
export class ReportJob {
  private readonly logger = new Logger(ReportJob.name);
  private runCount = 0;

  /** How often the job ran in this process. */
  get runs(): number {
    return this.runCount;
  }

  // Every 5 seconds; SAMPLE_JOB_CRON overrides it (the black-box test runs it every second).
  @Cron(process.env.SAMPLE_JOB_CRON ?? '*/5 * * * * *')
  @LeaderOnly()
  async report(): Promise<void> {
    // Inside a @LeaderOnly() job: the term it runs under (a fencing token) and a signal that fires
    // as soon as this pod stops leading.
    const { term, signal } = currentLeaderJob()!;
    const run = ++this.runCount;
    const report = await this.buildReport(run);
    // Leadership can end while the job works. Check before every write, and pass the term to the
    // store so it can refuse writes from an older term.
    if (signal.aborted) {
      this.logger.warn(`Run ${run}: leadership ended before writing; not writing.`);
      return;
    }
    await this.writeReport(report, term);
    this.logger.log(`Run ${run}: wrote the report (term ${term ?? 'none'}).`);
  }

  private async buildReport(run: number): Promise<string> {
    return `report #${run} at ${new Date().toISOString()}`;
  }

  /** Stands in for a write to a database or a queue, tagged with the fencing token. */
  private async writeReport(_report: string, _term: number | null): Promise<void> {}
}
