import type { LeaderElectionBackend, LeaderElectionModuleOptions } from 'nestjs-cluster-leader';

/**
 * The sample's leader-election options, from the environment. Only what is set is passed on, so
 * the library's defaults apply to the rest; the library validates ranges and names at startup.
 *
 * LEADER_ELECTION_BACKEND      auto | lease | sidecar | standalone (unset: the library's `auto`,
 *                              which is `standalone` outside Kubernetes)
 * LEADER_ELECTION_SIDECAR_URL  the leader-elector sidecar (default http://localhost:4040)
 * LEADER_ELECTION_LEASE_NAME   the Lease's name (default sample-leader)
 * LEADER_ELECTION_NAMESPACE    the Lease's namespace (default POD_NAMESPACE, then the pod's own)
 * LEASE_DURATION_MS, RENEW_DEADLINE_MS, RETRY_PERIOD_MS   Lease timings, whole milliseconds
 * SAMPLE_FAST_FAILOVER         true: take over from a crashed leader as soon as its pod's status
 *                              proves its container gone (lease.fastFailover; needs get/watch on
 *                              pods, see sample/k8s/lease-fast-failover); default false
 * SAMPLE_SHARDS                split the election's jobs over this many shards, each on its own
 *                              Lease <name>-shard-<i> (the `shards` option; 1 to 64, default 1)
 * LEADER_ELECTION_SIDECAR_API_PORT  answer as the leader-elector sidecar did, on 127.0.0.1 at this
 *                              port (4040 in a pod that drops the sidecar container; unset: off)
 *
 * The identity comes from MY_POD_NAME (the library reads it), and the Kubernetes client from the
 * in-cluster service account or KUBECONFIG. Metrics go to prom-client's global registry, served
 * at /metrics.
 */
export function leaderElectionOptionsFromEnv(env: NodeJS.ProcessEnv): LeaderElectionModuleOptions {
  // The library rejects any other value at startup, listing the valid ones.
  const backend = text(env, 'LEADER_ELECTION_BACKEND') as LeaderElectionBackend | undefined;
  const sidecarUrl = text(env, 'LEADER_ELECTION_SIDECAR_URL');
  const fastFailover = flag(env, 'SAMPLE_FAST_FAILOVER');
  const shards = wholeNumber(env, 'SAMPLE_SHARDS', 'a whole number of shards, e.g. SAMPLE_SHARDS=4');
  const sidecarApiPort = wholeNumber(env, 'LEADER_ELECTION_SIDECAR_API_PORT', 'a port number, e.g. LEADER_ELECTION_SIDECAR_API_PORT=4040');
  return {
    metrics: {},
    ...(backend && { backend }),
    ...(sidecarUrl && { sidecar: { url: sidecarUrl } }),
    ...(sidecarApiPort !== undefined && { serveSidecarApi: { port: sidecarApiPort } }),
    ...(shards !== undefined && { shards }),
    // Read only when the backend is `lease`, or `auto` inside Kubernetes.
    lease: definedOnly({
      name: text(env, 'LEADER_ELECTION_LEASE_NAME') ?? 'sample-leader',
      namespace: text(env, 'LEADER_ELECTION_NAMESPACE'),
      leaseDurationMs: milliseconds(env, 'LEASE_DURATION_MS'),
      renewDeadlineMs: milliseconds(env, 'RENEW_DEADLINE_MS'),
      retryPeriodMs: milliseconds(env, 'RETRY_PERIOD_MS'),
      fastFailover,
    }),
  };
}

/** An empty variable (`value: ""` in a manifest) counts as unset. */
function text(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw new Error(`Environment variable ${name} is "${value}": use true or false.`);
  return value === 'true';
}

function milliseconds(env: NodeJS.ProcessEnv, name: string): number | undefined {
  return wholeNumber(env, name, `a whole number of milliseconds, e.g. ${name}=15000`);
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, expected: string): number | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new Error(`Environment variable ${name} is "${value}": use ${expected}.`);
  }
  return Number(value);
}

function definedOnly<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}
