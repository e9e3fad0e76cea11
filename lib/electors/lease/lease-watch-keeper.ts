import type { V1Lease } from '@kubernetes/client-node';
import { setSafeTimeout } from '../../leadership/timers.js';
import { LeaseApiError } from './resourcelock/lease-api.error.js';
import { LeaseWatch, type LeaseEventType, type LeaseWatchTarget } from './resourcelock/lease-watch.js';

/** A watch ends by itself after 5-10 min (like client-go's reflectors), spreading re-watches. */
const WATCH_TIMEOUT_SECONDS = { min: 300, spread: 300 };
/** After 401/403 the pod cannot watch until RBAC changes: retry slowly. */
const AUTH_FAILURE_RETRY_FACTOR = 10;
/** client-go's JitterFactor. */
const JITTER_FACTOR = 1.2;

export interface WatchKeeperEvents {
  /** The server accepted a watch: changes now arrive as events. */
  opened(): void;
  changed(type: LeaseEventType, lease: V1Lease): void;
  /** The watch is down (it will be re-opened): poll meanwhile. `error` is null for a clean end. */
  lost(error: LeaseApiError | null): void;
}

export interface WatchKeeperOptions {
  retryPeriodMs: number;
  requestTimeoutMs: number;
  now: () => number;
  random: () => number;
  /** The last resourceVersion the elector has seen, to resume from. */
  resumeFrom: () => string | undefined;
}

/** Resume after the last version seen, or start from the current state (sent as ADDED). */
type StartFrom = 'last-seen' | 'current-state';

/**
 * Keeps one watch on the Lease open for the elector: opens it, re-opens it when it ends, fails,
 * or answers 410 (from the current state then), and never opens two within one retry period, so
 * a server or proxy that keeps closing it cannot drive a reconnect loop.
 */
export class LeaseWatchKeeper {
  private watch: LeaseWatch | undefined;
  private opening = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastOpenAt = Number.NEGATIVE_INFINITY;
  private openedAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  /** The server accepted the current watch and it has not ended since. */
  healthy = false;

  constructor(
    private readonly target: LeaseWatchTarget,
    private readonly options: WatchKeeperOptions,
    private readonly events: WatchKeeperEvents,
  ) {}

  /** Opens the watch unless one is open, opening or waiting to retry. */
  ensure(from: StartFrom = 'last-seen'): void {
    if (this.stopped || this.watch !== undefined || this.opening || this.retryTimer !== undefined) return;
    const wait = this.lastOpenAt + this.options.retryPeriodMs - this.options.now();
    if (wait > 0) return this.retryAfter(wait, from);
    const resourceVersion = from === 'last-seen' ? this.options.resumeFrom() : undefined;
    this.opening = true;
    this.lastOpenAt = this.options.now();
    const timeoutSeconds = WATCH_TIMEOUT_SECONDS.min + Math.floor(this.options.random() * WATCH_TIMEOUT_SECONDS.spread);
    LeaseWatch.start(
      this.target,
      { resourceVersion, timeoutSeconds, connectTimeoutMs: this.options.requestTimeoutMs },
      {
        onOpen: () => {
          this.openedAt = this.options.now();
          this.healthy = true;
          this.events.opened();
        },
        onEvent: (type, lease) => this.events.changed(type, lease),
        onExpired: () => {
          // 410: our resourceVersion is too old to resume from; start over from the current state.
          this.watch = undefined;
          this.healthy = false;
          this.events.lost(null);
          this.ensure('current-state');
        },
        onEnd: (error) => this.ended(error, from),
      },
    ).then(
      (watch) => {
        this.opening = false;
        if (this.stopped) watch.stop();
        else this.watch = watch;
      },
      (error: unknown) => {
        this.opening = false;
        this.ended(LeaseApiError.from('watch', error), from);
      },
    );
  }

  /** Drops the current watch and opens a new one from the current state (spacing kept). */
  restart(): void {
    this.watch?.stop();
    this.watch = undefined;
    this.healthy = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.ensure('current-state');
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.watch?.stop();
    this.watch = undefined;
    this.healthy = false;
  }

  private ended(error: LeaseApiError | null, from: StartFrom): void {
    this.watch = undefined;
    this.healthy = false;
    if (this.stopped) return;
    this.events.lost(error);
    // A watch that ran its course (timeoutSeconds) resumes at once; one that failed, or ended
    // almost as soon as it opened, waits: a retry period with jitter, ten after 401/403.
    const ranItsCourse = error === null && this.options.now() - this.openedAt >= this.options.retryPeriodMs;
    if (ranItsCourse) return this.ensure(from);
    const unauthorized = error !== null && (error.status === 401 || error.status === 403);
    const factor = unauthorized ? AUTH_FAILURE_RETRY_FACTOR : 1 + JITTER_FACTOR * this.options.random();
    this.retryAfter(this.options.retryPeriodMs * factor, from);
  }

  private retryAfter(delayMs: number, from: StartFrom): void {
    this.retryTimer = setSafeTimeout(() => {
      this.retryTimer = undefined;
      this.ensure(from);
    }, delayMs);
  }
}
