import { Logger } from '@nestjs/common';
import { CoreV1Api } from '@kubernetes/client-node';
import type { ElectionState } from '../../leadership/election-state.js';
import { setSafeTimeout } from '../../leadership/timers.js';
import { FAST_FAILOVER_CANNOT_TELL, FAST_FAILOVER_OWN_CONTAINER_UNKNOWN, FAST_FAILOVER_PROVED, FAST_FAILOVER_READY } from '../../leader-election.messages.js';
import type { ResolvedLease } from '../../options/resolve-options.js';
import { containerOf, encodeContainer, ownContainer, sameInstance, type ContainerInstance } from './container-evidence.js';
import { containerStartTime } from './container-start.js';
import { HolderPodWatch } from './holder-pod-watch.js';
import type { LeaseObservation } from './lease-observation.js';
import { LeaseApiError } from './resourcelock/lease-api.error.js';
import type { LeaseLock } from './resourcelock/lease-lock.js';
import { incarnationOf, type LeaderElectionRecord } from './resourcelock/lease-record.js';

export interface FastFailoverContext {
  readonly state: ElectionState;
  readonly options: ResolvedLease;
  readonly lock: LeaseLock;
  readonly observation: LeaseObservation;
  readonly incarnation: string;
  /** Whether this process wrote the record seen (its own term, not a predecessor's). */
  isOurs(): boolean;
  /** A record became free: plan the next round now. */
  replan(): void;
}

/**
 * The kubelet reports a restarted container within about a second (it relists containers every
 * second); two readings of its own pod this far apart that name the same instance are trusted.
 */
const CONFIRM_AFTER_MS = 2_000;

/** Reading this process's own pod is retried up to this many retry periods apart. */
const MAX_OWN_POD_BACKOFF = 10;

/**
 * Fail over from a crashed process in about a second (issue 16, opt-in: `lease.fastFailover`).
 * A leader writes which container instance it is (read once from its own pod) with its record;
 * every other candidate (the restarted process too: its own pod is the holder's) watches the
 * holder's pod, and takes the Lease at once when the pod PROVES that instance gone: restarted or
 * terminated by the kubelet. Anything short of proof (a NotReady node, a force deletion, an
 * unchanged status, an error reading the pod) leaves the lease to expire as before. A process that
 * is only cut off or paused is never taken for dead: its container still runs.
 */
export class FastFailover {
  private readonly logger = new Logger('LeaderElection');
  private own: ContainerInstance | undefined;
  private ownTimer: NodeJS.Timeout | undefined;
  private ownAttempts = 0;
  private readonly watch: HolderPodWatch;
  private readonly said = new Set<string>();
  private stopped = false;

  constructor(private readonly context: FastFailoverContext) {
    const { lock, options, observation, state } = context;
    this.watch = new HolderPodWatch({
      target: { kubeConfig: lock.kubeConfig, namespace: lock.namespace, agentFor: lock.agentFor },
      retryPeriodMs: options.retryPeriodMs,
      requestTimeoutMs: options.requestTimeoutMs,
      proved: (record, why) => {
        if (record !== observation.recordKey()) return;
        observation.markWriterGone(record);
        this.logger.log(FAST_FAILOVER_PROVED(state.name, lock.describe(), observation.holder ?? '?', why));
        context.replan();
      },
      cannotTell: (record, why) => this.once(`${record}\u0000${why}`, () => this.logger.log(FAST_FAILOVER_CANNOT_TELL(state.name, observation.holder ?? '?', why))),
    });
  }

  start(): void {
    const startedAt = containerStartTime();
    if (typeof startedAt === 'string') {
      const { state, lock } = this.context;
      this.logger.warn(FAST_FAILOVER_OWN_CONTAINER_UNKNOWN(state.name, state.identity, lock.namespace, `when its container started cannot be told: ${startedAt}`));
      return;
    }
    void this.readOwnPod(startedAt);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.ownTimer);
    this.watch.stop();
  }

  /** The container annotation for a record of this process: who wrote it, once known; else none. */
  containerAnnotation(record: LeaderElectionRecord): string | null {
    if (this.own === undefined) return null;
    return encodeContainer(this.own, { holder: record.holderIdentity, acquireTimeMs: record.acquireTime?.getTime() ?? null, incarnation: this.context.incarnation });
  }

  /** A Lease was taken in: watch its holder's pod, unless the record is this process's own. */
  observed(): void {
    const { observation } = this.context;
    const record = observation.record;
    const key = observation.recordKey();
    if (this.stopped || record === null || key === undefined || observation.holder === null || this.context.isOurs()) {
      this.watch.follow(undefined);
      return;
    }
    const instance = containerOf(observation.lease, { holder: record.holderIdentity, acquireTimeMs: record.acquireTime?.getTime() ?? null, incarnation: incarnationOf(observation.lease) });
    this.watch.follow(instance === undefined ? undefined : { pod: record.holderIdentity, instance, record: key });
  }

  /**
   * Which container instance this process is, from its own pod (the identity is the pod's name).
   * A reading is trusted once a second one, CONFIRM_AFTER_MS later, names the same instance.
   */
  private async readOwnPod(startedAt: Date, candidate?: ContainerInstance): Promise<void> {
    const { lock, options, state } = this.context;
    let problem: string;
    try {
      const pod = await lock.kubeConfig.makeApiClient(CoreV1Api).readNamespacedPod({ name: state.identity, namespace: lock.namespace });
      if (this.stopped) return;
      const own = ownContainer(pod, options.fastFailover?.container, startedAt);
      if (typeof own !== 'string') {
        if (candidate !== undefined && sameInstance(candidate, own)) {
          this.own = own;
          this.logger.log(FAST_FAILOVER_READY(state.name, lock.namespace, state.identity, own.container, own.containerId, own.restartCount));
          return;
        }
        this.ownTimer = setSafeTimeout(() => void this.readOwnPod(startedAt, own), CONFIRM_AFTER_MS);
        return;
      }
      problem = own;
    } catch (error) {
      problem = LeaseApiError.from('get', error).message;
    }
    if (this.stopped) return;
    this.once(`own:${problem}`, () => this.logger.warn(FAST_FAILOVER_OWN_CONTAINER_UNKNOWN(state.name, state.identity, lock.namespace, problem)));
    this.ownAttempts = Math.min(this.ownAttempts + 1, MAX_OWN_POD_BACKOFF);
    this.ownTimer = setSafeTimeout(() => void this.readOwnPod(startedAt), options.retryPeriodMs * this.ownAttempts);
  }

  private once(key: string, say: () => void): void {
    if (this.said.has(key)) return;
    if (this.said.size > 100) this.said.clear();
    this.said.add(key);
    say();
  }
}
