/** The ledger's messages for users, each saying what to do. */
import { describeValue } from '../leader-election.messages.js';

export const POLICY_OPTION_INVALID = (job: string, option: string, value: unknown, fix: string) =>
  `${job}: @LeaderOnly({ ${option} }) is ${describe(value)}. ${fix}`;

export const POLICY_UNKNOWN_OPTION = (job: string, option: string, hint: string | undefined, known: readonly string[]) =>
  `${job}: @LeaderOnly() has no option \`${option}\`${hint ? `; did you mean \`${hint}\`?` : '.'} ` +
  `Known options: ${known.join(', ')}.`;

export const POLICY_NEEDS_CLAIM = (job: string, option: string) =>
  `${job}: @LeaderOnly({ ${option} }) acts on claimed ticks, but claims are off (claim: false). ` +
  `Remove \`${option}\`, or remove \`claim: false\`.`;

export const POLICY_NO_SCHEDULE_FOR_CLAIMS = (job: string, option: string, why: string) =>
  `${job}: @LeaderOnly({ ${option} }) needs scheduled fire times, but ${why}. Remove \`${option}\`` +
  ` (the job then runs on whichever pod leads when it is called), or schedule it with @Cron().`;

export const POLICY_NOT_FOR_INTERVAL = (job: string, option: string, value: unknown, fix: string) =>
  `${job}: @LeaderOnly({ ${option}: ${describe(value)} }) is not available for @Interval(): ${fix}`;

export const POLICY_INVALID_CRON = (job: string, problem: string) =>
  `${job}: its @Cron() schedule cannot be computed (${problem}), so its ticks cannot be claimed. ` +
  `Fix the expression, timeZone or utcOffset (cron would reject it at bootstrap too).`;

/**
 * One warning per election, at startup: which jobs' ledger options its backend does not put in
 * force, what the jobs do instead, and (when `auto` chose the backend) that the choice and its
 * reason are why, so that the same app can start on a laptop, in CI and in the cluster.
 */
export const LEDGER_OPTIONS_NOT_IN_FORCE = (
  election: string,
  backend: string,
  autoReason: string | undefined,
  jobs: readonly { job: string; options: readonly string[] }[],
) =>
  `Election '${election}' ${autoReason === undefined ? `uses backend '${backend}'` : `runs on backend '${backend}' (backend 'auto' chose it because ${autoReason})`}, ` +
  `which has no Lease to record ticks in, so ${jobs.length === 1 ? 'this @LeaderOnly() option is' : 'these @LeaderOnly() options are'} not in force here: ` +
  jobs.map(({ job, options }) => `${job} (${options.join(', ')})`).join('; ') + `. ` +
  `${jobs.length === 1 ? 'The job runs' : 'The jobs run'} on each tick that fires while this process leads: no tick is claimed, and none missed is made up. ` +
  (autoReason === undefined
    ? `Use backend 'lease' (or 'auto', which holds a Lease inside Kubernetes) for them to apply, or remove them.`
    : `They apply inside Kubernetes, where 'auto' holds the Lease; nothing to change for a single process on a laptop or in CI.`);

export const DUPLICATE_LEDGER_KEY = (key: string, first: string, second: string) =>
  `${first} and ${second} would share the ledger entry "${key}" in one election, so one's claims ` +
  `would stop the other's ticks. Give one of them a distinct @Cron({ name }) or @Interval(name, ms).`;

function describe(value: unknown): string {
  return describeValue(value, { quote: "'", missing: 'undefined' });
}
