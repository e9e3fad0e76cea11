import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EventEmitter, once } from 'node:events';
import { createServer, STATUS_CODES, type ClientRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the stand-in answers; `leader` is the real sidecar's only behaviour, the rest are faults. */
export type SidecarAnswerMode =
  | 'leader'
  | 'hang'
  | 'html'
  | 'invalidJson'
  | 'missingName'
  | 'emptyName'
  | 'oversized'
  | 'extraFields'
  | { status: number };

const ONE_MIB = 1024 * 1024;

/**
 * A real HTTP server that answers like the leader-elector sidecar: `{"name":"<leader>"}` as
 * `text/plain; charset=utf-8`, status 200, on any path and method, plus every fault a pod can meet.
 *
 * Events: `'request'` (the server received a poll) and `'settled'` (the client side of a poll is
 * over, whatever the fault, even a refused connection that the server never sees).
 */
export class SidecarStandIn extends EventEmitter {
  /** The pod the sidecar names; `''` means no leader is known, as the real one answers. */
  leader = '';
  mode: SidecarAnswerMode = 'leader';
  /** Polls the server received. */
  requests = 0;
  /** Polls a client started against this stand-in's port, counted at the moment they are sent. */
  pollsStarted = 0;
  /** Polls whose client request is over (answered, failed or timed out). */
  pollsSettled = 0;

  private readonly sockets = new Set<Socket>();
  private readonly onClientRequest = (message: unknown) => this.watchClientRequest(message);

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {
    super();
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // A client that gives up on an oversized answer resets the connection; that is expected.
    server.on('clientError', (_error, socket) => socket.destroy());
    subscribe('http.client.request.start', this.onClientRequest);
  }

  static async start(leader = ''): Promise<SidecarStandIn> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const standIn = new SidecarStandIn(server, (server.address() as AddressInfo).port);
    server.on('request', (req, res) => standIn.answer(req, res));
    standIn.leader = leader;
    return standIn;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Connections the server holds open right now (a hanging poll keeps one). */
  get openConnections(): number {
    return this.sockets.size;
  }

  status(code: number): void {
    this.mode = { status: code };
  }

  /** Stop listening: the next poll gets ECONNREFUSED. */
  async refuse(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    this.destroySockets();
    await closed;
  }

  /** Listen again on the same port. */
  async resume(): Promise<void> {
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
  }

  /** Resolves when the next `count` polls are over on the client side, so their outcome is known (0: at once). */
  nextPollsSettled(count = 1): Promise<void> {
    const target = this.pollsSettled + count;
    return new Promise((resolve) => {
      const check = () => {
        if (this.pollsSettled < target) return;
        this.off('settled', check);
        resolve();
      };
      this.on('settled', check);
      check();
    });
  }

  /** Resolves once the server holds no connection; a socket's 'close' comes after its handle is freed. */
  async idle(): Promise<void> {
    await Promise.all([...this.sockets].map((socket) => once(socket, 'close')));
  }

  /** Resolves with the next poll the server receives. */
  async nextRequest(): Promise<IncomingMessage> {
    const [req] = (await once(this, 'request')) as [IncomingMessage];
    return req;
  }

  async close(): Promise<void> {
    unsubscribe('http.client.request.start', this.onClientRequest);
    if (this.server.listening) {
      const closed = once(this.server, 'close');
      this.server.close();
      this.destroySockets();
      await closed;
    }
    this.destroySockets();
    this.removeAllListeners();
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    this.emit('request', req);
    const mode = this.mode;
    if (mode === 'hang') return;
    if (typeof mode === 'object') return this.send(res, mode.status, 'text/plain; charset=utf-8', STATUS_CODES[mode.status] ?? '');
    switch (mode) {
      case 'leader':
        return this.send(res, 200, 'text/plain; charset=utf-8', JSON.stringify({ name: this.leader }));
      case 'emptyName':
        return this.send(res, 200, 'text/plain; charset=utf-8', '{"name":""}');
      case 'extraFields':
        return this.send(res, 200, 'text/plain; charset=utf-8', JSON.stringify({ name: this.leader, last_update: '2026-11-24T09:53:30Z' }));
      case 'missingName':
        return this.send(res, 200, 'text/plain; charset=utf-8', JSON.stringify({ leader: this.leader }));
      case 'invalidJson':
        return this.send(res, 200, 'text/plain; charset=utf-8', '{"name":');
      case 'html':
        return this.send(res, 200, 'text/html; charset=utf-8', '<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>');
      case 'oversized':
        // Valid JSON naming the leader: only its size may make the client refuse it.
        return this.send(res, 200, 'text/plain; charset=utf-8', JSON.stringify({ name: this.leader, padding: 'x'.repeat(ONE_MIB) }));
    }
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string): void {
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private destroySockets(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /**
   * Node publishes every outgoing request on this channel synchronously, as it is sent. Its
   * 'close' comes after the client's handlers (and the promise continuations they resolve) ran.
   */
  private watchClientRequest(message: unknown): void {
    const request = (message as { request: ClientRequest }).request;
    if (request.getHeader('host') !== `127.0.0.1:${this.port}`) return;
    this.pollsStarted++;
    request.once('close', () => {
      this.pollsSettled++;
      this.emit('settled');
    });
  }
}
