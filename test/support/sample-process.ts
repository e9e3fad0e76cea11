import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SampleRun } from '../../sample/src/report.job.js';
import type { SampleStatus } from '../../sample/src/status.controller.js';
import { SpawnedProcess, type WaitOptions } from './child-process.js';
import { REPO_ROOT } from './repo-root.js';
import { tsc } from './tsc.js';

const SAMPLE_MAIN = 'dist-sample/sample/src/main.js';

/** What the sample or the library reads from the environment: none of the caller's may leak in. */
export const SAMPLE_ENV = [
  'PORT', 'SAMPLE_JOB_CRON', 'MY_POD_NAME', 'POD_NAME', 'POD_NAMESPACE', 'KUBERNETES_SERVICE_HOST',
  'KUBERNETES_SERVICE_PORT', 'KUBECONFIG', 'LEADER_ELECTION_BACKEND', 'LEADER_ELECTION_SIDECAR_URL',
  'LEADER_ELECTION_LEASE_NAME', 'LEADER_ELECTION_NAMESPACE', 'LEASE_DURATION_MS', 'RENEW_DEADLINE_MS',
  'RETRY_PERIOD_MS', 'NEST_LOG_LEVEL', 'LEADER_ELECTION_SIDECAR_API_PORT',
  'SAMPLE_JOB_MISFIRE', 'SAMPLE_FENCED_STORE_URL', 'CLOCK_OFFSET_MS', 'SAMPLE_CONTROL_TOKEN', 'SAMPLE_FAST_FAILOVER',
  'SAMPLE_SHARDS', 'SAMPLE_JOBS',
];

/** `GET /status` and `GET /runs` of the sample: its contract with the black-box checks. */
export type { SampleRun, SampleStatus };

/**
 * Compiles the sample and the library into dist-sample as `npm run build:sample` does: tsc, then
 * sample/link-library.mjs, which lets the compiled sample import the library by its package name.
 */
export async function buildSample(): Promise<void> {
  await tsc(['-p', 'tsconfig.sample.json']);
  await promisify(execFile)(process.execPath, ['sample/link-library.mjs', 'dist-sample'], { cwd: REPO_ROOT });
}

/**
 * One sample process, started from the compiled main (build it first) with only the environment
 * given (none of the caller's own leader-election or Kubernetes variables leak in), its output
 * uncoloured. PORT=0 lets the OS pick a free port, so there is no race for one: it logs
 * `Listening on port <port> as ...` once it serves.
 */
export class SampleProcess extends SpawnedProcess {
  port = 0;

  /** Starts the sample; `detached` puts it in a process group of its own. See `start` to also wait until it serves. */
  constructor(env: Record<string, string>, { detached = false } = {}) {
    const base = { ...process.env };
    for (const name of SAMPLE_ENV) delete base[name];
    super(process.execPath, [SAMPLE_MAIN], {
      cwd: REPO_ROOT,
      env: { ...base, NO_COLOR: '1', PORT: '0', ...env },
      detached,
      name: env.MY_POD_NAME ?? 'The sample',
    });
  }

  /** Starts the sample and resolves once it listens, with its port known. */
  static async start(env: Record<string, string>, timeoutMs = 30_000): Promise<SampleProcess> {
    const sample = new SampleProcess(env);
    try {
      await sample.listening({ timeoutMs });
    } catch (error) {
      await sample.kill(); // the caller never gets it, so it must not outlive this call
      throw error;
    }
    return sample;
  }

  /** Resolves with its port (also kept in `port`) once it serves HTTP; rejects if it exits first. */
  async listening(options?: WaitOptions): Promise<number> {
    const ready = /Listening on port (\d+) as /;
    this.port = Number(ready.exec(await this.waitForLine(ready, options))![1]);
    return this.port;
  }

  async runs(): Promise<SampleRun[]> {
    const response = await fetch(`http://127.0.0.1:${this.port}/runs`);
    if (!response.ok) throw new Error(`GET /runs answered ${response.status}`);
    return (await response.json()) as SampleRun[];
  }

  /** GET `path` of its HTTP API, as JSON. */
  async getJson<T>(path: string): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.port}${path}`);
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
    return (await response.json()) as T;
  }

  async status(): Promise<SampleStatus> {
    const response = await fetch(`http://127.0.0.1:${this.port}/status`);
    if (!response.ok) throw new Error(`GET /status answered ${response.status}`);
    return (await response.json()) as SampleStatus;
  }

  /**
   * Polls `/status` until `predicate` holds. These are separate processes on real time, so polling
   * the HTTP API is the only view in; the bound keeps a broken election from hanging the test.
   */
  async waitForStatus(predicate: (status: SampleStatus) => boolean, timeoutMs = 15_000): Promise<SampleStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: SampleStatus | undefined;
    for (;;) {
      last = await this.status();
      if (predicate(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`/status never matched within ${timeoutMs} ms; last: ${JSON.stringify(last)}\n${this.log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
