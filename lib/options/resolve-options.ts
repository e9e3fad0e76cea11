import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import type {
  ElectionOptions,
  LeaderElectionCallbacks,
  LeaderElectionModuleOptions,
  MetricsRegistry,
} from '../interfaces/leader-election-options.interface.js';
import {
  DEFAULT_ELECTION,
  HEALTH_DEFAULTS,
  LEASE_DEFAULTS,
  SHUTDOWN_DEFAULTS,
  SIDECAR_DEFAULTS,
} from '../leader-election.constants.js';
import { resolveSidecarApi, type ResolvedSidecarApi } from './resolve-sidecar-api.js';
import { resolveShards, splitIntoShards, type ResolvedShard, type ResolvedShardGroup, type ShardsNotInForce } from './resolve-shards.js';
import { optionPrefix } from './option-path.js';

export { MAX_SHARDS, shardElectionName, type ResolvedShard, type ResolvedShardGroup } from './resolve-shards.js';
export { optionPrefix } from './option-path.js';

export const SERVICE_ACCOUNT_NAMESPACE_FILE =
  '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface ResolvedSidecar {
  url: URL;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  maxBodyBytes: number;
}

export interface ResolvedLease {
  name: string;
  namespace: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  requestTimeoutMs: number;
  releaseOnShutdown: boolean;
  kubeConfig?: KubeConfig;
  /** Fast failover (watch the holder's pod): on, with the container this process runs in if named. */
  fastFailover?: { container?: string };
}

interface ResolvedElectionBase {
  name: string;
  /** Set on each shard of an election split by `shards`. */
  shard?: ResolvedShard;
  identity: string;
  callbacks: LeaderElectionCallbacks;
  /** Set when backend 'auto' made the choice: why, for the startup lines (the fact alone, no consequence). */
  autoReason?: string;
}

export type ResolvedElection = ResolvedElectionBase &
  (
    | { backend: 'standalone' }
    | { backend: 'sidecar'; sidecar: ResolvedSidecar }
    | { backend: 'lease'; lease: ResolvedLease }
  );

export interface ResolvedObservability {
  health: { toleranceMs: number; stalledAfterRetryPeriods: number };
  /** undefined: no metrics (prom-client is never loaded). `registry` undefined: prom-client's global one. */
  metrics?: { registry?: MetricsRegistry };
  /** false: no spans (@opentelemetry/api is never loaded). */
  tracing: boolean;
}

export interface ResolvedOptions {
  identity: string;
  observability: ResolvedObservability;
  /** KUBERNETES_SERVICE_HOST is set: this process runs in a pod. */
  insideKubernetes: boolean;
  drainTimeoutMs: number;
  elections: ResolvedElection[];
  /** The elections split into shards (their shards are in `elections`, under their own names). */
  shardGroups: ResolvedShardGroup[];
  /**
   * Elections with `shards` that run unsplit, since their backend ('auto' outside Kubernetes, or
   * 'standalone') leads every job in this one process: for the warning at start.
   */
  shardsNotInForce: ShardsNotInForce;
  /** Set when `serveSidecarApi` asks for the drop-in answer of the leader-elector sidecar. */
  sidecarApi?: ResolvedSidecarApi;
}

/** What the process environment contributes; injectable so tests need not touch process.env. */
export interface ResolveEnvironment {
  env: NodeJS.ProcessEnv;
  readServiceAccountNamespace: () => string | undefined;
  hostname: () => string;
}

