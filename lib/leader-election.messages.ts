import type { LeaderElectionBackend } from './interfaces/leader-election-options.interface.js';

/** Every message a user may have to act on, in one place, each saying what to do. */

export const MODULE_NOT_IMPORTED = (job: string) =>
  `${job} is decorated with @LeaderOnly(), but LeaderElectionModule is not imported, so the job ` +
  `could never run. Import LeaderElectionModule.forRoot(...) (or forRootAsync) in the app module.`;

export const DETACHED_CALL = (job: string) =>
  `${job} is decorated with @LeaderOnly() and was called without its instance (\`this\` is ` +
  `undefined), so it cannot tell which app's election to ask. Call it as a method ` +
  `(instance.method()) or bind it first.`;

export const UNKNOWN_ELECTION = (job: string, election: string, known: string[]) =>
  `${job} is decorated with @LeaderOnly({ election: '${election}' }), but no election of that name ` +
  `is configured (configured: ${known.map((name) => `'${name}'`).join(', ')}). Add it to the ` +
  `\`elections\` option of LeaderElectionModule.forRoot(), or fix the name.`;

export const AUTO_BACKEND_CHOSEN = (election: string, backend: LeaderElectionBackend, why: string) =>
  `Election '${election}': backend 'auto' chose '${backend}' because ${why}.`;

export const STANDALONE_IN_KUBERNETES = (election: string) =>
  `Election '${election}' uses backend 'standalone' inside Kubernetes (KUBERNETES_SERVICE_HOST is ` +
  `set): every replica leads and runs every job. Use backend 'lease' (or 'auto') unless this ` +
  `Deployment has exactly one replica.`;

export const STARTED_LEADING = (election: string, identity: string, term: number | null) =>
  `Election '${election}': this pod (${identity}) is now the leader` +
  (term === null ? '.' : ` (term ${term}).`);

export const STOPPED_LEADING = (election: string, identity: string, reason: string) =>
  `Election '${election}': this pod (${identity}) stopped leading: ${reason}.`;

export const NEW_LEADER = (election: string, leader: string | null) =>
  leader === null
    ? `Election '${election}': no leader is known.`
    : `Election '${election}': the leader is ${leader}.`;

export const JOB_FAILED = (job: string) => `Leader-only job ${job} failed`;

export const JOB_SKIPPED = (job: string, election: string) =>
  `Skipped ${job}: this pod is not the leader of election '${election}'.`;

export const DRAIN_TIMED_OUT = (running: number, timeoutMs: number) =>
  `Shutdown: ${running} leader-only job(s) still running after ${timeoutMs} ms; giving up ` +
  `leadership anyway. Make long jobs stop when their AbortSignal fires.`;

export const SIDECAR_UNHEALTHY = (url: string, problem: string) =>
  `The leader-elector sidecar at ${url} gave no usable answer (${problem}); failing closed: this ` +
  `pod does not lead until it answers again. Check that the sidecar container runs with ` +
  `--http=localhost:4040 and that \`sidecar.url\` points at it.`;

export const SIDECAR_HEALTHY = (url: string) =>
  `The leader-elector sidecar at ${url} answers again.`;

export const LEASE_API_PROBLEM = (
  election: string,
  lease: string,
  error: { verb: string; status: number; reason: string; message: string },
) => {
  const [namespace, name] = lease.split('/');
  const where = `Election '${election}', Lease ${lease}`;
  if (error.status === 401) {
    return `${where}: the Kubernetes API did not accept this pod's credentials (401 Unauthorized), ` +
      `so it can never lead. Check the ServiceAccount token is mounted (automountServiceAccountToken) ` +
      `or the kubeconfig's user. Retrying slowly.`;
  }
  if (error.status === 403) {
    return `${where}: this pod may not ${error.verb} the Lease (403 Forbidden), so it can never lead. ` +
      `Grant its ServiceAccount a Role in namespace "${namespace}" with the rules ` +
      `{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["${name}"], ` +
      `verbs: ["get", "update", "watch"] } and { apiGroups: ["coordination.k8s.io"], ` +
      `resources: ["leases"], verbs: ["create"] }, bound with a RoleBinding. ` +
      `The server said: ${error.message}. Retrying slowly.`;
  }
  if (error.status === 400 || error.status === 422) {
    return `${where}: the Kubernetes API rejected a ${error.verb} as invalid (${error.status} ` +
      `${error.reason}). This is a bug in nestjs-cluster-leader; please report it with this ` +
      `message: ${error.message}`;
  }
  return `${where}: ${error.verb} failed (${error.status === 0 ? error.reason : `${error.status} ${error.reason}`}): ` +
    `${error.message}. Not leading while this lasts; retrying.`;
};

export const LEASE_API_RECOVERED = (election: string, lease: string) =>
  `Election '${election}', Lease ${lease}: the Kubernetes API answers again.`;

export const LEASE_RELEASED = (election: string, lease: string) =>
  `Election '${election}': released the Lease ${lease} so another pod can take over at once.`;

export const LEASE_RELEASE_FAILED = (election: string, lease: string, problem: string) =>
  `Election '${election}': could not release the Lease ${lease} (${problem}); other pods take ` +
  `over when it expires.`;

export const SIDECAR_API_SERVING = (election: string, address: { address: string; port: number }) =>
  `Answering as the leader-elector sidecar did, for election '${election}', on ` +
  `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port} (any path).`;

export const SIDECAR_API_LISTEN_FAILED = (host: string, port: number, code: string) => {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `Another process already listens on ${where} (EADDRINUSE). If the pod still runs the ` +
        `leader-elector sidecar container, remove it: this app now answers in its place. Otherwise ` +
        `choose a free port.`;
    case 'EACCES':
      return `This process may not listen on ${where} (EACCES): ports below 1024 need privileges. ` +
        `Use 4040, as the sidecar did.`;
    default:
      return `No interface of this machine has the address ${host} (${code}). Use '127.0.0.1' ` +
        `(this pod's containers only) or '0.0.0.0' (every interface).`;
  }
};
