import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Server as HttpsServer, createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

import { KubeConfig } from '@kubernetes/client-node';

import { ConnectionCounts, type ConnectionStats } from './connection-counts.js';
import { type FaultHost, Faults, type InjectedFailure } from './faults.js';
import { type Answer, LeaseApi } from './lease-api.js';
import { ObjectStore } from './object-store.js';
import { PodApi } from './pod-api.js';
import { PodLifecycle } from './pod-lifecycle.js';
import { isAllowed } from './rbac.js';
import { RequestCounts } from './request-counts.js';
import { type RequestInfo, type ResourceRequestInfo, requestInfoFor } from './request-info.js';
import {
  LEASE_GROUP,
  LEASE_RESOURCE,
  PODS,
  type Status,
  StatusError,
  forbidden,
  gatewayTimeout,
  internalError,
  methodNotSupported,
  pathNotFound,
  requestEntityTooLarge,
  serviceUnavailable,
  tooManyRequests,
  unauthorized,
} from './status.js';
import { type JsonObject, type Lease, type Pod, type RbacRule, type RequestEventInfo, VERBS, type Verb } from './types.js';
import { WatchHub } from './watch-hub.js';
import { WATCHED, type WatchedResource, WatchStreams } from './watch-stream.js';

export interface KubeApiServerOptions {
  /** Default 0: a free port chosen by the OS. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** The resourceVersion before the first write. Default 100. */
  initialResourceVersion?: number;
  /** Events kept for watches to resume from. Default 1000. */
  historyLimit?: number;
  /**
   * Serve HTTPS with this certificate and key (PEM) instead of plain HTTP; `kubeConfig()` then
   * trusts the certificate as the cluster's CA. Default: plain HTTP.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface AddUserOptions {
  /** Default: a random token. */
  token?: string;
  /** Default: no rules, meaning allowed everything (a cluster-admin binding). */
  rules?: RbacRule[];
}

/** The apiserver's request body limit (`MaxRequestBodyBytes`, 3 MiB). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

/**
 * Paths the `system:public-info-viewer` ClusterRole opens to everyone, anonymous included
 * (client-node's `Health` calls the first three).
 */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