export const processEnvironment = (): ResolveEnvironment => ({
  env: process.env,
  readServiceAccountNamespace: () => {
    try {
      return readFileSync(SERVICE_ACCOUNT_NAMESPACE_FILE, 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  },
  hostname,
});

const BACKENDS = ['auto', 'lease', 'sidecar', 'standalone'] as const;
const MODULE_KEYS = ['identity', 'elections', 'drainTimeoutMs', 'health', 'metrics', 'tracing', 'isGlobal', 'serveSidecarApi'];
const HEALTH_KEYS = ['toleranceMs', 'stalledAfterRetryPeriods'];
const METRICS_KEYS = ['enabled', 'registry'];
const TRACING_KEYS = ['enabled'];
const ELECTION_KEYS = ['backend', 'sidecar', 'lease', 'shards', 'onStartedLeading', 'onStoppedLeading', 'onNewLeader'];
const SIDECAR_KEYS = ['url', 'pollIntervalMs', 'requestTimeoutMs'];
const LEASE_KEYS = [
  'name', 'namespace', 'leaseDurationMs', 'renewDeadlineMs', 'retryPeriodMs',
  'requestTimeoutMs', 'releaseOnShutdown', 'kubeConfig', 'fastFailover',
];
/** Kubernetes' rule for object names such as a Lease's (a DNS-1123 subdomain). */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes' rule for namespace names (a DNS-1123 label). */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Turns the user's options into a complete, validated description of every election, or throws a
 * LeaderElectionConfigError naming the option, the value and the fix. Runs once, at startup.
 */
export function resolveOptions(
  options: LeaderElectionModuleOptions,
  environment: ResolveEnvironment = processEnvironment(),
): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new LeaderElectionConfigError('options', options, 'Pass an object to LeaderElectionModule.forRoot().');
  }
  rejectUnknownKeys('', options, [...MODULE_KEYS, ...ELECTION_KEYS]);
  const identity = resolveIdentity(options.identity, environment);
  const drainTimeoutMs = nonNegativeInteger('drainTimeoutMs', options.drainTimeoutMs, SHUTDOWN_DEFAULTS.drainTimeoutMs);

  const elections = [resolveElection(DEFAULT_ELECTION, '', options, identity, environment)];
  const shardCounts = new Map([[DEFAULT_ELECTION, resolveShards('', options)]]);
  const extra = options.elections ?? {};
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra)) {
    throw new LeaderElectionConfigError('elections', extra, 'Pass an object of election options keyed by election name, e.g. { reports: { backend: "lease", lease: { name: "reports" } } }.');
  }
  for (const [name, election] of Object.entries(extra)) {
    if (name === DEFAULT_ELECTION) {
      throw new LeaderElectionConfigError(`elections.${name}`, election, `The election '${DEFAULT_ELECTION}' is the one described by the top-level options; give this election another name.`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new LeaderElectionConfigError(`elections.${name}`, name, 'Election names use letters, digits, ".", "_" and "-".');
    }
    if (election === null || typeof election !== 'object') {
      throw new LeaderElectionConfigError(`elections.${name}`, election, 'Pass an object with the election\'s options.');
    }
    rejectUnknownKeys(`elections.${name}.`, election, ELECTION_KEYS);
    elections.push(resolveElection(name, `elections.${name}.`, election, identity, environment));
    shardCounts.set(name, resolveShards(`elections.${name}.`, election));
  }
  const { split, shardGroups, shardsNotInForce } = splitIntoShards(elections, shardCounts);
  assertDistinctLocks(split);
  const sidecarApi = resolveSidecarApi(options.serveSidecarApi, split);
  const observability = resolveObservability(options);
  return { identity, observability, insideKubernetes: insideKubernetes(environment), drainTimeoutMs, elections: split, shardGroups, shardsNotInForce, ...(sidecarApi && { sidecarApi }) };
}

function resolveObservability(options: LeaderElectionModuleOptions): ResolvedObservability {
  const health = block('health', options.health, HEALTH_KEYS, '{ toleranceMs: 20000 }');
  const toleranceMs = nonNegativeInteger('health.toleranceMs', health.toleranceMs, HEALTH_DEFAULTS.toleranceMs);
  const stalledAfterRetryPeriods = positiveInteger('health.stalledAfterRetryPeriods', health.stalledAfterRetryPeriods, HEALTH_DEFAULTS.stalledAfterRetryPeriods, 'Use a whole number of retry periods greater than 0, e.g. 3.');
  const metricsBlock = options.metrics === undefined ? undefined : block('metrics', options.metrics, METRICS_KEYS, '{ registry }');
  let metrics: ResolvedObservability['metrics'];
  if (metricsBlock !== undefined && enabled('metrics.enabled', metricsBlock.enabled)) {
    const registry = metricsBlock.registry;
    if (registry !== undefined && (registry === null || typeof registry !== 'object' || typeof (registry as MetricsRegistry).registerMetric !== 'function' || typeof (registry as MetricsRegistry).getSingleMetric !== 'function')) {
      throw new LeaderElectionConfigError('metrics.registry', '(not a prom-client Registry)', 'Pass a Registry from prom-client (its global `register`, or `new Registry()`), or leave it out to use prom-client\'s global one.');
    }
    metrics = { registry: registry as MetricsRegistry | undefined };
  }
  const tracingBlock = options.tracing === undefined ? undefined : block('tracing', options.tracing, TRACING_KEYS, '{ enabled: true }');
  const tracing = tracingBlock !== undefined && enabled('tracing.enabled', tracingBlock.enabled);
  return { health: { toleranceMs, stalledAfterRetryPeriods }, metrics, tracing };
}

