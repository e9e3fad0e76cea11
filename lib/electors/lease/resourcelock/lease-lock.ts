import {
  CoordinationV1Api,
  Observable,
  type ConfigurationOptions,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from '@kubernetes/client-node';
import { clampDelay } from '../../../leadership/timers.js';
import type { Agent } from 'node:http';
import { KeepAliveAgents } from './keep-alive-agents.js';
import { LeaseApiError, type LeaseVerb } from './lease-api.error.js';

/** How a LeaseLock connects; internal, not a module option. */
export interface LeaseConnectionOptions {
  /**
   * Keep connections alive and share them between requests and the watch. `false` is the old
   * behaviour (client-node's new agent, so a new connection, per request), kept for the benchmark.
   * @default true
   */
  reuseConnections?: boolean;
  /** How long an unused connection stays open (ms). @default IDLE_SOCKET_TIMEOUT_MS (30000) */
  idleSocketTimeoutMs?: number;
}

/**
 * The storage half of client-go's split: one Lease object, read and written through the real
 * @kubernetes/client-node, each request bounded by a timeout so a hung call cannot cost
 * leadership. It knows nothing of elections; the elector decides what to write. Its requests and
 * the watch share kept-alive connections (see KeepAliveAgents), closed by abortAll().
 */
export class LeaseLock {
  private readonly api: CoordinationV1Api;
  private readonly inFlight = new Set<AbortController>();
  private readonly agents: KeepAliveAgents | undefined;

  constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly name: string,
    private readonly requestTimeoutMs: number,
    connections: LeaseConnectionOptions = {},
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    if (connections.reuseConnections !== false) this.agents = new KeepAliveAgents(connections.idleSocketTimeoutMs);
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

  /**
   * The agent to send a request with, given the one client-node built for it with the
   * kubeconfig's TLS settings: the shared keep-alive agent for those settings. Bound, because the
   * watch takes it from the lock as a function.
   */
  readonly agentFor = <T>(perCall: T): T | Agent => (this.agents ? this.agents.agentFor(perCall) : perCall);

  /** Aborts every request still in flight; later requests are sent as usual. */
  abortInFlight(): void {
    for (const controller of this.inFlight) controller.abort();
  }

  /** Aborts every request still in flight and closes every connection (used only when stopping for good). */
  abortAll(): void {
    this.abortInFlight();
    this.agents?.close();
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
      return await send(perCall(controller.signal, this.agentFor));
    } catch (error) {
      throw LeaseApiError.from(verb, error, timedOut);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
  }
}

/**
 * client-node's per-call hook, run after the kubeconfig was applied to the request it is about to
 * send: attaches the AbortSignal, and swaps the agent client-node just made for the kept-alive one.
 */
function perCall(signal: AbortSignal, agentFor: (agent: Agent) => Agent): ConfigurationOptions {
  // The object-style API hands per-call middleware straight to its observable layer, which
  // expects client-node's own Observable (a thin promise wrapper), not an rxjs one.
  const middleware = {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      const agent = context.getAgent();
      if (agent !== undefined) context.setAgent(agentFor(agent));
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' } as unknown as ConfigurationOptions;
}
