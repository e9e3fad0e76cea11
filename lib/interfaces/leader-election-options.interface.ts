import type { KubeConfig } from '@kubernetes/client-node';
import type { LeadershipState } from './leadership-state.interface.js';

/** How an election decides who leads. */
export type LeaderElectionBackend = 'auto' | 'lease' | 'sidecar' | 'standalone';

/** Passed to `onStartedLeading`: valid for one term of leadership. */
export interface LeadershipTerm {
  /** The election's name (`default` for the top-level options). */
  election: string;
  /** The Lease's `leaseTransitions` when this pod took it; `null` for backends without terms. */
  term: number | null;
  /** Aborted when this pod stops leading (lost, expired or shutting down). */
  signal: AbortSignal;
}

/** Callbacks named as in client-go's `LeaderCallbacks`. A callback that throws is logged. */
export interface LeaderElectionCallbacks {
  /** This pod became the leader. */
  onStartedLeading?: (term: LeadershipTerm) => void | Promise<void>;
  /** This pod stopped leading (lost the lease, could not renew in time, or shutdown began). */
  onStoppedLeading?: (state: LeadershipState) => void | Promise<void>;
  /** Another identity (or this pod) is now the observed leader. Not called for "no leader". */
  onNewLeader?: (identity: string, state: LeadershipState) => void | Promise<void>;
}

/** Options of the `sidecar` backend. */
export interface SidecarOptions {
  /**
   * The leader-elector sidecar's HTTP address (it answers `{"name":"<leader>"}` on any path).
   * @default 'http://localhost:4040'
   */
  url?: string;
  /** How often the sidecar is asked, in milliseconds. @default 1000 */
  pollIntervalMs?: number;
  /** Per-request timeout in milliseconds; at most `pollIntervalMs`. @default 500 */
  requestTimeoutMs?: number;
}

/** Options of the `lease` backend. */
export interface LeaseOptions {
  /** The Lease object's name: a DNS-1123 subdomain, unique to this app in its namespace. Required. */
  name: string;
  /** Namespace of the Lease. @default POD_NAMESPACE, else the service account's namespace, else 'default' */
  namespace?: string;
  /**
   * How long followers wait, from when they last saw the Lease change, before taking it over.
   * Written to the Lease as whole seconds. @default 15000
   */
  leaseDurationMs?: number;
  /**
   * How long the leader keeps leading without a successful renew, counted from the send time of the
   * last successful one. Must be less than `leaseDurationMs`. @default 10000
   */
  renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew, in milliseconds. @default 2000 */
  retryPeriodMs?: number;
  /** Timeout of each API request in milliseconds. @default max(1000, renewDeadlineMs / 2) */
  requestTimeoutMs?: number;
  /**
   * Release the Lease on shutdown (after running jobs finish) so a follower takes over at once.
   * @default true
   */
  releaseOnShutdown?: boolean;
  /** The Kubernetes client configuration. @default in-cluster config inside a pod, else ~/.kube/config */
  kubeConfig?: KubeConfig;
  /**
   * Fail over from a crashed process in about a second instead of a lease duration: followers
   * watch the holder's pod and take over as soon as its status proves the process that held the
   * Lease gone (the kubelet restarted or terminated its container). Never early on anything less
   * than proof (a NotReady node, a force deletion, an error reading the pod): then the lease
   * expires as usual. Needs the identity to be the pod's name and `get`/`watch` on `pods` in the
   * Lease's namespace. `{ container }` names the container this app runs in, for a pod with several.
   * @default false
   */
  fastFailover?: boolean | { container?: string };
}

/**
 * Serve the old `leader-elector` sidecar's HTTP answer from this app's own election, so the pod's
 * other containers that ask `localhost:4040` keep working once the sidecar container is gone:
 * every path and method gets `200`, `{"name":"<leader>"}` as `text/plain`, byte for byte as the
 * sidecar sent it. The name is this pod's only while this pod may act as leader (as the gate
 * decides), else the leader this pod observes, else `""`.
 */
export interface SidecarApiOptions {
  /** The TCP port, as the sidecar's `--http=localhost:4040`. `0` picks a free port (logged). @default 4040 */
  port?: number;
  /**
   * The address to listen on: an IP address, or `'localhost'` (meaning `127.0.0.1`, as the sidecar
   * bound it). The default answers the pod's own containers only; `'0.0.0.0'` also answers other
   * pods. @default '127.0.0.1'
   */
  host?: string;
  /** The election whose leader is answered; it must not use the `sidecar` backend. @default 'default' */
  election?: string;
}

