import { KubeConfig } from '@kubernetes/client-node';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import {
  checkKubeConfig,
  findDefaultSource,
  processKubeConfigEnvironment,
  type KubeConfigAdvice,
  type KubeConfigEnvironment,
  type KubeConfigSource,
} from '../electors/lease/resourcelock/kube-config.js';

/** The kubeconfig checks' advice in kubectl's terms: KUBECONFIG and --kubeconfig. */
const KUBECTL_ADVICE: KubeConfigAdvice = {
  option: 'KUBECONFIG',
  orInstead: ', or name another with --kubeconfig',
  missingFile: 'Point KUBECONFIG at an existing kubeconfig file, unset it to use ~/.kube/config, or pass --kubeconfig <file>.',
  outsidePod: 'Kubernetes sets both in every container; outside a pod, set KUBECONFIG or pass --kubeconfig <file>.',
  noTokenInPod: (elsewhere) => `${elsewhere}, although KUBERNETES_SERVICE_HOST is set (a pod). Set KUBECONFIG or pass --kubeconfig <file>, or mount the pod's ServiceAccount token.`,
  nothingOutside: (elsewhere) => `${elsewhere}. Set KUBECONFIG or pass --kubeconfig <file>: the kubeconfig kubectl uses (kubectl config view shows it).`,
};

export interface UserCredentials {
  kubeConfig: KubeConfig;
  /** The namespace of the context in use, if it names one. */
  contextNamespace: string | undefined;
  /** Who is asking, for a pause's or a request's `by`: the context's user, else the context. */
  user: string;
}

/**
 * The user's credentials, found as kubectl finds them: the file --kubeconfig names, else
 * KUBECONFIG (its files merged), else ~/.kube/config, else the pod's ServiceAccount; the context
 * --context names, else the current one. Checked before any request with the library's own checks
 * (lib/electors/lease/resourcelock/kube-config.ts): each way it cannot work throws a
 * LeaderElectionConfigError whose `option` is the flag or variable to change.
 */
export function loadUserCredentials(
  { kubeconfig, context }: { kubeconfig?: string; context?: string },
  environment: KubeConfigEnvironment = processKubeConfigEnvironment(),
): UserCredentials {
  const kubeConfig = new KubeConfig();
  let source: KubeConfigSource;
  if (kubeconfig !== undefined) {
    source = { option: '--kubeconfig', value: kubeconfig };
    if (!environment.fileExists(kubeconfig)) {
      throw new LeaderElectionConfigError('--kubeconfig', kubeconfig, `No file exists at "${kubeconfig}". Point --kubeconfig at an existing kubeconfig file, or leave it out to use KUBECONFIG, else ~/.kube/config.`);
    }
    load(source, () => kubeConfig.loadFromFile(kubeconfig));
  } else {
    source = findDefaultSource(KUBECTL_ADVICE, environment);
    load(source, () => kubeConfig.loadFromDefault());
  }
  if (context !== undefined) {
    if (!kubeConfig.getContextObject(context)) {
      const known = kubeConfig.getContexts().map((c) => `"${c.name}"`).join(', ') || 'none';
      throw new LeaderElectionConfigError('--context', context, `The kubeconfig (${source.option === '--kubeconfig' ? source.value : describeSource(source)}) has no such context (contexts: ${known}). Name one of those (kubectl config get-contexts lists them), or leave --context out to use the current one.`);
    }
    kubeConfig.setCurrentContext(context);
  }
  checkKubeConfig(source.option, kubeConfig, source.value);
  const contextObject = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return {
    kubeConfig,
    contextNamespace: contextObject?.namespace || undefined,
    user: kubeConfig.getCurrentUser()?.name || kubeConfig.getCurrentContext(),
  };
}

function load({ option, value }: KubeConfigSource, read: () => void): void {
  try {
    read();
  } catch (error) {
    throw new LeaderElectionConfigError(option, value, `It could not be loaded: ${error instanceof Error ? error.message : String(error)}. Fix the file (kubectl config view shows what it holds)${option === '--kubeconfig' ? ', or name another with --kubeconfig' : KUBECTL_ADVICE.orInstead}.`);
  }
}

function describeSource({ option, value }: KubeConfigSource): string {
  return value.startsWith('not set: ') ? value.slice('not set: '.length) : `${option}=${value}`;
}
