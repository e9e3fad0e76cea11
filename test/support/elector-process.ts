import { join } from 'node:path';
import { SpawnedProcess } from './child-process.js';
import { REPO_ROOT } from './repo-root.js';
import { tsc } from './tsc.js';

/** Where the spec compiles the library, apart from dist/ (which the packaging test builds). */
const OUT_DIR = '.build/cli-spec';
const CLI = join(OUT_DIR, 'cli/leader-elector.cli.js');

/** What the command reads from the environment: none of the test runner's may leak in. */
const ELECTOR_ENV = ['MY_POD_NAME', 'POD_NAME', 'POD_NAMESPACE', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBECONFIG'];

/** Compiles lib/ (the command included) as the package build does, into its own folder. */
export function buildElectorCommand(): Promise<void> {
  return tsc(['-p', 'tsconfig.build.json', '--outDir', OUT_DIR, '--declaration', 'false', '--declarationMap', 'false']);
}

/**
 * One `nestjs-cluster-leader-elector` process, started from the compiled command with the flags
 * given and only the environment given. Observed through its output, its --http answer and its
 * exit, as Kubernetes sees a container.
 */
export class ElectorProcess extends SpawnedProcess {
  constructor(args: string[], env: Record<string, string> = {}) {
    const base = { ...process.env };
    for (const name of ELECTOR_ENV) delete base[name];
    super(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: { ...base, NO_COLOR: '1', ...env }, name: 'The command' });
  }

  /** The port of its --http answer, from the line it logs once it listens. */
  async servedPort(): Promise<number> {
    const line = await this.waitForLine(/Answering as the leader-elector sidecar did, .* on http:\/\/[^ ]+:\d+ /);
    return Number(/:(\d+) \(any path\)\.$/.exec(line)![1]);
  }
}
