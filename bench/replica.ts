import { SampleProcess, type SampleStatus } from '../test/support/sample-process.js';

/** What a replica answers on `GET /status`. */
export type ReplicaStatus = SampleStatus;

/**
 * One sample replica as a child process (the compiled sample, as a pod runs it), named by its pod
 * name. It gets its own process group, so a Ctrl-C in the terminal reaches only the demo, which
 * then stops every replica with one SIGTERM, the way Kubernetes does, and waits for it to exit.
 */
export class Replica extends SampleProcess {
  constructor(name: string, env: Record<string, string>) {
    super({ MY_POD_NAME: name, ...env }, { detached: true });
  }

  /** `GET /status`, or null when it does not answer within 200 ms (a live view must not stall on one replica). */
  async statusOrNull(): Promise<ReplicaStatus | null> {
    if (!this.running || this.port === 0) return null;
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/status`, { signal: AbortSignal.timeout(200) });
      return response.ok ? ((await response.json()) as ReplicaStatus) : null;
    } catch {
      return null;
    }
  }
}