function block(option: string, value: unknown, known: string[], example: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LeaderElectionConfigError(option, value, `Pass an object such as ${option}: ${example}, or leave it out.`);
  }
  rejectUnknownKeys(`${option}.`, value, known);
  return value as Record<string, unknown>;
}

function enabled(option: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new LeaderElectionConfigError(option, value, 'Use true or false.');
  return value;
}

function resolveIdentity(option: unknown, { env, hostname }: ResolveEnvironment): string {
  if (option !== undefined) {
    if (typeof option !== 'string' || option.trim() === '') {
      throw new LeaderElectionConfigError('identity', option, 'Set it to this pod\'s name, or leave it out to use MY_POD_NAME, POD_NAME or HOSTNAME.');
    }
    return option;
  }
  const fromEnv = [env.MY_POD_NAME, env.POD_NAME, env.HOSTNAME].find((value) => value && value.trim() !== '');
  const identity = fromEnv ?? hostname();
  if (!identity || identity.trim() === '') {
    throw new LeaderElectionConfigError('identity', identity, 'No pod name was found (MY_POD_NAME, POD_NAME, HOSTNAME and the host name are empty). Set the `identity` option or MY_POD_NAME from the downward API (fieldRef: metadata.name).');
  }
  return identity;
}

function resolveElection(
  name: string,
  prefix: string,
  options: ElectionOptions,
  identity: string,
  environment: ResolveEnvironment,
): ResolvedElection {
  const callbacks = resolveCallbacks(prefix, options);
  const requested = options.backend ?? 'auto';
  if (!BACKENDS.includes(requested)) {
    throw new LeaderElectionConfigError(`${prefix}backend`, requested, `Use one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}.`);
  }
  let backend: 'lease' | 'sidecar' | 'standalone';
  let autoReason: string | undefined;
  if (requested === 'auto') {
    const inCluster = insideKubernetes(environment);
    backend = inCluster ? 'lease' : 'standalone';
    autoReason = inCluster
      ? 'KUBERNETES_SERVICE_HOST is set (running inside Kubernetes)'
      : 'KUBERNETES_SERVICE_HOST is not set (not running inside Kubernetes)';
  } else {
    backend = requested;
  }
  // A block that is present is checked even when another backend runs here: with 'auto', the
  // lease block is used only inside the cluster, and its mistakes should show on a laptop first.
  const sidecar = options.sidecar !== undefined || backend === 'sidecar'
    ? resolveSidecar(`${prefix}sidecar.`, options.sidecar ?? {})
    : undefined;
  const lease = options.lease !== undefined || backend === 'lease'
    ? resolveLease(`${prefix}lease.`, options.lease, requested, environment)
    : undefined;
  const base = { name, identity, callbacks, autoReason };
  switch (backend) {
    case 'standalone':
      return { ...base, backend };
    case 'sidecar':
      return { ...base, backend, sidecar: sidecar! };
    case 'lease':
      return { ...base, backend, lease: lease! };
  }
}

function resolveCallbacks(prefix: string, options: ElectionOptions): LeaderElectionCallbacks {
  for (const key of ['onStartedLeading', 'onStoppedLeading', 'onNewLeader'] as const) {
    const value = options[key];
    if (value !== undefined && typeof value !== 'function') {
      throw new LeaderElectionConfigError(`${prefix}${key}`, value, 'Pass a function, or leave it out.');
    }
  }
  const { onStartedLeading, onStoppedLeading, onNewLeader } = options;
  return { onStartedLeading, onStoppedLeading, onNewLeader };
}

