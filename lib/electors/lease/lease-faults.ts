import { Logger } from '@nestjs/common';
import type { ElectionState } from '../../leadership/election-state.js';
import { LEASE_API_PROBLEM, LEASE_API_RECOVERED } from '../../leader-election.messages.js';
import type { ElectorStatus } from '../leader-elector.interface.js';
import type { LeaseApiError } from './resourcelock/lease-api.error.js';

/**
 * What went wrong with the Kubernetes API, as one elector keeps it: each fault is logged once per
 * change of kind (never once per attempt), the last one is kept for health checks, and every
 * failed request is reported to the observability events. Faults never throw: the elector
 * fails closed and retries.
 */
export class LeaseFaults {
  private readonly logger = new Logger('LeaderElection');
  /** The last attempt failed with this error (null: it succeeded or lost a race). */
  lastFailure: LeaseApiError | null = null;
  /** The fault currently reported, so each is logged once per change, not once per attempt. */
  private problem: string | null = null;
  private lastApiError: { error: LeaseApiError; at: number } | null = null;
  /** Until when (monotonic) the server asked for no request: a 429's Retry-After, at most one lease duration. */
  pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly state: ElectionState,
    /** `namespace/name` of the Lease, for the log lines. */
    private readonly lease: string,
    private readonly now: () => number,
    private readonly timings: { retryPeriodMs: number; leaseDurationMs: number },
  ) {}

  /** A request succeeded: a fault that was reported is over, said once. */
  succeeded(): void {
    this.lastFailure = null;
    if (this.problem !== null) {
      this.problem = null;
      this.logger.log(LEASE_API_RECOVERED(this.state.name, this.lease));
    }
  }

  /** A request failed: kept for the schedule and health, reported once per kind of fault. */
  failed(error: LeaseApiError): void {
    this.failedQuietly(error);
    this.noteApiError(error);
    this.report(error);
  }

  /** A request failed while stopping (aborted by stop()): kept for the schedule, not a fault worth a line. */
  failedQuietly(error: LeaseApiError): void {
    this.lastFailure = error;
    if (error.status === 429) {
      const { retryPeriodMs, leaseDurationMs } = this.timings;
      this.pausedUntil = this.now() + Math.min(error.retryAfterMs ?? retryPeriodMs, leaseDurationMs);
    }
  }

  /** A lost race (409) or a Lease gone (404): normal outcomes, counted as API errors by code. */
  conflict(error: LeaseApiError): void {
    this.emit(error);
    this.lastFailure = null;
  }

  /** The watch failed: counted and reported, but it says nothing of the last write. */
  watchFailed(error: LeaseApiError): void {
    this.noteApiError(error);
    this.report(error);
  }

  /** The last failed request, with its age, for health checks. */
  lastError(): ElectorStatus['lastApiError'] {
    const failure = this.lastApiError;
    if (failure === null) return null;
    const { verb, status, reason, message } = failure.error;
    return { verb, code: status, reason, message, agoMs: this.now() - failure.at };
  }

  private noteApiError(error: LeaseApiError): void {
    this.lastApiError = { error, at: this.now() };
    this.emit(error);
  }

  private emit(error: LeaseApiError): void {
    this.state.events.apiError({ election: this.state.name, verb: error.verb, code: error.status, reason: error.reason });
  }

  private report(error: LeaseApiError): void {
    // By kind of fault, not by verb: the watch and the reads usually fail alike, and one line
    // (which names every rule the pod needs, and the verb that failed first) says all there is.
    const kind = `${error.status}:${error.reason}`;
    if (kind === this.problem) return;
    this.problem = kind;
    const message = LEASE_API_PROBLEM(this.state.name, this.lease, error);
    if (error.status === 401 || error.status === 403 || error.status === 400 || error.status === 422) {
      this.logger.error(message);
    } else {
      this.logger.warn(message);
    }
  }
}
