import type { ControlRequest, RequestResult } from './control-record.js';

/** The control features' messages for users, each saying what happened and what to do. */

const what = (request: Pick<ControlRequest, 'id' | 'job' | 'kind'>) =>
  `${request.kind === 'run' ? 'Run-now' : 'Backfill'} request ${request.id} for job "${request.job}"`;

export const REQUEST_DROPPED = (request: ControlRequest, reason: string) =>
  `${what(request)} was dropped: ${reason}. Check the job's name (GET /jobs, or ClusterLeaderService.jobs(), lists them).`;

export const REQUEST_RAN = (result: RequestResult, succeeded: boolean, by: string | null) =>
  `${what(result)}${by ? ` (asked by ${by})` : ''} ${succeeded ? 'ran' : 'failed'}${result.kind === 'backfill' ? ` (${result.done ?? 0} of ${result.total ?? 0} fire times)` : ''} on ${result.pod} (term ${result.term ?? 'none'}).`;

export const JOB_PAUSED = (election: string, job: string, by: string | null, note: string) =>
  `Election '${election}': job "${job}" paused${by ? ` by ${by}` : ''}${note ? `: ${note}` : ''}. Its ticks are skipped on every pod until it is resumed.`;

export const JOB_RESUMED = (election: string, job: string) =>
  `Election '${election}': job "${job}" resumed; the ticks it missed are for its missedRuns policy to decide (unless resumed with skipMissed).`;

export const UNKNOWN_JOB = (job: string, known: readonly string[]) =>
  `No @LeaderOnly() job is named "${job}" in this app. Known jobs: ${known.length === 0 ? '(none)' : known.map((name) => `"${name}"`).join(', ')}. ` +
  `Use a job's key (its @Cron({ name }), else ClassName.methodName) as jobs() lists it.`;

export const CONTROL_NEEDS_LEASE = (job: string, election: string, backend: string, action: string) =>
  `Cannot ${action} job "${job}": its election '${election}' uses the '${backend}' backend, which keeps no shared ` +
  `state for the pods to agree on (pauses and requests live in the election's Lease). Use backend 'lease' ` +
  `(or 'auto' inside Kubernetes) for this election; jobs() still describes its jobs.`;
