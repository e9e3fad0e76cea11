import { spawn, type ChildProcess, type Serializable } from 'node:child_process';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';

/** How a child process ended: an exit code, or the signal that ended it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd?: string;
  /** Its whole environment: nothing of this process's is passed on unless it is in here. */
  env?: NodeJS.ProcessEnv;
  /** In a process group of its own, so a Ctrl-C in the terminal reaches only this process. */
  detached?: boolean;
  /** An IPC channel to a Node child, for `send` and `onMessage`. */
  ipc?: boolean;
  /** What error messages call it. @default the command's file name */
  name?: string;
}

export interface WaitOptions {
  /** Stops the wait, rejecting with the signal's reason. */
  signal?: AbortSignal;
  /** Without a `signal`, the wait gives up after this long. @default 30_000 */
  timeoutMs?: number;
}

export interface StopOptions {
  /** @default 'SIGTERM', as Kubernetes stops a container */
  signal?: NodeJS.Signals;
  /** How long it may take to exit before SIGKILL, as a pod's termination grace period. @default 10_000 */
  graceMs?: number;
}

/**
 * A child process that tests and benchmarks start and watch from the outside: every line it writes
 * to stdout and stderr, the lines awaited as they come, and its exit. Signals go to its pid, and
 * only while it runs (Node refuses them after the exit, so a reused pid is never hit).
 */
export class SpawnedProcess {
  readonly pid: number | undefined;
  /** Every line of stdout and stderr, in the order they arrived, for assertions and failure messages. */
  readonly output: string[] = [];
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  /** Settles once the process exited and its output was read to the end. */
  readonly exited: Promise<ProcessExit>;
  /** Set as soon as the process exits (its last output may still be on the way). */
  exit: ProcessExit | undefined;
  readonly name: string;
  private readonly child: ChildProcess;
  private closed = false;
  /** Called with each new line, and with null once the output ended. */
  private readonly lineWaiters = new Set<(line: string | null) => void>();

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.name = options.name ?? basename(command);
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: options.detached,
      stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc ? ['ipc' as const] : [])],
    });
    this.pid = this.child.pid;
    for (const [stream, lines] of [[this.child.stdout!, this.stdout], [this.child.stderr!, this.stderr]] as const) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        lines.push(line);
        this.output.push(line);
        for (const waiter of [...this.lineWaiters]) waiter(line);
      });
    }
    // A command that cannot start (or a signal or message that cannot be sent) is reported as a
    // line of its output rather than as an unhandled 'error' event that ends the whole run.
    this.child.on('error', (error) => this.output.push(`${this.name}: ${error.message}`));
    this.child.once('exit', (code, signal) => (this.exit = { code, signal }));
    // Not events.once(): it would reject on that 'error' event, and the exit still comes.
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.closed = true;
        this.exit ??= { code, signal }; // a command that never started has no 'exit' event
        for (const waiter of [...this.lineWaiters]) waiter(null);
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /**
   * Resolves with the first line, already written or still to come, that contains `pattern` (a
   * string) or matches it (a RegExp); rejects if the process ends first, on timeout or on abort.
   */
  waitForLine(pattern: string | RegExp, { signal, timeoutMs = 30_000 }: WaitOptions = {}): Promise<string> {
    const matches = typeof pattern === 'string' ? (line: string) => line.includes(pattern) : (line: string) => pattern.test(line);
    const seen = this.output.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(this.exitedWithout(pattern));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const timer = signal ? undefined : setTimeout(() => settle(this.failure(`did not log ${pattern} within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => settle(signal!.reason);
      const waiter = (line: string | null) => {
        if (line === null) settle(this.exitedWithout(pattern));
        else if (matches(line)) settle(undefined, line);
      };
      const settle = (error?: unknown, line?: string) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.lineWaiters.delete(waiter);
        if (line === undefined) reject(error);
        else resolve(line);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.lineWaiters.add(waiter);
    });
  }

  /** Sends `signal` while it runs (SIGSTOP, SIGCONT, or a SIGTERM whose exit is awaited elsewhere). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Sends `signal` (SIGTERM), then SIGKILL if it has not exited after `graceMs`; resolves with the exit. */
  async stop({ signal = 'SIGTERM', graceMs = 10_000 }: StopOptions = {}): Promise<ProcessExit> {
    this.signal(signal);
    const deadline = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(deadline);
    }
  }

  /** SIGKILL at once, for cleanup after a failure: no process outlives its test or benchmark. */
  kill(): Promise<ProcessExit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** Sends a message over the IPC channel (`ipc: true`). */
  send(message: Serializable): void {
    this.child.send(message);
  }

  /** Calls `listener` with each message that arrives over the IPC channel (`ipc: true`). */
  onMessage(listener: (message: unknown) => void): void {
    this.child.on('message', listener);
  }

  log(): string {
    return this.output.join('\n');
  }

  private failure(what: string): Error {
    return new Error(`${this.name} ${what}:\n${this.log()}`);
  }

  private exitedWithout(pattern: string | RegExp): Error {
    return this.failure(`exited (${this.exit?.code ?? this.exit?.signal}) without logging ${pattern}`);
  }
}
