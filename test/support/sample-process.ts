import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { SampleRun } from '../../sample/src/report.job.js';
import type { SampleStatus } from '../../sample/src/status.controller.js';
import { REPO_ROOT, spawnSample } from './spawn-sample.js';

/** `GET /status` and `GET /runs` of the sample: its contract with the black-box checks. */
export type { SampleRun, SampleStatus };

/**
 * Compiles the sample and the library into dist-sample as `npm run build:sample` does: tsc, then
 * sample/link-library.mjs, which lets the compiled sample import the library by its package name.
 */
export async function buildSample(): Promise<void> {
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.sample.json'], { cwd: REPO_ROOT });
  await promisify(execFile)(process.execPath, ['sample/link-library.mjs', 'dist-sample'], { cwd: REPO_ROOT });
}

/** Exits of the sample: code 0 after a clean shutdown. */
export interface SampleExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One sample process, started from the compiled main with only the environment given (none of the
 * test runner's own leader-election or Kubernetes variables leak in). Ready once it logged the line
 * naming its port; PORT=0 lets the OS pick a free port, so there is no race for one.
 */
export class SampleProcess {
  /** Every line written to stdout and stderr, for assertions and for failure messages. */
  readonly output: string[] = [];
  /** Settles once the process exited and its output was read to the end. */
  readonly exited: Promise<SampleExit>;
  port = 0;
  private readonly child: ChildProcess;
  private closed = false;
  /** Called with each new line, and with null once the process is gone. */
  private readonly lineWaiters = new Set<(line: string | null) => void>();

  private constructor(env: Record<string, string>) {
    this.child = spawnSample(env);
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        for (const waiter of [...this.lineWaiters]) waiter(line);
      });
    }
    this.exited = once(this.child, 'close').then(([code, signal]) => {
      this.closed = true;
      for (const waiter of [...this.lineWaiters]) waiter(null);
      return { code, signal } as SampleExit;
    });
  }

  /** Starts the sample; see `start` to also wait until it serves. */
  static spawn(env: Record<string, string>): SampleProcess {
    return new SampleProcess(env);
  }

  /** Starts the sample and resolves once it listens, with its port known. */
  static async start(env: Record<string, string>, timeoutMs = 10_000): Promise<SampleProcess> {
    const sample = new SampleProcess(env);
    const ready = /Listening on port (\d+) as /;
    try {
      sample.port = Number(ready.exec(await sample.waitForLine(ready, timeoutMs))![1]);
    } catch (error) {
      await sample.kill(); // the caller never gets it, so it must not outlive this call
      throw error;
    }
    return sample;
  }

  /** Resolves with the first output line matching `pattern`; rejects if the process ends first. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.output.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new Error(`The sample exited without logging ${pattern}:\n${this.log()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`The sample did not log ${pattern} within ${timeoutMs} ms:\n${this.log()}`)), timeoutMs);
      const waiter = (line: string | null) => {
        if (line === null) settle(new Error(`The sample exited without logging ${pattern}:\n${this.log()}`));
        else if (pattern.test(line)) settle(undefined, line);
      };
      const settle = (error?: Error, line?: string) => {
        clearTimeout(timer);
        this.lineWaiters.delete(waiter);
        if (error) reject(error);
        else resolve(line!);
      };
      this.lineWaiters.add(waiter);
    });
  }

  async runs(): Promise<SampleRun[]> {
    const response = await fetch(`http://127.0.0.1:${this.port}/runs`);
    if (!response.ok) throw new Error(`GET /runs answered ${response.status}`);
    return (await response.json()) as SampleRun[];
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

  /** SIGTERM, as Kubernetes sends it, then the exit. */
  stop(): Promise<SampleExit> {
    if (!this.closed) this.child.kill('SIGTERM');
    return this.exited;
  }

  /** For cleanup after a failure: no process outlives the test file. */
  kill(): Promise<SampleExit> {
    if (!this.closed) this.child.kill('SIGKILL');
    return this.exited;
  }

  log(): string {
    return this.output.join('\n');
  }
}