function resolveSidecar(prefix: string, options: object): ResolvedSidecar {
  if (options === null || typeof options !== 'object') {
    throw new LeaderElectionConfigError(prefix.slice(0, -1), options, 'Pass an object such as { url: \'http://localhost:4040\' }.');
  }
  rejectUnknownKeys(prefix, options, SIDECAR_KEYS);
  const sidecar = options as { url?: unknown; pollIntervalMs?: unknown; requestTimeoutMs?: unknown };
  const rawUrl = sidecar.url ?? SIDECAR_DEFAULTS.url;
  let url: URL;
  try {
    url = new URL(String(rawUrl));
  } catch {
    throw new LeaderElectionConfigError(`${prefix}url`, rawUrl, 'Use an http URL such as \'http://localhost:4040\' (the sidecar\'s --http address).');
  }
  if (typeof rawUrl !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new LeaderElectionConfigError(`${prefix}url`, rawUrl, 'Use an http URL such as \'http://localhost:4040\' (the sidecar\'s --http address).');
  }
  const pollIntervalMs = positiveInteger(`${prefix}pollIntervalMs`, sidecar.pollIntervalMs, SIDECAR_DEFAULTS.pollIntervalMs);
  const requestTimeoutMs = positiveInteger(`${prefix}requestTimeoutMs`, sidecar.requestTimeoutMs, Math.min(SIDECAR_DEFAULTS.requestTimeoutMs, pollIntervalMs));
  if (requestTimeoutMs > pollIntervalMs) {
    throw new LeaderElectionConfigError(`${prefix}requestTimeoutMs`, requestTimeoutMs, `It must not exceed ${prefix}pollIntervalMs (${pollIntervalMs}): a slow sidecar must not delay the next poll.`);
  }
  return { url, pollIntervalMs, requestTimeoutMs, maxBodyBytes: SIDECAR_DEFAULTS.maxBodyBytes };
}

function resolveLease(
  prefix: string,
  options: object | undefined,
  requested: string,
  environment: ResolveEnvironment,
): ResolvedLease {
  const { env, readServiceAccountNamespace } = environment;
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new LeaderElectionConfigError(prefix.slice(0, -1), options, 'Pass an object such as { name: \'my-app-leader\' }.');
  }
  const lease = (options ?? {}) as Record<string, unknown>;
  rejectUnknownKeys(prefix, lease, LEASE_KEYS);
  const name = lease.name;
  if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    const why = requested !== 'auto'
      ? ''
      : insideKubernetes(environment)
        ? ' Backend \'auto\' chose \'lease\' because KUBERNETES_SERVICE_HOST is set, and a Lease needs a name.'
        : ' Backend \'auto\' uses this Lease once it runs inside Kubernetes, and a Lease needs a name.';
    throw new LeaderElectionConfigError(`${prefix}name`, name, `Name the Lease with a lowercase DNS-1123 name unique to this app in its namespace, e.g. 'my-app-leader' (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters).${why}`);
  }
  const namespace = lease.namespace ?? (env.POD_NAMESPACE?.trim() || undefined) ?? readServiceAccountNamespace() ?? 'default';
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
    throw new LeaderElectionConfigError(`${prefix}namespace`, namespace, 'Use a Kubernetes namespace name (lowercase letters, digits and \'-\', at most 63 characters), or leave it out to use POD_NAMESPACE.');
  }
  const leaseDurationMs = positiveInteger(`${prefix}leaseDurationMs`, lease.leaseDurationMs, LEASE_DEFAULTS.leaseDurationMs);
  if (leaseDurationMs % 1000 !== 0) {
    throw new LeaderElectionConfigError(`${prefix}leaseDurationMs`, leaseDurationMs, `A Lease stores its duration in whole seconds; use a multiple of 1000, e.g. ${Math.max(1000, Math.round(leaseDurationMs / 1000) * 1000)}.`);
  }
  const renewDeadlineMs = positiveInteger(`${prefix}renewDeadlineMs`, lease.renewDeadlineMs, LEASE_DEFAULTS.renewDeadlineMs);
  const retryPeriodMs = positiveInteger(`${prefix}retryPeriodMs`, lease.retryPeriodMs, LEASE_DEFAULTS.retryPeriodMs);
  if (leaseDurationMs <= renewDeadlineMs) {
    throw new LeaderElectionConfigError(`${prefix}leaseDurationMs`, leaseDurationMs, `It must be greater than ${prefix}renewDeadlineMs (${renewDeadlineMs}): the leader must stop leading before any follower may take over. Kubernetes' defaults are 15000 and 10000.`);
  }
  // client-go's rule: the renew deadline must leave room for a retry with its 1.2 jitter factor.
  if (renewDeadlineMs <= 1.2 * retryPeriodMs) {
    throw new LeaderElectionConfigError(`${prefix}renewDeadlineMs`, renewDeadlineMs, `It must be greater than 1.2 x ${prefix}retryPeriodMs (${1.2 * retryPeriodMs}), so the leader can retry a failed renew before its deadline. Kubernetes' defaults are 10000 and 2000.`);
  }
  const requestTimeoutMs = positiveInteger(`${prefix}requestTimeoutMs`, lease.requestTimeoutMs, Math.max(1000, Math.floor(renewDeadlineMs / 2)));
  if (requestTimeoutMs > renewDeadlineMs) {
    throw new LeaderElectionConfigError(`${prefix}requestTimeoutMs`, requestTimeoutMs, `It must not exceed ${prefix}renewDeadlineMs (${renewDeadlineMs}), or one hung request could cost the leadership.`);
  }
  const releaseOnShutdown = lease.releaseOnShutdown ?? true;
  if (typeof releaseOnShutdown !== 'boolean') {
    throw new LeaderElectionConfigError(`${prefix}releaseOnShutdown`, releaseOnShutdown, 'Use true or false.');
  }
  const kubeConfig = lease.kubeConfig as KubeConfig | undefined;
  if (kubeConfig !== undefined && (typeof kubeConfig !== 'object' || typeof (kubeConfig as KubeConfig).makeApiClient !== 'function')) {
    throw new LeaderElectionConfigError(`${prefix}kubeConfig`, '(not a KubeConfig)', 'Pass a KubeConfig from @kubernetes/client-node, or leave it out to use the in-cluster or default configuration.');
  }
  const fastFailover = resolveFastFailover(`${prefix}fastFailover`, lease.fastFailover);
  return { name, namespace, leaseDurationMs, renewDeadlineMs, retryPeriodMs, requestTimeoutMs, releaseOnShutdown, kubeConfig, ...(fastFailover && { fastFailover }) };
}

