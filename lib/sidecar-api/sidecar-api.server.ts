import { Logger } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import type { ElectionState } from '../leadership/election-state.js';
import { SIDECAR_API_LISTEN_FAILED, SIDECAR_API_SERVING } from '../leader-election.messages.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { ResolvedSidecarApi } from '../options/resolve-sidecar-api.js';
import { answeredLeaderName, leaderElectorBody, leaderElectorHeaders } from './leader-elector-answer.js';

/**
 * The drop-in for the old leader-elector sidecar's HTTP server: a plain node:http server that
 * answers every method and path with the leader of one election, read from that election's
 * in-memory state (never over the network), in the sidecar's exact wire format.
 *
 * Lifecycle (see LeaderElectionOrchestrator): it listens before any elector starts, so a port in
 * use stops the app before it campaigns; it closes only after the electors stopped and the Lease
 * was released, so the pod's other containers get an answer for as long as the pod runs. From the
 * moment shutdown begins that answer no longer names this pod (see answeredLeaderName).
 */
export class SidecarApiServer {
  private readonly logger = new Logger('LeaderElection');
  private server: Server | undefined;

  constructor(
    private readonly state: ElectionState,
    private readonly options: ResolvedSidecarApi,
  ) {}

  /** The server that `serveSidecarApi` asks for, not yet listening; undefined when it is off. */
  static fromOptions(options: ResolvedOptions, states: ReadonlyMap<string, ElectionState>): SidecarApiServer | undefined {
    const sidecarApi = options.sidecarApi;
    return sidecarApi && new SidecarApiServer(states.get(sidecarApi.election)!, sidecarApi);
  }

  /** The address it listens on, once listening (with the real port when the option was 0). */
  get address(): AddressInfo | undefined {
    const address = this.server?.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  /** Listens, or rejects with a LeaderElectionConfigError naming the option (e.g. port in use). */
  async listen(): Promise<AddressInfo> {
    const server = createServer((request, response) => this.answer(request, response));
    // Go's server never closes an idle keep-alive connection; Node's would after 5 s, racing a
    // client that reuses it.
    server.keepAliveTimeout = 0;
    const { host, port } = this.options;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(this.listenError(error)));
      server.listen({ host, port }, resolve);
    });
    this.server = server;
    const address = this.address!;
    this.logger.log(SIDECAR_API_SERVING(this.options.election, address));
    return address;
  }

  /** Stops answering and drops every connection, idle or not: nothing is left behind. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    const body = leaderElectorBody(answeredLeaderName(this.state));
    // What Go's net/http says about the connection: "close" to an HTTP/1.1 client that is not
    // kept, "keep-alive" to an HTTP/1.0 client that is, nothing otherwise.
    const http10 = request.httpVersion === '1.0';
    const connection = !http10 && !response.shouldKeepAlive ? 'close' : http10 && response.shouldKeepAlive ? 'keep-alive' : undefined;
    response.removeHeader('Connection');
    response.writeHead(200, leaderElectorHeaders(body, new Date(), connection));
    // For HEAD, Node sends the headers only, as Go does.
    response.end(body);
  }

  private listenError(error: NodeJS.ErrnoException): Error {
    const { host, port } = this.options;
    switch (error.code) {
      case 'EADDRINUSE':
      case 'EACCES':
        return new LeaderElectionConfigError('serveSidecarApi.port', port, SIDECAR_API_LISTEN_FAILED(host, port, error.code));
      case 'EADDRNOTAVAIL':
      case 'EAFNOSUPPORT':
        return new LeaderElectionConfigError('serveSidecarApi.host', host, SIDECAR_API_LISTEN_FAILED(host, port, error.code));
      default:
        return error;
    }
  }
}
