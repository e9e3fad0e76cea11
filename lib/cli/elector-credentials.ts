import type { KubeConfig } from '@kubernetes/client-node';
import {
  loadInClusterKubeConfig,
  loadKubeConfig,
  processKubeConfigEnvironment,
  type KubeConfigAdvice,
  type KubeConfigEnvironment,
} from '../electors/lease/resourcelock/kube-config.js';

const USE_CLUSTER_CREDENTIALS = '--use-cluster-credentials';

/** The kubeconfig checks' advice in the bin's terms: KUBECONFIG and its flag, never a module option. */
const COMMAND_ADVICE: KubeConfigAdvice = {
  option: 'KUBECONFIG',
  orInstead: ', or point KUBECONFIG at another one',
  missingFile: `Point KUBECONFIG at an existing kubeconfig file, or unset it to use ~/.kube/config (in a pod: the pod's ServiceAccount, or pass ${USE_CLUSTER_CREDENTIALS}).`,
  outsidePod: 'Kubernetes sets both in every container; outside a pod, set KUBECONFIG to a kubeconfig file.',
  noTokenInPod: (elsewhere) => `${elsewhere}, although KUBERNETES_SERVICE_HOST is set (a pod). Mount the pod's ServiceAccount token (automountServiceAccountToken: true on the pod or its ServiceAccount), or set KUBECONFIG to a kubeconfig file.`,
  nothingOutside: (elsewhere) => `${elsewhere}, and this process runs outside Kubernetes (KUBERNETES_SERVICE_HOST is not set). Set KUBECONFIG to a kubeconfig file (\`kubectl config view --minify --flatten > elector.kubeconfig\` writes one for your current context), or run it in a pod, where it uses the pod's ServiceAccount.`,
};

const WITHOUT_CLUSTER_CREDENTIALS = `Outside a pod, or to use a kubeconfig file, drop ${USE_CLUSTER_CREDENTIALS}: the command then reads KUBECONFIG, else ~/.kube/config.`;

/**
 * The credentials of the bin's one election, found as the old sidecar found them: the pod's
 * ServiceAccount alone with --use-cluster-credentials; otherwise KUBECONFIG, else ~/.kube/config,
 * else the pod's ServiceAccount. Checked before anything starts: each way they cannot work throws a
 * LeaderElectionConfigError whose `option` is the flag or variable to change (never a module option).
 */
export function loadElectorCredentials(
  useClusterCredentials: boolean,
  environment: KubeConfigEnvironment = processKubeConfigEnvironment(),
): KubeConfig {
  return useClusterCredentials
    ? loadInClusterKubeConfig(USE_CLUSTER_CREDENTIALS, WITHOUT_CLUSTER_CREDENTIALS, environment)
    : loadKubeConfig('', undefined, environment, COMMAND_ADVICE);
}