/** `/version` of the apiserver the fixtures were recorded from. */
const VERSION_INFO = {
  major: '1',
  minor: '20',
  gitVersion: 'v1.20.2',
  gitCommit: 'faecb196815e248d3ecfb03c680a4507229c2a56',
  gitTreeState: 'clean',
  buildDate: '2021-01-13T13:20:00Z',
  goVersion: 'go1.15.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** One request on its way through the pipeline. */
interface Exchange {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly url: URL;
  readonly method: string;
  readonly user: string | null;
  readonly info: RequestInfo;
  readonly verb: Verb | 'other';
  readonly isWatch: boolean;
  body: string;
  bodyTooLarge: boolean;
}

interface UserEntry {
  tokens: Set<string>;
  rules: RbacRule[] | undefined;
}

export interface KubeApiServer {
  on(event: 'request', listener: (info: RequestEventInfo) => void): this;
  once(event: 'request', listener: (info: RequestEventInfo) => void): this;
  off(event: 'request', listener: (info: RequestEventInfo) => void): this;
  emit(event: 'request', info: RequestEventInfo): boolean;
}

/**
 * A real HTTP server answering the `coordination.k8s.io/v1` Lease API as a kube-apiserver does
 * (codes, Status bodies, resourceVersions, watches: see the fixtures in
 * test/fixtures/kube-apiserver), with bearer-token users, RBAC rules, per-user request counts and
 * injectable faults. Every request goes: count, latency, hang/partition, outage, failNext (not
 * watches), authentication (401), authorization (403), then the Lease or Pod API. Besides
 * Leases it serves core/v1 Pods (get, list, watch, create, delete; `server.pods` plays the
 * kubelet and the controllers) and the public health and version paths. Leases and Pods share
 * one resourceVersion counter and one watch history, as etcd has one revision for all keys.
 */
export class KubeApiServer extends EventEmitter {
  readonly faults: Faults;
  /** Plays the kubelet, the scheduler and the controllers on Pods (see pod-lifecycle.ts). */
  readonly pods: PodLifecycle;

  private readonly server: Server | HttpsServer;
  private readonly tls: KubeApiServerOptions['tls'];
  private readonly host: string;
  private port = 0;
  private listening = false;
  private closed = false;
  private readonly store: ObjectStore;
  private readonly api: LeaseApi;
  private readonly podApi: PodApi;
  private readonly watches: WatchStreams;
  private readonly hub = new WatchHub();
  private readonly requestCounts = new RequestCounts();
  private readonly connectionCounts = new ConnectionCounts();
  private readonly users = new Map<string, UserEntry>();
  private readonly tokens = new Map<string, string>();
  private readonly sockets = new Set<Socket>();
  private readonly held = new Set<Exchange>();
  /** Writes that were applied but whose answer `loseAnswers` keeps back. */
  private readonly lost = new Set<Exchange>();
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  static async start(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
    const server = new KubeApiServer(options);
    await server.listen(options.port ?? 0);
    return server;
  }

  private constructor(options: KubeApiServerOptions) {
    super();
    this.host = options.host ?? '127.0.0.1';
    this.store = new ObjectStore({
      initialResourceVersion: options.initialResourceVersion,
      historyLimit: options.historyLimit,
    });
    this.api = new LeaseApi(this.store.view<Lease>(LEASE_RESOURCE));
    this.podApi = new PodApi(this.store.view<Pod>(PODS.resource));
    this.pods = new PodLifecycle(this.podApi, this.store);
    this.watches = new WatchStreams(this.store, this.hub);
    this.store.onEvent((event) => this.hub.dispatch(event));
    this.faults = new Faults(this.faultHost());
    this.tls = options.tls;
    const handler = (request: IncomingMessage, response: ServerResponse) => this.accept(request, response);
    this.server = this.tls ? createHttpsServer({ cert: this.tls.cert, key: this.tls.key }, handler) : createServer(handler);
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.connectionCounts.accepted(socket, this.tls !== undefined);
    });
    this.server.on('secureConnection', (socket: TLSSocket) => this.connectionCounts.secured(socket));
    // A client that sends garbage or vanishes mid-request must not crash the test run.
    this.server.on('clientError', (_error, socket) => socket.destroy());
  }

  /** `http://127.0.0.1:PORT` (`https://` with the `tls` option). */
  get url(): string {
    return `${this.tls ? 'https' : 'http'}://${this.host}:${this.port}`;
  }

  /** The latest resourceVersion, as a LIST would report it. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Registers a user (or adds a token to one) and returns the bearer token. */
  addUser(name: string, options: AddUserOptions = {}): string {
    const token = options.token ?? `${name}-${randomUUID()}`;
    const previousOwner = this.tokens.get(token);
    if (previousOwner !== undefined) this.users.get(previousOwner)?.tokens.delete(token);
    const entry = this.users.get(name) ?? { tokens: new Set<string>(), rules: undefined };
    entry.tokens.add(token);
    if (options.rules !== undefined || !this.users.has(name)) entry.rules = options.rules && structuredClone(options.rules);
    this.users.set(name, entry);
    this.tokens.set(token, name);
    return token;
  }

  /** Replaces a user's RBAC rules (undefined: allowed everything), e.g. to revoke access mid-test. */
  setRules(name: string, rules: RbacRule[] | undefined): void {
    const entry = this.users.get(name);
    if (!entry) throw new Error(`unknown user ${name}`);
    entry.rules = rules && structuredClone(rules);
  }

  /** A client-node KubeConfig for `user` against this server, namespace `default`. */
  kubeConfig(user: string): KubeConfig {
    const entry = this.users.get(user);
    const token = entry && [...entry.tokens][0];
    if (!token) throw new Error(`unknown user ${user}: call addUser first`);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [this.tls
        ? { name: 'kube-api-server-test', server: this.url, skipTLSVerify: false, caData: Buffer.from(this.tls.cert).toString('base64') }
        : { name: 'kube-api-server-test', server: this.url, skipTLSVerify: true }],
      users: [{ name: user, token }],
      contexts: [{ name: `${user}@kube-api-server-test`, cluster: 'kube-api-server-test', user, namespace: 'default' }],
      currentContext: `${user}@kube-api-server-test`,
    });
    return kubeConfig;
  }

  /** A copy of the stored Lease, as a GET would return it. */
  getLease(namespace: string, name: string): Lease | undefined {
    const stored = this.store.get(LEASE_RESOURCE, namespace, name);
    return stored && (JSON.parse(stored.json) as Lease);
  }

  /** Copies of the Leases of a namespace, sorted by name. */
  listLeases(namespace: string): Lease[] {
    return this.store
      .list(LEASE_RESOURCE, namespace)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((s) => JSON.parse(s.json) as Lease);
  }

  /**
   * Writes a Lease directly (no auth, no faults, no counting): bumps the resourceVersion and
   * emits ADDED or MODIFIED. uid, creationTimestamp and managedFields are kept when given, so a
   * Lease can be planted exactly as another client (e.g. client-go) wrote it. Throws if the body
   * is not a valid Lease.
   */
  putLease(namespace: string, lease: object): Lease {
    return this.api.seed(namespace, structuredClone(lease) as JsonObject, new Date());
  }

  /** Deletes a Lease directly and emits DELETED; false if there was none. */
  deleteLease(namespace: string, name: string): boolean {
    return this.store.remove(LEASE_RESOURCE, namespace, name) !== undefined;
  }

  /** Forgets watch history (Leases and Pods): a watch from any resourceVersion before now gets 410 Expired. */
  compact(): void {
    this.store.compact();
  }

  /** Requests received per verb, for one user (`null`: unauthenticated) or for everyone. */
  counts(user?: string | null): Record<Verb, number> {
    return this.requestCounts.counts(user);
  }

  /** Every request received (including those with no Lease verb), for one user or everyone. */
  totalRequests(user?: string | null): number {
    return this.requestCounts.totalRequests(user);
  }

  /** Connections (and TLS handshakes) accepted, for one user or everyone; see ConnectionStats. */
  connections(user?: string | null): ConnectionStats {
    return this.connectionCounts.stats(user);
  }

  /** Resets request counts and connection counts (open connections stay open, and counted as open). */
  resetCounts(): void {
    this.requestCounts.reset();
    this.connectionCounts.reset();
  }

  /** Open watch streams, for one user or everyone. */
  openWatches(user?: string): number {
    return this.hub.watchers(user).length;
  }

  /** Stops everything: timers, watch streams, held requests, sockets, the listener. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sleep of this.sleeps) {
      clearTimeout(sleep.timer);
      sleep.wake();
    }
    this.sleeps.clear();
    for (const watcher of this.hub.watchers()) watcher.end();
    this.held.clear();
    this.lost.clear();
    await this.stopListening(true);
  }

  // --- listening -------------------------------------------------------------------------

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.listening = true;
  }

  /**
   * Stops accepting connections and closes the open ones: abruptly, or (`graceful`) letting what
   * was just written (the end of watch streams) reach the client first, for at most 250 ms.
   */
  private async stopListening(graceful: boolean): Promise<void> {
    const closed = this.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : undefined;
    this.listening = false;
    const flushing: Promise<void>[] = [];
    for (const socket of this.sockets) {
      if (!graceful || socket.writableLength === 0) {
        socket.destroy();
        continue;
      }
      flushing.push(
        new Promise((resolve) => {
          const deadline = setTimeout(() => socket.destroy(), 250);
          socket.once('close', () => {
            clearTimeout(deadline);
            resolve();
          });
          socket.destroySoon();
        }),
      );
    }
    await Promise.all([closed, ...flushing]);
  }

  private faultHost(): FaultHost {
    return {
      killWatches: (user) => this.hub.watchers(user).forEach((w) => w.kill()),
      endWatches: (user) => this.hub.watchers(user).forEach((w) => w.end()),
      setListening: async (on) => {
        if (this.closed) return;
        if (on && !this.listening) await this.listen(this.port);
        if (!on) await this.stopListening(false);
      },
      partitionChanged: (user, on) => {
        for (const watcher of this.hub.watchers(user)) watcher.setPartitioned(on);
        if (!on) this.releaseHeld();
      },
      hangEnded: () => this.releaseHeld(),
      closeIdleConnections: () => this.server.closeIdleConnections(),
    };
  }

  // --- the request pipeline -----------------------------------------------------------------

  private accept(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://kube-apiserver');
    const info = requestInfoFor(method, url.pathname, url.searchParams);
    const exchange: Exchange = {
      request,
      response,
      url,
      method,
      user: this.authenticate(request),
      info,
      verb: info.isResourceRequest && (VERBS as readonly string[]).includes(info.verb) ? (info.verb as Verb) : 'other',
      isWatch: info.isResourceRequest && info.verb === 'watch',
      body: '',
      bodyTooLarge: false,
    };
    const onSocket = this.connectionCounts.request(request.socket, exchange.user);
    if (onSocket > 1 && this.faults.takeReusedConnectionDrop()) {
      // As a server that closed the idle connection just as this request went out on it.
      request.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) exchange.bodyTooLarge = true;
      else chunks.push(chunk);
    });
    request.on('error', () => response.destroy());
    request.on('end', () => {
      exchange.body = Buffer.concat(chunks).toString('utf8');
      void this.process(exchange);
    });
  }

  /** The user named by a known bearer token, else null. */
  private authenticate(request: IncomingMessage): string | null {
    const [scheme, token, ...rest] = (request.headers.authorization ?? '').trim().split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token || rest.length > 0) return null;
    return this.tokens.get(token) ?? null;
  }

  private async process(exchange: Exchange): Promise<void> {
    this.requestCounts.record(exchange.user, exchange.verb);
    const latency = this.faults.latencyMs;
    if (latency > 0) {
      await this.sleep(latency);
      if (this.closed || exchange.response.destroyed) return;
    }
    this.dispatch(exchange);
  }

  /** From the hang/partition check onwards; also where held requests resume when released. */
  private dispatch(exchange: Exchange): void {
    if (this.closed || exchange.response.destroyed) return;
    if (this.faults.hang || this.faults.isPartitioned(exchange.user)) return this.hold(exchange);
    if (this.faults.outage) return this.sendStatus(exchange, serviceUnavailable());
    if (!exchange.isWatch) {
      const failure = this.faults.takeFailure({ user: exchange.user, verb: exchange.verb, resource: resourceOf(exchange.info), body: exchange.body });
      if (failure) {
        const headers: Record<string, string> = failure.status === 429 ? { 'Retry-After': String(failure.retryAfterSeconds) } : {};
        return this.send(exchange, failure.status, JSON.stringify(injectedFailure(failure)), headers);
      }
    }
    const info = exchange.info;
    const isPublic = !info.isResourceRequest && info.verb === 'get' && PUBLIC_PATHS.has(info.path);
    if (isPublic && (exchange.user !== null || !exchange.request.headers.authorization)) return this.sendPublic(exchange, info.path);
    if (exchange.user === null) return this.sendStatus(exchange, unauthorized());
    const rules = this.users.get(exchange.user)?.rules;
    if (!isAllowed(rules, info)) return this.sendStatus(exchange, forbiddenFor(exchange.user, info));
    if (exchange.bodyTooLarge) return this.sendStatus(exchange, requestEntityTooLarge(MAX_BODY_BYTES));
    try {
      this.route(exchange, rules);
    } catch (error) {
      this.sendStatus(exchange, error instanceof StatusError ? error.status : internalError(String(error)));
    }
  }

  private hold(exchange: Exchange): void {
    this.held.add(exchange);
    exchange.response.once('close', () => this.held.delete(exchange));
    this.report(exchange, 0);
  }

  private releaseHeld(): void {
    for (const exchange of [...this.held]) {
      if (this.faults.hang || this.faults.isPartitioned(exchange.user)) continue;
      this.held.delete(exchange);
      this.dispatch(exchange);
    }
  }

  /**
   * Only namespaced Lease and Pod paths are served. Any other path, once authorised (fixture 15
   * shows RBAC runs first), is a 404 with a `NotFound` Status; a real apiserver answers unknown
   * paths with a plain-text `404 page not found`, but a Status is what clients parse best and
   * carries the same code and reason.
   */
  private route(exchange: Exchange, rules: RbacRule[] | undefined): void {
    const info = exchange.info;
    if (isPodRequest(info)) return this.routePod(exchange, info as ResourceRequestInfo);
    if (!isLeaseRequest(info)) return this.sendStatus(exchange, pathNotFound());
    const { namespace, name } = info;
    const writeRequest = () => ({
      text: exchange.body,
      contentType: exchange.request.headers['content-type'] ?? '',
      query: exchange.url.searchParams,
      manager: fieldManager(exchange),
      now: new Date(),
    });
    switch (info.verb) {
      case 'get':
        return this.sendAnswer(exchange, this.api.get(namespace, name));
      case 'list':
        return this.sendAnswer(exchange, this.api.list(namespace, exchange.url.searchParams));
      case 'watch':
        return this.startWatch(exchange, info, WATCHED.leases);
      case 'create':
        return this.sendAnswer(exchange, this.api.create(namespace, writeRequest()));
      case 'update':
        return this.sendAnswer(
          exchange,
          this.api.replace(namespace, name, writeRequest(), () => {
            // Create-on-update is authorised as a create of that name (`withAuthorization`).
            const asCreate = { ...info, verb: 'create' };
            if (!isAllowed(rules, asCreate)) throw new StatusError(forbiddenFor(exchange.user as string, asCreate));
          }),
        );
      case 'patch':
        return this.sendAnswer(exchange, this.api.patch(namespace, name, writeRequest()));
      case 'delete':
        return this.sendAnswer(exchange, this.api.remove(namespace, name, exchange.body));
      default:
        return this.sendStatus(exchange, methodNotSupported(info.verb || exchange.method));
    }
  }

  /** `pods` (get, list, watch, create, delete) and `pods/status` (get); other verbs get 405. */
  private routePod(exchange: Exchange, info: ResourceRequestInfo): void {
    const { namespace, name, subresource } = info;
    const now = new Date();
    if (subresource === 'status' && info.verb !== 'get') return this.sendStatus(exchange, methodNotSupported(info.verb, PODS));
    switch (info.verb) {
      case 'get':
        return this.sendAnswer(exchange, this.podApi.get(namespace, name));
      case 'list':
        return this.sendAnswer(exchange, this.podApi.list(namespace, exchange.url.searchParams));
      case 'watch':
        return this.startWatch(exchange, info, WATCHED.pods);
      case 'create':
        return this.sendAnswer(
          exchange,
          this.podApi.create(namespace, {
            text: exchange.body,
            contentType: exchange.request.headers['content-type'] ?? '',
            query: exchange.url.searchParams,
            manager: fieldManager(exchange),
            now,
          }),
        );
      case 'delete':
        return this.sendAnswer(exchange, this.podApi.deleteRequest(namespace, name, exchange.body, exchange.url.searchParams, now));
      default:
        return this.sendStatus(exchange, methodNotSupported(info.verb || exchange.method, PODS));
    }
  }

  // --- watches ------------------------------------------------------------------------------

  private startWatch(exchange: Exchange, info: ResourceRequestInfo, watched: WatchedResource): void {
    const refused = this.watches.start(
      {
        user: exchange.user,
        namespace: info.namespace,
        query: exchange.url.searchParams,
        response: exchange.response,
        partitioned: this.faults.isPartitioned(exchange.user),
        onHead: () => this.report(exchange, 200),
      },
      watched,
    );
    if (refused) this.sendStatus(exchange, refused);
  }

  // --- answering ----------------------------------------------------------------------------

  /** `/healthz`, `/livez`, `/readyz` answer `ok` in plain text; `/version` the version info. */
  private sendPublic(exchange: Exchange, path: string): void {
    if (path === '/version') return this.send(exchange, 200, JSON.stringify(VERSION_INFO, null, 2), {});
    const response = exchange.response;
    if (response.destroyed || response.headersSent) return;
    response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2, 'Cache-Control': 'no-cache, private' });
    response.end('ok');
    this.report(exchange, 200);
  }

  private sendAnswer(exchange: Exchange, answer: Answer): void {
    // The write is applied (the store already changed); only its answer goes missing.
    if (WRITE_VERBS.has(exchange.verb) && this.faults.takeLostAnswer({ user: exchange.user, verb: exchange.verb, resource: resourceOf(exchange.info), body: exchange.body })) return this.loseAnswer(exchange);
    const headers: Record<string, string | string[]> = {};
    if (answer.warnings) headers.Warning = answer.warnings;
    this.send(exchange, answer.status, answer.json, headers);
  }

  /** Keeps the request open and unanswered until the client gives up (or the server closes). */
  private loseAnswer(exchange: Exchange): void {
    this.lost.add(exchange);
    exchange.response.once('close', () => this.lost.delete(exchange));
    this.report(exchange, 0);
  }

  private sendStatus(exchange: Exchange, status: Status): void {
    this.send(exchange, status.code, JSON.stringify(status), {});
  }

  private send(exchange: Exchange, status: number, json: string, headers: Record<string, string | string[]>): void {
    const response = exchange.response;
    if (response.destroyed || response.headersSent) return;
    response.writeHead(status, {
      ...headers,
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(json),
      'Cache-Control': 'no-cache, private',
      'Audit-Id': randomUUID(),
    });
    response.end(json);
    this.report(exchange, status);
  }

  private report(exchange: Exchange, status: number): void {
    this.emit('request', {
      user: exchange.user,
      verb: exchange.verb,
      method: exchange.method,
      path: exchange.url.pathname,
      query: exchange.url.search.slice(1),
      status,
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const sleep = {
        wake: resolve,
        timer: setTimeout(() => {
          this.sleeps.delete(sleep);
          resolve();
        }, ms),
      };
      this.sleeps.add(sleep);
    });
  }
}

