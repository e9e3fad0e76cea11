import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { findHomeDir, KubeConfig } from '@kubernetes/client-node';
import { LeaderElectionConfigError } from '../../../errors/leader-election-config.error.js';

/** Where client-node's in-cluster configuration reads the pod's ServiceAccount token. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** Where it reads the certificate authority of the API server. */
export const SERVICE_ACCOUNT_CA_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt';

/** What the process contributes to finding a kubeconfig; injectable so tests need no real pod. */
export interface KubeConfigEnvironment {
  env: NodeJS.ProcessEnv;
  fileExists: (path: string) => boolean;
  homeDir: () => string | null;
}

export const processKubeConfigEnvironment = (): KubeConfigEnvironment => ({
  env: process.env,
  fileExists: existsSync,
  homeDir: () => findHomeDir(),
});

/**
 * What the messages tell the reader to do besides fixing the file, in the reader's own terms: the
 * module's users name a kubeconfig with an option (`lease.kubeConfig`), the bin's users with
 * KUBECONFIG or a flag (lib/cli/). With KUBECONFIG not set, `elsewhere` says what else it looked
 * for: "~/.kube/config does not exist and no ServiceAccount token is mounted (...)".
 */
export interface KubeConfigAdvice {
  /** The setting an error names when neither KUBECONFIG nor a file applies, e.g. `lease.kubeConfig`. */
  option: string;
  /** Ends "Fix the file (kubectl config view shows what it holds)", e.g. ", or pass `lease.kubeConfig`". */
  orInstead: string;
  /** KUBECONFIG names a file that does not exist. */
  missingFile: string;
  /** A token is mounted, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set. */
  outsidePod: string;
  /** Inside Kubernetes (KUBERNETES_SERVICE_HOST is set) with no token and no kubeconfig. */
  noTokenInPod: (elsewhere: string) => string;
  /** Outside Kubernetes with no kubeconfig. */
  nothingOutside: (elsewhere: string) => string;
}

/** The module's advice, naming its option (`lease.kubeConfig`, `elections.NAME.lease.kubeConfig`). */
export function moduleKubeConfigAdvice(option: string): KubeConfigAdvice {
  return {
    option,
    orInstead: `, or pass \`${option}\``,
    missingFile: `Point KUBECONFIG at an existing kubeconfig file, unset it to use ~/.kube/config (or the pod's ServiceAccount inside Kubernetes), or pass \`${option}\`.`,
    outsidePod: `Kubernetes sets them in every container; outside a pod, set KUBECONFIG or pass \`${option}\`.`,
    noTokenInPod: (elsewhere) => `Backend 'lease' found no credentials: KUBECONFIG is not set, ${elsewhere}. Inside Kubernetes, mount the ServiceAccount token (automountServiceAccountToken: true on the pod or its ServiceAccount), or pass \`${option}\`.`,
    nothingOutside: (elsewhere) => `Backend 'lease' needs a Kubernetes API server, but this process runs outside Kubernetes (KUBERNETES_SERVICE_HOST is not set) and KUBECONFIG is not set, ${elsewhere}. Set KUBECONFIG or pass \`${option}\`; or, for local development, use backend 'auto' (which leads alone outside Kubernetes) or 'standalone'.`,
  };
}

/**
 * The KubeConfig a Lease election talks to the API with: the one passed as `lease.kubeConfig`, or
 * the one client-node's `loadFromDefault()` finds (KUBECONFIG, else ~/.kube/config, else the pod's
 * ServiceAccount). Loaded and checked once, at startup, so that each way it can never work stops
 * the app with a LeaderElectionConfigError that says what to fix, instead of a raw ENOENT, or
 * client-node's fallback to http://localhost:8080 failing on every request with a TLS complaint.
 *
 * @param prefix the election's option prefix, e.g. `elections.reports.` ('' for the default one)
 * @param advice what the errors tell the reader to do; by default the module's options
 */
export function loadKubeConfig(
  prefix: string,
  given: KubeConfig | undefined,
  environment: KubeConfigEnvironment = processKubeConfigEnvironment(),
  advice: KubeConfigAdvice = moduleKubeConfigAdvice(`${prefix}lease.kubeConfig`),
): KubeConfig {
  if (given !== undefined) {
    checkKubeConfig(advice.option, given, 'the KubeConfig passed as this option');
    return given;
  }
  const source = findDefaultSource(advice, environment);
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    throw new LeaderElectionConfigError(source.option, source.value, `It could not be loaded: ${error instanceof Error ? error.message : String(error)}. Fix the file (kubectl config view shows what it holds)${advice.orInstead}.`);
  }
  checkKubeConfig(source.option, kubeConfig, source.value);
  return kubeConfig;
}

/**
 * The pod's ServiceAccount only (client-node's `loadFromCluster()`), checked before it is used:
 * outside a pod client-node would build the server address `https://undefined:undefined`, and
 * without a mounted token every request would fail with ENOENT, retried forever.
 *
 * @param option the setting that asked for it, named by the errors (the bin's --use-cluster-credentials)
 * @param instead the last sentence of each error: how to do without it
 */