function resolveFastFailover(option: string, value: unknown): { container?: string } | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LeaderElectionConfigError(option, value, 'Use true, false, or { container: \'<the container this app runs in>\' } for a pod with several containers.');
  }
  rejectUnknownKeys(`${option}.`, value, ['container']);
  const { container } = value as { container?: unknown };
  if (container !== undefined && (typeof container !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(container) || container.length > 63)) {
    throw new LeaderElectionConfigError(`${option}.container`, container, 'Name the container this app runs in, as the pod spec names it (a DNS-1123 label), or leave it out for a pod with one container.');
  }
  return container === undefined ? {} : { container };
}

/** Kubernetes sets KUBERNETES_SERVICE_HOST in every container of a pod. */
function insideKubernetes({ env }: ResolveEnvironment): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST);
}

/** Two elections on one lock would share one leader; almost surely a copy-paste mistake. */
function assertDistinctLocks(elections: ResolvedElection[]): void {
  const seen = new Map<string, string>();
  for (const election of elections) {
    if (election.backend !== 'lease') continue;
    const key = `${election.lease.namespace}/${election.lease.name}`;
    const other = seen.get(key);
    if (other !== undefined) {
      const option = `${optionPrefix(election.shard?.group ?? election.name)}lease.name`;
      const shardNote = election.shard !== undefined || other.includes('-shard-') ? ' (an election split into shards uses the Leases <lease.name>-shard-0, -1, ...)' : '';
      throw new LeaderElectionConfigError(option, election.lease.name, `Election '${other}' already uses the Lease ${key}${shardNote}; give each election its own Lease.`);
    }
    seen.set(key, election.name);
  }
}

function rejectUnknownKeys(prefix: string, options: object, known: string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = known.find((candidate) => candidate.toLowerCase().startsWith(key.toLowerCase()));
      throw new LeaderElectionConfigError(`${prefix}${key}`, (options as Record<string, unknown>)[key], `There is no such option${hint ? `; did you mean \`${prefix}${hint}\`` : ''}. Known options here: ${known.join(', ')}.`);
    }
  }
}

function positiveInteger(option: string, value: unknown, fallback: number, fix = 'Use a whole number of milliseconds greater than 0.'): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isSafeInteger(resolved) || resolved <= 0) {
    throw new LeaderElectionConfigError(option, resolved, fix);
  }
  return resolved;
}

function nonNegativeInteger(option: string, value: unknown, fallback: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isSafeInteger(resolved) || resolved < 0) {
    throw new LeaderElectionConfigError(option, resolved, 'Use a whole number of milliseconds, 0 or more.');
  }
  return resolved;
}
