import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { REPO_ROOT } from './spawn-sample.js';

/** Where the spec compiles the library, apart from dist/ (which the packaging test builds). */
const OUT_DIR = '.build/cli-spec';
const CLI = join(OUT_DIR, 'cli/leader-elector.cli.js');

/** What the command reads from the environment: none of the test runner's may leak in. */
const ELECTOR_ENV = ['MY_POD_NAME', 'POD_NAME', 'POD_NAMESPACE', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'KUBECONFIG'];

/** Compiles lib/ (the command included) as the package build does, into its own folder. */
export async function buildElectorCommand(): Promise<void> {
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  await promisify(execFile)(
    process.execPath,
    [tsc, '-p', 'tsconfig.build.json', '--outDir', OUT_DIR, '--declaration', 'false', '--declarationMap', 'false'],
    { cwd: REPO_ROOT },
  );
}

export interface ElectorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One `nestjs-cluster-leader-elector` process, started from the compiled command with the flags
 * given and only the environment given. Observed through its output, its --http answer and its
 * exit, as Kubernetes sees a container.
 */
export class ElectorProcess {
  readonly output: string[] = [];
  readonly exited: Promise<ElectorExit>;
  private readonly child: ChildProcess;
  private closed = false;
  private readonly lineWaiters = new Set<(line: string | null) => void>();

  constructor(args: string[], env: Record<string, string> = {}) {
    const base = { ...process.env };
    for (const name of ELECTOR_ENV) delete base[name];
    this.child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO_ROOT,
      env: { ...base, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.output.push(line);
        for (const waiter of [...this.lineWaiters]) waiter(line);
      });
    }
    this.exited = once(this.child, 'close').then(([code, signal]) => {
      this.closed = true;
      for (const waiter of [...this.lineWaiters]) waiter(null);
      return { code, signal } as ElectorExit;
    });
  }

  /** The port of its --http answer, from the line it logs once it listens. */
  async servedPort(): Promise<number> {
    const line = await this.waitForLine(/Answering as the leader-elector sidecar did, .* on http:\/\/[^ ]+:\d+ /);
    return Number(/:(\d+) \(any path\)\.$/.exec(line)![1]);
  }

  /** Resolves with the first output line matching `pattern`; rejects if the process ends first. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.output.find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new Error(`The command exited without logging ${pattern}:\n${this.log()}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`The command did not log ${pattern} within ${timeoutMs} ms:\n${this.log()}`)), timeoutMs);
      const waiter = (line: string | null) => {
        if (line === null) settle(new Error(`The command exited without logging ${pattern}:\n${this.log()}`));
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

  signal(signal: NodeJS.Signals): Promise<ElectorExit> {
    if (!this.closed) this.child.kill(signal);
    return this.exited;
  }

  /** For cleanup after a failure: no process outlives the test file. */
  kill(): Promise<ElectorExit> {
    return this.signal('SIGKILL');
  }

  log(): string {
    return this.output.join('\n');
  }
}