const resourceOf = (info: RequestInfo): string => (info.isResourceRequest ? info.resource : '');

/** Verbs that change the store: their answer is what `loseAnswers` drops. */
const WRITE_VERBS: ReadonlySet<Verb | 'other'> = new Set(['create', 'update', 'patch', 'delete']);

/** core/v1 pods: `/api/v1/namespaces/{ns}/pods[/{name}[/status]]`. */
function isPodRequest(info: RequestInfo): boolean {
  return (
    info.isResourceRequest &&
    info.apiPrefix === 'api' &&
    info.apiGroup === '' &&
    info.apiVersion === 'v1' &&
    info.resource === PODS.resource &&
    info.namespace !== '' &&
    (info.subresource === '' || (info.subresource === 'status' && info.name !== '')) &&
    info.extraParts.length === 0
  );
}

function isLeaseRequest(info: RequestInfo): info is ResourceRequestInfo {
  return (
    info.isResourceRequest &&
    info.apiPrefix === 'apis' &&
    info.apiGroup === LEASE_GROUP &&
    info.apiVersion === 'v1' &&
    info.resource === LEASE_RESOURCE &&
    info.namespace !== '' &&
    info.subresource === '' &&
    info.extraParts.length === 0
  );
}

function forbiddenFor(user: string, info: RequestInfo): Status {
  if (!info.isResourceRequest) return forbidden({ user, verb: info.verb, path: info.path });
  const resource = info.subresource ? `${info.resource}/${info.subresource}` : info.resource;
  return forbidden({
    user,
    verb: info.verb,
    path: '',
    resource: { group: info.apiGroup, resource, namespace: info.namespace, name: info.name },
  });
}

function injectedFailure({ status, retryAfterSeconds }: InjectedFailure): Status {
  switch (status) {
    case 429:
      return tooManyRequests(retryAfterSeconds);
    case 500:
      return internalError();
    case 503:
      return serviceUnavailable();
    case 504:
      return gatewayTimeout();
  }
}

/** `managerOrUserAgent`: `?fieldManager=`, else the User-Agent up to its first `/`. */
function fieldManager(exchange: Exchange): string {
  const explicit = exchange.url.searchParams.get('fieldManager');
  if (explicit) return explicit;
  const userAgent = exchange.request.headers['user-agent'] ?? '';
  return userAgent.split('/')[0] || 'unknown';
}
