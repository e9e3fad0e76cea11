import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { withAnnotations, type AnnotationEdits } from '../electors/lease/lease-control.js';
import { LeaseApiError } from '../electors/lease/resourcelock/lease-api.error.js';
import { LeaseLock } from '../electors/lease/resourcelock/lease-lock.js';
import { LeaseWatch } from '../electors/lease/resourcelock/lease-watch.js';
import { EXIT_FAILED, JobsCommandError } from './jobs-command.error.js';
import { API_FAILED, LEASE_CHANGED_TOO_OFTEN, LEASE_NOT_FOUND } from './jobs.messages.js';

/** Each request to the API gives up after this long. */
const REQUEST_TIMEOUT_MS = 10_000;
/** A pause, a resume or a request meets this many conflicts (409) at most, re-reading after each. */
const WRITE_ATTEMPTS = 5;
/** The longest one watch is asked to last; it is re-opened after, from the last version seen. */
const MAX_WATCH_SECONDS = 300;
/** After a watch failed, wait this long before re-reading and re-watching. */
const REWATCH_DELAY_MS = 1_000;
/** A user who may get the Lease but not watch it: read it this often instead. */
const POLL_INTERVAL_MS = 1_000;

/** What a change of the Lease asks for: annotations to set (a value) or remove (null), or nothing. */
export type LeaseChange = (lease: V1Lease) => AnnotationEdits | undefined;

/**
 * One Lease as a user's command reads, changes and watches it, with the user's credentials.
 * Every change is a conditional write (PUT) of the Lease last read, with only annotations
 * changed, so the election record is left as it is and no candidate's expiry clock restarts; a
 * conflict (409) re-reads and tries again. Every failure becomes one line for the user
 * (a JobsCommandError): a 403 names the RBAC rule the user needs.
 */
export class JobsLease {
  private readonly lock: LeaseLock;

  constructor(
    private readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly name: string,
    /** Who the API sees: the kubeconfig's user, for messages. */
    private readonly user: string,
  ) {
    this.lock = new LeaseLock(kubeConfig, namespace, name, REQUEST_TIMEOUT_MS);
  }

  describe(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** The Lease; a JobsCommandError when it does not exist or cannot be read. */
  async read(): Promise<V1Lease> {
    let lease: V1Lease | null;
    try {
      lease = await this.lock.get();
    } catch (error) {
      throw this.failure('get', error);
    }
    if (lease === null) throw new JobsCommandError(LEASE_NOT_FOUND(this.namespace, this.name), EXIT_FAILED);
    return lease;
  }

  /**
   * Applies `change` to the Lease with a conditional write, re-reading on a conflict. `change`
   * sees the Lease each attempt is conditional on, and may throw (a job it does not know) or say
   * there is nothing to write (undefined). Resolves with the Lease as written (or as read).
   */
  async edit(change: LeaseChange, first?: V1Lease): Promise<V1Lease> {
    let lease = first ?? (await this.read());
    for (let attempt = 1; ; attempt++) {
      const edits = change(lease);
      if (edits === undefined || Object.keys(edits).length === 0) return lease;
      try {
        return await this.lock.update(withAnnotations(lease, edits));
      } catch (error) {
        const apiError = LeaseApiError.from('update', error);
        if (apiError.status !== 409) throw this.failure('update', apiError);
        if (attempt >= WRITE_ATTEMPTS) throw new JobsCommandError(LEASE_CHANGED_TOO_OFTEN(this.describe(), WRITE_ATTEMPTS), EXIT_FAILED);
      }
      lease = await this.read();
    }
  }

  /**
   * Watches the Lease from `from` on until `check` returns something (resolves with it) or
   * `timeoutMs` passes (resolves undefined). `check` sees `from` first, then every version of the
   * Lease the watch brings; it may throw to stop waiting. A watch that ends is re-opened from the
   * last version seen (or, after a 410, from a fresh read). A user whom RBAC lets get the Lease
   * but not watch it (403) reads it every POLL_INTERVAL_MS instead.
   */
  waitFor<T>(from: V1Lease, check: (lease: V1Lease) => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const deadline = performance.now() + timeoutMs;
    return new Promise<T | undefined>((resolve, reject) => {
      let watch: LeaseWatch | undefined;
      let retry: NodeJS.Timeout | undefined;
      let done = false;
      let resourceVersion = from.metadata?.resourceVersion;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(retry);
        watch?.stop();
        settle();
      };
      const timer = setTimeout(() => finish(() => resolve(undefined)), timeoutMs);
      const look = (lease: V1Lease) => {
        resourceVersion = lease.metadata?.resourceVersion ?? resourceVersion;
        try {
          const found = check(lease);
          if (found !== undefined) finish(() => resolve(found));
        } catch (error) {
          finish(() => reject(error));
        }
      };
      const fail = (error: unknown) => finish(() => reject(error instanceof JobsCommandError ? error : this.failure('watch', error)));
      const reread = async () => {
        try {
          look(await this.read());
          if (!done) await open();
        } catch (error) {
          fail(error);
        }
      };
      const later = () => {
        if (!done) retry = setTimeout(() => void reread(), REWATCH_DELAY_MS);
      };
      const poll = () => {
        if (done) return;
        retry = setTimeout(async () => {
          try {
            look(await this.read());
            poll();
          } catch (error) {
            fail(error);
          }
        }, POLL_INTERVAL_MS);
      };
      const open = async (): Promise<void> => {
        const seconds = Math.min(MAX_WATCH_SECONDS, Math.max(1, Math.ceil((deadline - performance.now()) / 1_000) + 1));
        watch = await LeaseWatch.start(
          { kubeConfig: this.kubeConfig, namespace: this.namespace, name: this.name, agentFor: this.lock.agentFor },
          { resourceVersion, timeoutSeconds: seconds, connectTimeoutMs: REQUEST_TIMEOUT_MS },
          {
            onOpen: () => undefined,
            // A deleted Lease is re-created by the app's pods with what they knew of it: wait on.
            onEvent: (type, lease) => (type === 'DELETED' ? undefined : look(lease)),
            onExpired: () => void reread(),
            // Ended by its timeout, or cut: read again (a second later, so a server that keeps
            // closing it cannot drive a loop), then watch on.
            onEnd: (error) => (error?.status === 401 ? fail(error) : error?.status === 403 ? poll() : later()),
          },
        );
        if (done) watch.stop();
      };
      look(from);
      if (!done) open().catch(fail);
    });
  }

  /** Closes every connection: the command's last call, so that the process can exit. */
  close(): void {
    this.lock.abortAll();
  }

  private failure(verb: 'get' | 'update' | 'watch', error: unknown): JobsCommandError {
    const apiError = LeaseApiError.from(verb, error);
    return new JobsCommandError(API_FAILED(verb, this.namespace, this.name, this.user, apiError), EXIT_FAILED);
  }
}
