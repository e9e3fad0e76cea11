import type { LeaderOnlyOptions, MissedRunsPolicy } from 'nestjs-cluster-leader';

/**
 * The sample job's schedule and @LeaderOnly() options, from the environment. Decorators are
 * evaluated when the module loads, so these are read then.
 *
 * SAMPLE_JOB_CRON     the job's cron expression (default every 5 seconds)
 * SAMPLE_JOBS         how many report jobs: unset, one named `report`; M, the jobs `report-0` to
 *                     `report-{M-1}`, each on SAMPLE_JOB_CRON (with SAMPLE_SHARDS they spread)
 * SAMPLE_JOB_MISFIRE  what a new leader does with fire times nobody ran: skip (default), runOnce
 *                     (one catch-up run for all of them) or runEach (one run each, at most 10)
 */
export const SAMPLE_JOB_CRON = process.env.SAMPLE_JOB_CRON?.trim() || '*/5 * * * * *';

const MISSED_RUNS: Record<string, MissedRunsPolicy> = {
  skip: 'skip',
  runonce: 'runOnce',
  'run-once': 'runOnce',
  once: 'runOnce',
  runeach: 'runEach',
  'run-each': 'runEach',
  each: 'runEach',
};

/** The report jobs' names: `report`, or `report-0` ... `report-{M-1}` with SAMPLE_JOBS=M. */
export function reportJobNames(env: NodeJS.ProcessEnv): string[] {
  const value = env.SAMPLE_JOBS?.trim();
  if (!value) return ['report'];
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1000) {
    throw new Error(`Environment variable SAMPLE_JOBS is "${value}": use a whole number of report jobs from 1 to 1000, e.g. SAMPLE_JOBS=8.`);
  }
  return Array.from({ length: Number(value) }, (_, index) => `report-${index}`);
}

export function reportJobOptions(env: NodeJS.ProcessEnv): LeaderOnlyOptions {
  const value = env.SAMPLE_JOB_MISFIRE?.trim();
  if (!value) return {};
  const missedRuns = MISSED_RUNS[value.toLowerCase()];
  if (missedRuns === undefined) {
    throw new Error(`Environment variable SAMPLE_JOB_MISFIRE is "${value}": use skip, runOnce or runEach, e.g. SAMPLE_JOB_MISFIRE=runOnce.`);
  }
  return { missedRuns };
}
