import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json (also from .build/). */
export const REPO_ROOT = (() => {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, 'package.json'))) folder = dirname(folder);
  return folder;
})();

const SAMPLE_MAIN = 'dist-sample/sample/src/main.js';

/** What the sample or the library reads from the environment: none of the caller's may leak in. */
export const SAMPLE_ENV = [
  'PORT', 'SAMPLE_JOB_CRON', 'MY_POD_NAME', 'POD_NAME', 'POD_NAMESPACE', 'KUBERNETES_SERVICE_HOST',
  'KUBERNETES_SERVICE_PORT', 'KUBECONFIG', 'LEADER_ELECTION_BACKEND', 'LEADER_ELECTION_SIDECAR_URL',
  'LEADER_ELECTION_LEASE_NAME', 'LEADER_ELECTION_NAMESPACE', 'LEASE_DURATION_MS', 'RENEW_DEADLINE_MS',
  'RETRY_PERIOD_MS', 'NEST_LOG_LEVEL', 'LEADER_ELECTION_SIDECAR_API_PORT',
  'SAMPLE_JOB_MISFIRE', 'SAMPLE_FENCED_STORE_URL', 'CLOCK_OFFSET_MS',
];

/**
 * Starts the compiled sample (build it first) with only the environment given, on a port of its
 * choosing (it logs `Listening on port <port> as ...`), its output piped and uncoloured.
 */
export function spawnSample(env: Record<string, string>, { detached = false } = {}): ChildProcess {
  const base = { ...process.env };
  for (const name of SAMPLE_ENV) delete base[name];
  return spawn(process.execPath, [SAMPLE_MAIN], {
    cwd: REPO_ROOT,
    env: { ...base, NO_COLOR: '1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
  });
}
