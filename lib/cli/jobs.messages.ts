import type { RequestKind, RequestResult } from '../control/control-record.js';
import { COMMAND } from './jobs-flags.js';

/** What `kubectl-leader` tells its user, each line saying what happened and what to do. */

const what = (kind: RequestKind, job: string) => (kind === 'run' ? `a run of job "${job}"` : `a backfill of job "${job}"`);

export const LEASE_NOT_FOUND = (namespace: string, name: string) =>
  `${COMMAND}: the Lease ${namespace}/${name} does not exist (no pod has led an election on it yet). ` +
  `Check --lease (the app's lease.name option) and -n (the namespace its pods run in; kubectl get leases -n ${namespace} lists them).`;

export const API_FAILED = (
  verb: 'get' | 'update' | 'watch',
  namespace: string,
  name: string,
  user: string,
  error: { status: number; reason: string; message: string },
) => {
  if (error.status === 401) {
    return `${COMMAND}: the API server did not accept the credentials of the kubeconfig's user "${user}" (401 Unauthorized). ` +
      'Log in again (the token may have expired), or pick another context with --context.';
  }
  if (error.status === 403) {
    return `${COMMAND}: user "${user}" may not ${verb} the Lease ${namespace}/${name} (403 Forbidden). ` +
      `It needs a Role in namespace "${namespace}" with the rule { apiGroups: ["coordination.k8s.io"], resources: ["leases"], ` +
      `resourceNames: ["${name}"], verbs: ["get", "update", "watch"] }, bound to it by a RoleBinding. The server said: ${error.message}`;
  }
  if (error.status === 0) {
    return `${COMMAND}: could not ${verb} the Lease ${namespace}/${name}: ${error.message}. ` +
      'Check that the kubeconfig\'s server is reachable (kubectl cluster-info).';
  }
  return `${COMMAND}: ${verb} of the Lease ${namespace}/${name} failed (${error.status} ${error.reason}): ${error.message}`;
};

export const LEASE_CHANGED_TOO_OFTEN = (lease: string, attempts: number) =>
  `${COMMAND}: the Lease ${lease} changed under each of ${attempts} conditional writes (409 Conflict); nothing was changed. Try again.`;

export const UNKNOWN_JOB = (job: string, lease: string, known: readonly string[], verb: string, forceable: boolean) =>
  `${COMMAND}: the Lease ${lease} knows no job "${job}". Known jobs: ${known.length === 0 ? '(none)' : known.map((key) => `"${key}"`).join(', ')}. ` +
  'Use a job\'s key (its @Cron({ name }), else ClassName.methodName)' +
  (forceable ? `; a job that never ran has no entry yet: pass --force to ${verb} it anyway.` : '.');

export const NOT_PAUSED = (job: string) => `job/${job} was not paused: nothing to resume.`;

export const WAITING = (kind: RequestKind, job: string, id: string, holder: string | null, timeout: string) =>
  `Asked the leader for ${what(kind, job)} (request ${id}); waiting up to ${timeout} for the outcome ` +
  `(${holder === null ? 'no pod leads now: the next leader takes it' : `leader: ${holder}`}).`;

export const WRITTEN = (kind: RequestKind, job: string, id: string) =>
  `Asked the leader for ${what(kind, job)} (request ${id}); not waiting for the outcome: kubectl leader jobs describe ${job} shows it.`;

export const TAKEN = (result: RequestResult) =>
  `Request ${result.id} taken by ${result.pod} (term ${result.term ?? 'none'})${result.total === undefined ? '' : `: ${result.total} fire times in the range`}.`;

export const PROGRESS = (result: RequestResult) =>
  `Backfill of job "${result.job}": ${result.done ?? 0} of ${result.total ?? 0} fire times done.`;

export const TIMED_OUT = (kind: RequestKind, job: string, id: string, timeout: string, taken: RequestResult | undefined) =>
  `${COMMAND}: no outcome of ${what(kind, job)} (request ${id}) within ${timeout}: ` +
  (taken === undefined ? 'no leader has taken it yet' : `it runs on ${taken.pod} (term ${taken.term ?? 'none'})`) +
  `. The request stays in the Lease and may still run; kubectl leader jobs describe ${job} shows how it went.`;

export const WITHDRAWN = (kind: RequestKind, job: string, id: string) =>
  `${COMMAND}: request ${id} (${what(kind, job)}) left the Lease without an outcome: its annotation was removed, ` +
  'or the Lease re-created by a pod that never saw it. No outcome will come; ask again if it should still run.';

/** A credential problem (LeaderElectionConfigError) as one line, naming the flag or variable. */
export const CREDENTIALS_PROBLEM = (setting: string, fix: string) => `${COMMAND}: ${setting}: ${fix}`;
