import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * One TCP connection that speaks HTTP/1.x by hand, so a test sees a response exactly as it went
 * over the wire: status line, header order and case, every byte of the body. It reads one
 * response per request, framed by Content-Length (or, for HEAD, by the end of the headers).
 */
export class RawHttpConnection {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private readonly changed = new EventTarget();

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.changed.dispatchEvent(new Event('change'));
    });
    socket.on('end', () => {
      this.ended = true;
      this.changed.dispatchEvent(new Event('change'));
    });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawHttpConnection> {
    const socket = connect({ port, host });
    await once(socket, 'connect');
    return new RawHttpConnection(socket);
  }

  /** True once the server closed its side (e.g. after answering `Connection: close`). */
  get closedByServer(): boolean {
    return this.ended;
  }

  /** Sends `request` as given (use \r\n) and resolves with the one response's raw bytes. */
  async exchange(request: string, { headOnly = false } = {}): Promise<Buffer> {
    this.socket.write(request);
    for (;;) {
      const response = this.takeResponse(headOnly);
      if (response !== undefined) return response;
      if (this.ended) throw new Error(`The server closed the connection mid-response: ${JSON.stringify(this.buffered.toString('latin1'))}`);
      await once(this.changed, 'change');
    }
  }

  /** Resolves once the server has closed its side of the connection. */
  async serverClosed(): Promise<void> {
    while (!this.ended) await once(this.changed, 'change');
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = once(this.socket, 'close');
    this.socket.destroy();
    await closed;
  }

  private takeResponse(headOnly: boolean): Buffer | undefined {
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    if (headEnd === -1) return undefined;
    const head = this.buffered.subarray(0, headEnd).toString('latin1');
    const length = headOnly ? 0 : Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    const total = headEnd + 4 + length;
    if (this.buffered.length < total) return undefined;
    const response = this.buffered.subarray(0, total);
    this.buffered = this.buffered.subarray(total);
    return Buffer.from(response);
  }
}