interface ElectionOptionsBase extends LeaderElectionCallbacks {
  /**
   * `auto` (default): `lease` inside Kubernetes, `standalone` outside.
   * `lease`: hold a coordination.k8s.io/v1 Lease directly. `sidecar`: ask the leader-elector sidecar.
   * `standalone`: this process always leads (development, a single replica).
   * @default 'auto'
   */
  backend?: LeaderElectionBackend;
  /** The sidecar backend's options; checked at startup whenever present. */
  sidecar?: SidecarOptions;
  /** The Lease backend's options; checked at startup whenever present, so it needs a name. */
  lease?: LeaseOptions;
  /**
   * Split this election's jobs over this many shards, each led on its own Lease
   * (`<lease.name>-shard-<i>`), so the jobs spread over the replicas: every pod is a candidate for
   * every shard but leads at most its share (`ceil(shards / live pods)`), and hands the surplus
   * over, after its runs end, when a pod joins. A job goes to a shard by a stable hash of its key,
   * or by `@LeaderOnly({ shard })`. Every promise holds per shard (each tick once, catch-up,
   * fencing token, abort on loss, control). 1 to 64; the `lease` backend only (with `auto` outside
   * Kubernetes, one process runs every job, as without shards).
   * @default 1 (not split)
   */
  shards?: number;
}

/**
 * Which options each backend needs, as the startup checks require them: a Lease needs a name
 * wherever it may be used, which for `auto` (or no backend) is whenever the app runs inside
 * Kubernetes, so `auto` needs `lease.name` too. Use `standalone` for an app that never holds a Lease.
 */
type BackendOptions =
  | { backend?: 'auto'; lease: LeaseOptions }
  | { backend: 'lease'; lease: LeaseOptions }
  | { backend: 'sidecar' }
  | { backend: 'standalone' }
  | LeaseNameRequired;

/**
 * Matches no options (its one required key is `never`): it is here for its name. Given options
 * with neither `backend` nor `lease` (`{ identity: 'pod-a' }`), TypeScript explains the mismatch
 * with the last of the equally close members of a union, so this one, placed last, makes the
 * error say what is missing instead of "Property 'backend' is missing" from `standalone`.
 */
type LeaseNameRequired = {
  backend?: 'auto';
  lease?: undefined;
  "lease.name is required: backend 'auto' (the default) holds a Lease inside Kubernetes, so pass lease: { name: 'my-app-leader' }, or choose backend 'standalone', 'sidecar' or 'lease'": never;
};

/** One election. The module's own options describe the election named `default`. */
export type ElectionOptions = ElectionOptionsBase & BackendOptions;

/** The options of the election named `default` and the module's own. */
export type LeaderElectionModuleOptions = ElectionOptions & LeaderElectionModuleOwnOptions;

/** The module's own options, beside those of the `default` election. */
export interface LeaderElectionModuleOwnOptions {
  /**
   * This pod's identity, compared with the leader's name.
   * @default MY_POD_NAME, else POD_NAME, else HOSTNAME, else os.hostname()
   */
  identity?: string;
  /** More elections, by name, for apps whose jobs must be led independently. */
  elections?: Record<string, ElectionOptions>;
  /**
   * On shutdown, how long to wait for running leader-only jobs to finish before leadership is
   * given up, in milliseconds. @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * Answer as the `leader-elector` sidecar did, on `127.0.0.1:4040` (`true`) or where given, for
   * the pod's other containers. See SidecarApiOptions. @default false (no server)
   */
  serveSidecarApi?: boolean | SidecarApiOptions;
  /** When the health check (`nestjs-cluster-leader/terminus`, `ClusterLeaderService.health()`) reports down. */
  health?: HealthOptions;
  /** Prometheus metrics through `prom-client` (an optional peer dependency). Off unless given. */
  metrics?: MetricsOptions;
  /** OpenTelemetry spans through `@opentelemetry/api` (an optional peer dependency). Off unless given. */
  tracing?: TracingOptions;
}

/** When an election counts as unhealthy: only when a restart of this pod would help. */
export interface HealthOptions {
  /**
   * A pod that believes it leads but has not renewed for longer than `leaseDurationMs` plus this
   * is down (client-go's healthz adaptor: a stuck leader must be restarted), in milliseconds.
   * kube-scheduler and kube-controller-manager use 20 s.
   * @default 20000
   */
  toleranceMs?: number;
  /**
   * An elector whose loop is this many retry periods behind its own schedule is down (a round
   * may take up to three request timeouts before it counts as late).
   * @default 3
   */
  stalledAfterRetryPeriods?: number;
}

/**
 * What the metrics need of a prom-client `Registry`: prom-client's own (`register`, or
 * `new Registry()`) fits. Typed by shape, so apps without prom-client compile.
 */
export interface MetricsRegistry {
  getSingleMetric(name: string): unknown;
  registerMetric(metric: never): void;
}

export interface MetricsOptions {
  /** @default true (when the `metrics` block is given) */
  enabled?: boolean;
  /** Where the metrics are registered. @default prom-client's global `register` */
  registry?: MetricsRegistry;
}

export interface TracingOptions {
  /**
   * A span per gated job run and span events on leadership changes, on the global tracer
   * provider (a no-op until an OpenTelemetry SDK is registered).
   * @default true (when the `tracing` block is given)
   */
  enabled?: boolean;
}
