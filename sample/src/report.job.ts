import { Injectable, Logger } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { currentLeaderJob, LeaderOnly, type LeaderJobContext } from 'nestjs-cluster-leader';
import { reportJobNames, reportJobOptions, SAMPLE_JOB_CRON } from './report-job.options.js';

/** One run of the job in this process, as `GET /runs` lists it. */
export interface SampleRun {
  /** The job that ran: `report`, or `report-<i>` with SAMPLE_JOBS. */
  job: string;
  /** The fire time the run belongs to (claimed in the Lease on the lease backend). */
  scheduledAt: string;
  startedAt: string;
  term: number | null;
  fencingToken: string | number | null;
  /** A run that makes up for fire times nobody ran (SAMPLE_JOB_MISFIRE). */
  catchUp: boolean;
  /** Why it ran: 'scheduled', 'catchUp', 'rerun', 'manual' (POST /jobs/report/run) or 'backfill'. */
  kind: LeaderJobContext['kind'];
}

/** A job that must run on one replica only: every replica schedules it, only the leader runs it. */
@Injectable()
export class ReportJob {
  private readonly logger = new Logger(ReportJob.name);
  private readonly history: SampleRun[] = [];

  /** How often the job ran in this process. */
  get runs(): number {
    return this.history.length;
  }

  /** Every run in this process, oldest first. */
  runLog(): readonly SampleRun[] {
    return this.history;
  }

  // The job, as an app writes one:
  //   @Cron('*/5 * * * * *', { name: 'report' })
  //   @LeaderOnly()
  //   async report() { ... }
  // Here the decorators are applied below, once per job that SAMPLE_JOBS asks for: every 5
  // seconds unless SAMPLE_JOB_CRON says otherwise (the black-box test runs them every second).
  // Its name ('report', or 'report-<i>') is what GET /jobs lists and POST /jobs/<name>/... takes.
  async report(): Promise<void> {
    await this.runReport('report');
  }

  /** One run of the report job named `job`. */
  async runReport(job: string): Promise<void> {
    // Inside a @LeaderOnly() job: the tick it runs for, the term, a fencing token that grows with
    // every new term, and a signal that fires as soon as this pod stops leading.
    const { term, fencingToken, signal, scheduledAt, catchUp, kind } = currentLeaderJob()!;
    const startedAt = new Date();
    this.history.push({
      job,
      scheduledAt: (scheduledAt ?? startedAt).toISOString(),
      startedAt: startedAt.toISOString(),
      term,
      fencingToken,
      catchUp,
      kind,
    });
    const run = this.history.length;
    const report = await this.buildReport(run);
    // Leadership can end while the job works. Check before every write, and pass the term to the
    // store so it can refuse writes from an older term.
    if (signal.aborted) {
      this.logger.warn(`Run ${run}: leadership ended before writing; not writing.`);
      return;
    }
    await this.writeReport(report, (scheduledAt ?? startedAt).toISOString(), fencingToken, catchUp);
    this.logger.log(`Run ${run}: wrote ${job === 'report' ? 'the report' : job} for ${(scheduledAt ?? startedAt).toISOString()}${catchUp ? ' (catching up)' : ''} (term ${term ?? 'none'}).`);
  }

  private async buildReport(run: number): Promise<string> {
    return `report #${run} at ${new Date().toISOString()}`;
  }

  /**
   * Stands in for a write to a database or a queue, tagged with the fencing token. With
   * SAMPLE_FENCED_STORE_URL set (the benchmark does), the write goes to that HTTP store, which
   * refuses a token lower than one it has seen (409): a fenced write, end to end.
   */
  private async writeReport(report: string, scheduledAt: string, fencingToken: string | null, catchUp: boolean): Promise<void> {
    const store = process.env.SAMPLE_FENCED_STORE_URL;
    if (!store) return;
    try {
      const response = await fetch(store, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pod: process.env.MY_POD_NAME, scheduledAt, fencingToken, catchUp, report }),
        signal: AbortSignal.timeout(2_000),
      });
      if (response.status === 409) this.logger.warn(`The store refused the report for ${scheduledAt}: fencing token ${fencingToken} is stale.`);
    } catch (error) {
      this.logger.warn(`The store did not take the report for ${scheduledAt}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

// One method per report job, decorated as the comment on report() shows. Decorators run when the
// module loads, so SAMPLE_JOBS, SAMPLE_JOB_CRON and SAMPLE_JOB_MISFIRE are read then.
for (const name of reportJobNames(process.env)) {
  const method = name === 'report' ? 'report' : `report${name.slice('report-'.length)}`;
  const descriptor: PropertyDescriptor = {
    value: name === 'report' ? ReportJob.prototype.report : function (this: ReportJob) {
      return this.runReport(name);
    },
    writable: true,
    configurable: true,
  };
  // Applied bottom-up, as written above a method: @LeaderOnly() first, then @Cron().
  LeaderOnly(reportJobOptions(process.env))(ReportJob.prototype, method, descriptor);
  Cron(SAMPLE_JOB_CRON, { name })(ReportJob.prototype, method, descriptor);
  Object.defineProperty(ReportJob.prototype, method, descriptor);
}
