import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { request as httpRequest, type Agent, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { clampDelay } from '../../../leadership/timers.js';
import { LeaseApiError, parseStatus } from './lease-api.error.js';

export type LeaseEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** etcd refuses objects over 1.5 MiB; a watch event line is that object plus a short envelope. */
export const MAX_WATCH_LINE_CHARS = 2 * 1024 * 1024;

export interface LeaseWatchHandlers<T = V1Lease> {
  /** The server accepted the watch (HTTP 200): from now on, changes arrive as events. */
  onOpen(): void;
  onEvent(type: LeaseEventType, object: T): void;
  /** 410 Expired: the resourceVersion is too old to resume from; re-read, then watch again. */
  onExpired(): void;
  /** The stream is over: cleanly (null, e.g. timeoutSeconds) or not. Never called after stop(). */
  onEnd(error: LeaseApiError | null): void;
}

export interface LeaseWatchTarget {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /**
   * The collection the object is in, as the API paths name it: `leases` of coordination.k8s.io
   * by default, or `pods` of the core group (the holder's pod, for fast failover).
   * @default 'leases'
   */
  resource?: 'leases' | 'pods';
  /** The agent to connect with, given the one client-node built (LeaseLock's kept-alive one). */
  agentFor<T>(perCall: T): T | Agent;
}

/**
 * A watch on one Lease (`fieldSelector=metadata.name=...`), the way the apiserver streams it: one
 * JSON event per line. Written on node:http(s) with client-node's credentials and TLS agent rather
 * than client-node's Watch, because the elector must be able to abort it at any moment, including
 * while the server has not answered yet (a cut network), which client-node's Watch cannot.
 */
export class LeaseWatch<T = V1Lease> {
  private request: ClientRequest | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly handlers: LeaseWatchHandlers<T>) {}

  static async start<T = V1Lease>(
    target: LeaseWatchTarget,
    options: { resourceVersion?: string; timeoutSeconds: number; connectTimeoutMs: number },
    handlers: LeaseWatchHandlers<T>,
  ): Promise<LeaseWatch<T>> {
    const watch = new LeaseWatch<T>(handlers);
    await watch.open(target, options);
    return watch;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.connectTimer);
    this.request?.destroy();
    this.request = undefined;
  }

  private async open(
    { kubeConfig, namespace, name, agentFor, resource = 'leases' }: LeaseWatchTarget,
    { resourceVersion, timeoutSeconds, connectTimeoutMs }: { resourceVersion?: string; timeoutSeconds: number; connectTimeoutMs: number },
  ): Promise<void> {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new LeaseApiError('watch', 0, 'NoCluster', 'the kubeconfig has no current cluster');
    const group = resource === 'pods' ? '/api/v1' : '/apis/coordination.k8s.io/v1';
    const url = new URL(`${cluster.server.replace(/\/+$/, '')}${group}/namespaces/${encodeURIComponent(namespace)}/${resource}`);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('fieldSelector', `metadata.name=${name}`);
    url.searchParams.set('timeoutSeconds', String(timeoutSeconds));
    if (resourceVersion !== undefined) url.searchParams.set('resourceVersion', resourceVersion);
    const init = await kubeConfig.applyToFetchOptions({ method: 'GET' });
    if (this.stopped) return;
    const headers: Record<string, string> = {};
    (init.headers as Headers | undefined)?.forEach((value, key) => (headers[key] = value));
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method: 'GET', agent: agentFor(init.agent) as never, headers });
    this.request = request;
    this.connectTimer = setTimeout(
      () => this.end(new LeaseApiError('watch', 0, 'Timeout', `watch got no answer within ${connectTimeoutMs} ms`)),
      clampDelay(connectTimeoutMs),
    );
    request.on('error', (error: NodeJS.ErrnoException) => this.end(LeaseApiError.from('watch', error)));
    request.on('response', (response) => this.receive(response));
    request.end();
  }

  private receive(response: IncomingMessage): void {
    clearTimeout(this.connectTimer);
    response.setEncoding('utf8');
    if (response.statusCode !== 200) {
      let body = '';
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        const status = parseStatus(body);
        this.end(new LeaseApiError('watch', response.statusCode ?? 0, status.reason ?? `HTTP${response.statusCode}`, status.message ?? `watch answered HTTP ${response.statusCode}`));
      });
      return;
    }
    this.handlers.onOpen();
    let pending = '';
    response.on('data', (chunk: string) => {
      pending += chunk;
      let newline: number;
      while (!this.stopped && (newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== '') this.dispatch(line);
      }
      // One event is one Lease, at most etcd's object size limit; a longer line is not an
      // apiserver's, and must not grow this process's memory without bound.
      if (!this.stopped && pending.length > MAX_WATCH_LINE_CHARS) {
        this.end(new LeaseApiError('watch', 0, 'BadStream', `watch stream carried a line over ${MAX_WATCH_LINE_CHARS} characters`));
      }
    });
    response.on('end', () => this.end(null));
    response.on('error', (error) => this.end(LeaseApiError.from('watch', error)));
  }

  private dispatch(line: string): void {
    let event: { type?: string; object?: unknown };
    try {
      event = JSON.parse(line);
    } catch {
      return this.end(new LeaseApiError('watch', 0, 'BadStream', 'watch stream carried a line that is not JSON'));
    }
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
      case 'DELETED':
        return this.handlers.onEvent(event.type, event.object as T);
      case 'ERROR': {
        const status = parseStatus(event.object);
        if (status.code === 410) {
          this.stop(); // quietly: onExpired, not onEnd, tells the elector what to do
          return this.handlers.onExpired();
        }
        return this.end(new LeaseApiError('watch', status.code ?? 0, status.reason ?? 'WatchError', status.message ?? 'watch error'));
      }
      default:
        return; // BOOKMARK and future types carry nothing the elector needs
    }
  }

  private end(error: LeaseApiError | null): void {
    if (this.stopped) return;
    this.stop();
    this.handlers.onEnd(error);
  }
}
