/** What `Faults` needs from the server to act on open connections. */
export interface FaultHost {
  killWatches(user?: string): void;
  endWatches(user?: string): void;
  setListening(on: boolean): Promise<void>;
  /** A user's partition started or healed (hold or release its watches and requests). */
  partitionChanged(user: string, on: boolean): void;
  /** `hang` was switched off: release the requests it held. */
  hangEnded(): void;
  /** Closes every kept-alive connection that carries no request now. */
  closeIdleConnections(): void;
}

export type FailureStatus = 429 | 500 | 503 | 504;

/** What a queued failure may look at to decide whether a request is the one it fails. */
export interface FailedRequest {
  user: string | null;
  verb: string;
  /** The resource the request is about (`leases`, `pods`; '' for other paths). */
  resource: string;
  /** The request body as sent ('' for requests without one). */
  body: string;
}

/** One queued failure: its status, and for 429 the `Retry-After` the server asks for. */
export interface InjectedFailure {
  status: FailureStatus;
  retryAfterSeconds: number;
  /** Fails only a request this accepts (default: any non-watch request). */
  when?: (request: FailedRequest) => boolean;
}

/**
 * The failures a test can inject. Settings take effect for requests that arrive afterwards;
 * the watch and connection actions act at once.
 */
export class Faults {
  /** Milliseconds added before answering every request (watches: before the stream starts). */
  latencyMs = 0;
  /** Every request is answered 503 ServiceUnavailable, watches included (open watches stay). */
  outage = false;

  private hanging = false;
  private readonly failures: InjectedFailure[] = [];
  private readonly partitioned = new Set<string>();
  private readonly lostAnswers: { user: string | undefined; when?: (request: FailedRequest) => boolean }[] = [];
  private reusedConnectionDrops = 0;

  constructor(private readonly host: FaultHost) {}

  /**
   * Requests are accepted and never answered, as behind a stuck load balancer. Switching it off
   * releases the held requests whose clients are still waiting: they are then served normally.
   */
  get hang(): boolean {
    return this.hanging;
  }

  set hang(on: boolean) {
    const wasHanging = this.hanging;
    this.hanging = on;
    if (wasHanging && !on) this.host.hangEnded();
  }

  /**
   * The next `count` non-watch requests fail with `status` (a matching Status body; 429 also with a
   * `Retry-After` header of `retryAfterSeconds`, 1 by default, as API Priority and Fairness sends).
   * With `when`, only requests it accepts are failed (e.g. the write that carries one claim); the
   * others pass. Calls queue up.
   */
  failNext(
    count: number,
    status: FailureStatus = 500,
    { retryAfterSeconds = 1, when }: { retryAfterSeconds?: number; when?: (request: FailedRequest) => boolean } = {},
  ): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, retryAfterSeconds, when });
  }

  /** Consumes the first queued failure that applies to `request`, if any (each non-watch request that gets that far). */
  takeFailure(request: FailedRequest): InjectedFailure | undefined {
    const index = this.failures.findIndex((failure) => failure.when === undefined || failure.when(request));
    return index < 0 ? undefined : this.failures.splice(index, 1)[0];
  }

  /**
   * The next `count` writes (create, update, patch, delete) of `user` (anyone's when omitted) are
   * applied, and then their answer never comes: the request stays open until the client gives up,
   * as when a reply is lost on the way back. The client cannot tell whether the write happened.
   */
  loseAnswers(count: number, user?: string, { when }: { when?: (request: FailedRequest) => boolean } = {}): void {
    for (let i = 0; i < count; i++) this.lostAnswers.push({ user, when });
  }

  /** Consumes one queued lost answer that applies to this write (its user, and `when`), if any. */
  takeLostAnswer(request: FailedRequest): boolean {
    const { user } = request;
    const index = this.lostAnswers.findIndex((lost) => (lost.user === undefined || lost.user === user) && (lost.when === undefined || lost.when(request)));
    if (index < 0) return false;
    this.lostAnswers.splice(index, 1);
    return true;
  }

  /** How many injected failures are still queued. */
  get pendingFailures(): number {
    return this.failures.length;
  }

  /**
   * Cuts `user` off, as a network partition would: its requests are held unanswered and its open
   * watches stop delivering. Healing lets held requests through (those whose clients have not
   * given up) and delivers the watch events held meanwhile, as TCP would once the link is back.
   */
  partition(user: string, on: boolean): void {
    if (on === this.partitioned.has(user)) return;
    if (on) this.partitioned.add(user);
    else this.partitioned.delete(user);
    this.host.partitionChanged(user, on);
  }

  isPartitioned(user: string | null): boolean {
    return user !== null && this.partitioned.has(user);
  }

  /** Destroys open watch connections (all, or `user`'s) without ending the response. */
  killWatches(user?: string): void {
    this.host.killWatches(user);
  }

  /** Ends open watch streams cleanly, as the apiserver does when `timeoutSeconds` runs out. */
  endWatches(user?: string): void {
    this.host.endWatches(user);
  }

  /**
   * `true`: stop listening (new connections get ECONNREFUSED) and destroy every open socket.
   * `false`: listen again on the same port.
   */
  refuseConnections(on: boolean): Promise<void> {
    return this.host.setListening(!on);
  }

  /**
   * Closes every idle kept-alive connection at once, as a server's or load balancer's idle timeout
   * does. A client that notices before its next request simply opens a new connection.
   */
  closeIdleConnections(): void {
    this.host.closeIdleConnections();
  }

  /**
   * The next `count` requests that arrive on an already used connection are not answered: the
   * connection is closed under them, as when a server's idle timeout closes it just as the client
   * sends on it. The client sees a reset (ECONNRESET, "socket hang up"). Calls add up.
   */
  dropNextOnReusedConnection(count = 1): void {
    this.reusedConnectionDrops += count;
  }

  /** Consumes one queued drop, if any (called for each request on a reused connection). */
  takeReusedConnectionDrop(): boolean {
    if (this.reusedConnectionDrops === 0) return false;
    this.reusedConnectionDrops--;
    return true;
  }

  /** Back to no faults (does not reopen a refused listener; use `refuseConnections(false)`). */
  reset(): void {
    this.latencyMs = 0;
    this.outage = false;
    this.hang = false;
    this.failures.length = 0;
    this.lostAnswers.length = 0;
    this.reusedConnectionDrops = 0;
    for (const user of [...this.partitioned]) this.partition(user, false);
  }
}