export function loadInClusterKubeConfig(
  option: string,
  instead: string,
  environment: KubeConfigEnvironment = processKubeConfigEnvironment(),
): KubeConfig {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = environment.env;
  if (!host || !port) {
    const unset = [!host && 'KUBERNETES_SERVICE_HOST', !port && 'KUBERNETES_SERVICE_PORT'].filter(Boolean).join(' and ');
    const set = host ? ` (KUBERNETES_SERVICE_HOST is "${host}")` : port ? ` (KUBERNETES_SERVICE_PORT is "${port}")` : '';
    throw new LeaderElectionConfigError(option, true, `${unset} ${unset.includes(' and ') ? 'are' : 'is'} not set${set}, so this process does not run in a Kubernetes pod (Kubernetes sets both in every container) and the API server's address is unknown. ${instead}`);
  }
  const missing = [SERVICE_ACCOUNT_TOKEN_FILE, SERVICE_ACCOUNT_CA_FILE].filter((file) => !environment.fileExists(file));
  if (missing.length > 0) {
    throw new LeaderElectionConfigError(option, true, `The API server is ${host}:${port}, but no ServiceAccount credentials are mounted: ${missing.map((file) => `${file} does not exist`).join(', ')}. Mount them (automountServiceAccountToken: true on the pod or its ServiceAccount). ${instead}`);
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromCluster();
  checkKubeConfig(option, kubeConfig, 'the pod\'s ServiceAccount (in-cluster configuration)');
  return kubeConfig;
}

export interface KubeConfigSource {
  /** The option or variable the user changes to fix it. */
  option: string;
  /** Where the configuration comes from, for the message. */
  value: string;
}

/** client-node's own order of loadFromDefault(), checked before it runs so that it cannot fail obscurely. */
export function findDefaultSource(advice: KubeConfigAdvice, { env, fileExists, homeDir }: KubeConfigEnvironment): KubeConfigSource {
  const { option } = advice;
  const kubeconfigVariable = env.KUBECONFIG;
  if (kubeconfigVariable !== undefined && kubeconfigVariable.length > 0) {
    const files = kubeconfigVariable.split(delimiter).filter((file) => file.length > 0);
    const missing = files.filter((file) => !fileExists(file));
    if (missing.length > 0) {
      throw new LeaderElectionConfigError('KUBECONFIG', kubeconfigVariable, `No file exists at ${missing.map((file) => `"${file}"`).join(', ')}. ${advice.missingFile}`);
    }
    return { option: 'KUBECONFIG', value: kubeconfigVariable };
  }
  const home = homeDir();
  const homeConfig = home === null ? undefined : join(home, '.kube', 'config');
  if (homeConfig !== undefined && fileExists(homeConfig)) {
    return { option, value: `not set: loaded from ${homeConfig}` };
  }
  if (fileExists(SERVICE_ACCOUNT_TOKEN_FILE)) {
    if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
      throw new LeaderElectionConfigError(option, undefined, `A ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE}) but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set, so the API server's address is unknown. ${advice.outsidePod}`);
    }
    return { option, value: 'not set: using the pod\'s ServiceAccount (in-cluster configuration)' };
  }
  const elsewhere = `${homeConfig === undefined ? 'no home directory was found' : `${homeConfig} does not exist`} and no ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE})`;
  if (env.KUBERNETES_SERVICE_HOST) {
    throw new LeaderElectionConfigError(option, undefined, advice.noTokenInPod(elsewhere));
  }
  throw new LeaderElectionConfigError(option, undefined, advice.nothingOutside(elsewhere));
}

/** What client-node would only report on the first request, or never clearly: check it now. */
export function checkKubeConfig(option: string, kubeConfig: KubeConfig, value: string): void {
  const context = kubeConfig.getCurrentContext();
  const contextObject = kubeConfig.getContextObject(context);
  const useContext = 'Select a context that names both (kubectl config use-context NAME, or current-context in the file)';
  if (!contextObject) {
    const known = kubeConfig.getContexts().map((c) => `"${c.name}"`).join(', ') || 'none';
    throw new LeaderElectionConfigError(option, value, `Its current context ${context ? `"${context}" does not exist` : 'is not set'} (contexts: ${known}), so it names no cluster and no user. ${useContext}.`);
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new LeaderElectionConfigError(option, value, `Its current context "${context}" names the cluster "${contextObject.cluster}", which it does not define (clusters: ${kubeConfig.getClusters().map((c) => `"${c.name}"`).join(', ') || 'none'}). ${useContext}, or add the cluster.`);
  }
  if (!kubeConfig.getCurrentUser()) {
    throw new LeaderElectionConfigError(option, value, `Its current context "${context}" names the user "${contextObject.user}", which it does not define (users: ${kubeConfig.getUsers().map((u) => `"${u.name}"`).join(', ') || 'none'}). ${useContext}, or add the user.`);
  }
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch {
    throw new LeaderElectionConfigError(option, value, `Its cluster "${cluster.name}" has the server "${cluster.server}", which is not a URL. Use the API server's address, e.g. https://10.0.0.1:6443.`);
  }
  if (server.protocol === 'http:' && !cluster.skipTLSVerify) {
    throw new LeaderElectionConfigError(option, value, `Its cluster "${cluster.name}" has the plain-HTTP server ${cluster.server}, which @kubernetes/client-node refuses unless the cluster sets insecure-skip-tls-verify: true (skipTLSVerify). Use the server's https:// address, or set insecure-skip-tls-verify: true on that cluster if plain HTTP is really meant (a local proxy such as kubectl proxy).`);
  }
}
