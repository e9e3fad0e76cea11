import type { V1Pod } from '@kubernetes/client-node';
import { setSafeTimeout } from '../../leadership/timers.js';
import { STILL_RUNS, judgeContainer, type ContainerInstance, type Evidence } from './container-evidence.js';
import { LeaseApiError } from './resourcelock/lease-api.error.js';
import { LeaseWatch, type LeaseWatchTarget } from './resourcelock/lease-watch.js';

/** The record a follower watches the holder's pod for. */
export interface HolderTarget {
  /** The holder's pod name (its identity). */
  readonly pod: string;
  /** The container instance that wrote the record. */
  readonly instance: ContainerInstance;
  /** Identifies the record: a proof is for it alone. */
  readonly record: string;
}

export interface HolderPodWatchContext {
  /** Where to watch (the Lease's kubeconfig, namespace and connections). */
  readonly target: Omit<LeaseWatchTarget, 'name' | 'resource'>;
  readonly retryPeriodMs: number;
  readonly requestTimeoutMs: number;
  /** The pod proves the writer of `record` gone. */
  proved(record: string, why: string): void;
  /** The pod does not tell (and why): the lease must expire as usual. Said once per record and reason. */
  cannotTell(record: string, why: string): void;
}

/** A watch ends by itself after a few minutes, as the Lease's does. */
const WATCH_TIMEOUT_SECONDS = 300;

/**
 * Fast failover's eyes (issue 16): a watch on one pod, the Lease holder's, by name (never a watch
 * on all pods), judged against the container instance that wrote the record (see
 * judgeContainer). It re-opens from the pod's current state when it ends, at most once per retry
 * period, and stops once the record changes or the pod proved its writer gone.
 */
export class HolderPodWatch {
  private current: HolderTarget | undefined;
  private watch: LeaseWatch<V1Pod> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastOpenAt = Number.NEGATIVE_INFINITY;
  private stopped = false;

  constructor(private readonly context: HolderPodWatchContext) {}

  /** Watch the holder's pod for this record (a new one replaces the last), or nothing. */
  follow(target: HolderTarget | undefined): void {
    if (this.stopped) return;
    if (target?.record === this.current?.record && target?.pod === this.current?.pod) return;
    this.close();
    this.current = target;
    if (target !== undefined) this.open(target);
  }

  stop(): void {
    this.stopped = true;
    this.close();
    this.current = undefined;
  }

  private close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.watch?.stop();
    this.watch = undefined;
  }

  private open(target: HolderTarget): void {
    const wait = this.lastOpenAt + this.context.retryPeriodMs - performance.now();
    if (wait > 0) {
      this.retryTimer = setSafeTimeout(() => this.open(target), wait);
      return;
    }
    this.lastOpenAt = performance.now();
    const stillCurrent = () => this.current === target && !this.stopped;
    LeaseWatch.start<V1Pod>(
      { ...this.context.target, name: target.pod, resource: 'pods' },
      // No resourceVersion: the pod's current state comes first (ADDED), then its changes.
      { timeoutSeconds: WATCH_TIMEOUT_SECONDS, connectTimeoutMs: this.context.requestTimeoutMs },
      {
        onOpen: () => {},
        onEvent: (type, pod) => {
          if (!stillCurrent()) return;
          // A DELETED event carries the pod's last state: whether the kubelet had reported it terminated.
          this.judge(target, judgeContainer(target.instance, pod, type === 'DELETED'));
        },
        onExpired: () => this.reopen(target),
        onEnd: (error) => {
          if (error !== null && stillCurrent()) this.context.cannotTell(target.record, `reading its pod failed (${error.message})`);
          this.reopen(target);
        },
      },
    ).then(
      (watch) => {
        if (stillCurrent()) this.watch = watch;
        else watch.stop();
      },
      (error: unknown) => {
        if (stillCurrent()) this.context.cannotTell(target.record, `reading its pod failed (${LeaseApiError.from('watch', error).message})`);
        this.reopen(target);
      },
    );
  }

  private reopen(target: HolderTarget): void {
    this.watch = undefined;
    if (this.current === target && !this.stopped && this.retryTimer === undefined) this.open(target);
  }

  private judge(target: HolderTarget, evidence: Evidence): void {
    if (evidence.dead) {
      this.close();
      this.context.proved(target.record, evidence.why);
    } else if (evidence.why !== STILL_RUNS) {
      this.context.cannotTell(target.record, evidence.why);
    }
  }
}
