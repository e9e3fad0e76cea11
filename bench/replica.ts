import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { SampleStatus } from '../sample/src/status.controller.js';
import { spawnSample } from '../test/support/spawn-sample.js';

/** What a replica answers on `GET /status`. */
export type ReplicaStatus = SampleStatus;

export interface ReplicaExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One sample replica as a child process (the compiled sample, as a pod runs it). It gets its own
 * process group, so a Ctrl-C in the terminal reaches only the demo, which then stops every replica
 * with exactly one SIGTERM, the way Kubernetes does, and waits for it to exit.
 * (test/support/sample-process.ts does the same for tests, but resolves paths from its own
 * location, which differs once compiled into .build/.)
 */
export class Replica {
  port = 0;
  exit: ReplicaExit | undefined;
  readonly exited: Promise<ReplicaExit>;
  /** The last lines it logged, to explain a replica that failed to start. */
  readonly tail: string[] = [];
  private readonly child: ChildProcess;
  private readonly listening: Promise<number>;

  constructor(readonly name: string, env: Record<string, string>) {
    this.child = spawnSample({ MY_POD_NAME: name, ...env }, { detached: true });
    let onPort: (port: number) => void;
    this.listening = new Promise((resolve) => (onPort = resolve));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.tail.push(line);
        if (this.tail.length > 20) this.tail.shift();
        const ready = /Listening on port (\d+) as /.exec(line);
        if (ready) onPort(Number(ready[1]));
      });
    }
    this.exited = once(this.child, 'exit').then(([code, signal]) => (this.exit = { code, signal } as ReplicaExit));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resolves once it serves HTTP; rejects if it exits first or `signal` aborts. */
  async ready(signal: AbortSignal): Promise<void> {
    let onAbort = () => {};
    try {
      this.port = await new Promise<number>((resolve, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        void this.listening.then(resolve);
        // Rejecting a settled promise does nothing: a later exit is no error here.
        void this.exited.then((exit) => reject(new Error(`${this.name} exited (${exit.code ?? exit.signal}) before it listened:\n${this.tail.join('\n')}`)));
      });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** `GET /status`, or null when it does not answer within 200 ms. */
  async status(): Promise<ReplicaStatus | null> {
    if (!this.running || this.port === 0) return null;
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/status`, { signal: AbortSignal.timeout(200) });
      return response.ok ? ((await response.json()) as ReplicaStatus) : null;
    } catch {
      return null;
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }
}
