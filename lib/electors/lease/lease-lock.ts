import {
  CoordinationV1Api,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from '@kubernetes/client-node';
import { clampDelay } from '../../leadership/timers.js';
import { LeaseApiError, type LeaseVerb } from './lease-api.error.js';

/**
 * The storage half of client-go's split: one Lease object, read and written through the real
 * @kubernetes/client-node, each request bounded by a timeout so a hung call cannot cost
 * leadership. It knows nothing of elections; the elector decides what to write.
 */
export class LeaseLock {
  private readonly api: CoordinationV1Api;
  private readonly inFlight = new Set<AbortController>();

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly name: string,
    private readonly requestTimeoutMs: number,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
  }

  describe(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** The Lease, or null when it does not exist. `timeoutMs` shortens the request timeout. */
  async get(timeoutMs?: number): Promise<V1Lease | null> {
    try {
      return await this.call('get', timeoutMs, (options) =>
        this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }, options),
      );
    } catch (error) {
      if (error instanceof LeaseApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** Creates the Lease (this lock's name and namespace); 409 AlreadyExists if another did first. */
  create(lease: V1Lease): Promise<V1Lease> {
    const body: V1Lease = { ...lease, metadata: { ...lease.metadata, name: this.name, namespace: this.namespace } };
    return this.call('create', undefined, (options) =>
      this.api.createNamespacedLease({ namespace: this.namespace, body }, options),
    );
  }

  /**
   * Conditional replace: the body carries the resourceVersion last read; 409 Conflict if stale.
   * `timeoutMs` shortens the request timeout.
   */
  update(lease: V1Lease, timeoutMs?: number): Promise<V1Lease> {
    return this.call('update', timeoutMs, (options) =>
      this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: lease }, options),
    );
  }

  /** Aborts every request still in flight (used only when stopping for good). */
  abortAll(): void {
    for (const controller of this.inFlight) controller.abort();
  }

  private async call<T>(verb: LeaseVerb, timeoutMs: number | undefined, send: (options: ConfigurationOptions) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, clampDelay(Math.min(timeoutMs ?? this.requestTimeoutMs, this.requestTimeoutMs)));
    this.inFlight.add(controller);
    try {
      return await send(withSignal(controller.signal));
    } catch (error) {
      throw LeaseApiError.from(verb, error, timedOut);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }
}

/** client-node's per-call hook for attaching an AbortSignal to the request it is about to send. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  // The object-style API hands per-call middleware straight to its observable layer, which
  // expects client-node's own Observable (a thin promise wrapper), not an rxjs one.
  const middleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' } as unknown as ConfigurationOptions;
}
