import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface ConnectionStats {
  /** TCP connections accepted (for a user: those whose first request was that user's). */
  accepted: number;
  /** Of all connections (or the user's), those still open now; not reset by `resetCounts()`. */
  open: number;
  /** TLS handshakes completed (HTTPS only): full ones plus resumed ones. */
  tlsHandshakes: number;
  /** Handshakes that resumed an earlier TLS session instead of a full key exchange. */
  tlsResumed: number;
}

interface Connection {
  /** Who sent the first request on it: undefined before any request, null when unauthenticated. */
  user: string | null | undefined;
  tls: 'full' | 'resumed' | undefined;
  requests: number;
}

type Totals = Omit<ConnectionStats, 'open'>;

const zero = (): Totals => ({ accepted: 0, tlsHandshakes: 0, tlsResumed: 0 });

/**
 * Connections as the server sees them, counted in total and per user. A connection belongs to the
 * user of its first request (clients do not share connections between credentials).
 */
export class ConnectionCounts {
  /** By the socket that requests arrive on (the TLSSocket over HTTPS). */
  private readonly connections = new Map<Socket, Connection>();
  private totals = zero();
  private readonly perUser = new Map<string | null, Totals>();

  /** A TCP connection was accepted. */
  accepted(socket: Socket, secure: boolean): void {
    this.totals.accepted++;
    // Over HTTPS, requests arrive on the TLSSocket, registered once its handshake is done.
    if (!secure) this.track(socket, undefined);
  }

  /** A TLS handshake completed on an accepted connection. */
  secured(socket: TLSSocket): void {
    const tls = socket.isSessionReused() ? 'resumed' : 'full';
    this.totals.tlsHandshakes++;
    if (tls === 'resumed') this.totals.tlsResumed++;
    this.track(socket, tls);
  }

  /** A request arrived on `socket`; returns how many it has carried, this one included. */
  request(socket: Socket, user: string | null): number {
    const connection = this.connections.get(socket);
    if (connection === undefined) return 1;
    connection.requests++;
    if (connection.user === undefined) {
      connection.user = user;
      const counts = this.userTotals(user);
      counts.accepted++;
      if (connection.tls !== undefined) counts.tlsHandshakes++;
      if (connection.tls === 'resumed') counts.tlsResumed++;
    }
    return connection.requests;
  }

  stats(user?: string | null): ConnectionStats {
    if (user === undefined) return { ...this.totals, open: this.connections.size };
    let open = 0;
    for (const connection of this.connections.values()) if (connection.user === user) open++;
    return { ...(this.perUser.get(user) ?? zero()), open };
  }

  reset(): void {
    this.totals = zero();
    this.perUser.clear();
  }

  private track(socket: Socket, tls: Connection['tls']): void {
    this.connections.set(socket, { user: undefined, tls, requests: 0 });
    socket.once('close', () => this.connections.delete(socket));
  }

  private userTotals(user: string | null): Totals {
    let counts = this.perUser.get(user);
    if (counts === undefined) {
      counts = zero();
      this.perUser.set(user, counts);
    }
    return counts;
  }
}
