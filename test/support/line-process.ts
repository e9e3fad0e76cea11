import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { SAMPLE_ENV } from './spawn-sample.js';

export interface LineProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Any command as a child process, observed through its output lines and its exit, with none of the
 * test runner's leader-election or Kubernetes variables in its environment (the sample's list).
 * For commands that are neither the sample (SampleProcess) nor the bin (ElectorProcess).
 */
export class LineProcess {
  readonly output: string[] = [];
  readonly exited: Promise<LineProcessExit>;
  private readonly child: ChildProcess;
  private closed = false;
  private readonly lineWaiters = new Set<(line: string | null) => void>();

  constructor(command: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
    const base = { ...process.env };
    for (const name of SAMPLE_ENV) delete base[name];
    this.child = spawn(command, args, { cwd, env: { ...base, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        for (const waiter of [...this.lineWaiters]) waiter(line);
      });
    }
    this.exited = once(this.child, 'close').then(([code, signal]) => {
      this.closed = true;
      for (const waiter of [...this.lineWaiters]) waiter(null);
      return { code, signal } as LineProcessExit;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the first output line matching `pattern`; rejects if the process ends first. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.output.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new Error(`The process exited without printing ${pattern}:\n${this.log()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`The process did not print ${pattern} within ${timeoutMs} ms:\n${this.log()}`)), timeoutMs);
      const waiter = (line: string | null) => {
        if (line === null) settle(new Error(`The process exited without printing ${pattern}:\n${this.log()}`));
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

  /** Sends the signal (to this process's pid only) and resolves with the exit. */
  signal(signal: NodeJS.Signals): Promise<LineProcessExit> {
    if (!this.closed) this.child.kill(signal);
    return this.exited;
  }

  /** For cleanup after a failure: no process outlives the test file. */
  kill(): Promise<LineProcessExit> {
    return this.signal('SIGKILL');
  }

  log(): string {
    return this.output.join('\n');
  }
}
