import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { findHomeDir, KubeConfig } from '@kubernetes/client-node';
import { LeaderElectionConfigError } from '../../../errors/leader-election-config.error.js';

/** Where client-node's in-cluster configuration reads the pod's ServiceAccount token. */
export const SERVICE_ACCOUNT_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

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
 * The KubeConfig a Lease election talks to the API with: the one passed as `lease.kubeConfig`, or
 * the one client-node's `loadFromDefault()` finds (KUBECONFIG, else ~/.kube/config, else the pod's
 * ServiceAccount). Loaded and checked once, at startup, so that each way it can never work stops
 * the app with a LeaderElectionConfigError that says what to fix, instead of a raw ENOENT, or
 * client-node's fallback to http://localhost:8080 failing on every request with a TLS complaint.
 *
 * @param prefix the election's option prefix, e.g. `elections.reports.` ('' for the default one)
 */
export function loadKubeConfig(
  prefix: string,
  given: KubeConfig | undefined,
  environment: KubeConfigEnvironment = processKubeConfigEnvironment(),
): KubeConfig {
  const option = `${prefix}lease.kubeConfig`;
  if (given !== undefined) {
    checkKubeConfig(option, given, 'the KubeConfig passed as this option');
    return given;
  }
  const source = findDefaultSource(option, environment);
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    throw new LeaderElectionConfigError(source.option, source.value, `It could not be loaded: ${error instanceof Error ? error.message : String(error)}. Fix the file (kubectl config view shows what it holds), or pass \`${option}\`.`);
  }
  checkKubeConfig(source.option, kubeConfig, source.value);
  return kubeConfig;
}

interface KubeConfigSource {
  /** The option or variable the user changes to fix it. */
  option: string;
  /** Where the configuration comes from, for the message. */
  value: string;
}

/** client-node's own order of loadFromDefault(), checked before it runs so that it cannot fail obscurely. */
function findDefaultSource(option: string, { env, fileExists, homeDir }: KubeConfigEnvironment): KubeConfigSource {
  const kubeconfigVariable = env.KUBECONFIG;
  if (kubeconfigVariable !== undefined && kubeconfigVariable.length > 0) {
    const files = kubeconfigVariable.split(delimiter).filter((file) => file.length > 0);
    const missing = files.filter((file) => !fileExists(file));
    if (missing.length > 0) {
      throw new LeaderElectionConfigError('KUBECONFIG', kubeconfigVariable, `No file exists at ${missing.map((file) => `"${file}"`).join(', ')}. Point KUBECONFIG at an existing kubeconfig file, unset it to use ~/.kube/config (or the pod's ServiceAccount inside Kubernetes), or pass \`${option}\`.`);
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
      throw new LeaderElectionConfigError(option, undefined, `A ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE}) but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set, so the API server's address is unknown. Kubernetes sets them in every container; outside a pod, set KUBECONFIG or pass \`${option}\`.`);
    }
    return { option, value: 'not set: using the pod\'s ServiceAccount (in-cluster configuration)' };
  }
  const looked = `KUBECONFIG is not set${homeConfig === undefined ? ', no home directory was found' : `, ${homeConfig} does not exist`} and no ServiceAccount token is mounted (${SERVICE_ACCOUNT_TOKEN_FILE})`;
  if (env.KUBERNETES_SERVICE_HOST) {
    throw new LeaderElectionConfigError(option, undefined, `Backend 'lease' found no credentials: ${looked}. Inside Kubernetes, mount the ServiceAccount token (automountServiceAccountToken: true on the pod or its ServiceAccount), or pass \`${option}\`.`);
  }
  throw new LeaderElectionConfigError(option, undefined, `Backend 'lease' needs a Kubernetes API server, but this process runs outside Kubernetes (KUBERNETES_SERVICE_HOST is not set) and ${looked}. Set KUBECONFIG or pass \`${option}\`; or, for local development, use backend 'auto' (which leads alone outside Kubernetes) or 'standalone'.`);
}

/** What client-node would only report on the first request, or never clearly: check it now. */
function checkKubeConfig(option: string, kubeConfig: KubeConfig, value: string): void {
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
