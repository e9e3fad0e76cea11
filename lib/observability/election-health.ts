import type { ElectorStatus } from '../electors/leader-elector.interface.js';
import type { LeadershipState } from '../interfaces/leadership-state.interface.js';
import type { ResolvedObservability } from '../options/resolve-options.js';

/** One election's health, as `ClusterLeaderService.health()` and the terminus indicator report it. */
export interface ElectionHealth {
  election: string;
  /** False only when restarting this pod would help (see `problem`); a follower is healthy. */
  healthy: boolean;
  /** Why it is unhealthy, and what to do; null when healthy. */
  problem: string | null;
  identity: string;
  isLeader: boolean;
  leader: string | null;
  term: number | null;
  /** Whole milliseconds since the send time of the last successful acquire or renew; null if none (or no Lease). */
  lastRenewAgoMs: number | null;
  /** How far the elector's loop is behind its schedule, in whole milliseconds; null for backends without a loop status. */
  loopLateMs: number | null;
  /** The last failed API request, with its age in milliseconds; null if none failed (or no Lease). */
  lastApiError: ElectorStatus['lastApiError'];
  /**
   * The jobs of this election paused on every pod (by hand, or by themselves after
   * `pauseAfterFailures`), with why. A pause does not make the pod unhealthy: a restart would not
   * resume them.
   */
  pausedJobs: { job: string; by: string | null; note: string }[];
}

/**
 * The rules, after client-go's healthz adaptor (a stuck leader must be restarted) and nothing
 * more: a follower, a pod that cannot reach the API, or one that lost its Lease is healthy, since
 * restarting it would not make anything lead sooner. Down only when
 *   1. the elector believes this pod leads but has not renewed for longer than leaseDurationMs +
 *      health.toleranceMs (the election state has stepped down by itself at the renew deadline,
 *      so jobs are safe; the loop that should have noticed is stuck), or
 *   2. the elector's loop is more than health.stalledAfterRetryPeriods retry periods behind its
 *      own schedule (a round counts as late only after three request timeouts).
 */
export function judgeElectionHealth(
  state: LeadershipState,
  status: ElectorStatus | undefined,
  { toleranceMs, stalledAfterRetryPeriods }: ResolvedObservability['health'],
  pausedJobs: ElectionHealth['pausedJobs'] = [],
): ElectionHealth {
  let problem: string | null = null;
  if (status !== undefined) {
    const renewLimitMs = status.leaseDurationMs + toleranceMs;
    const loopLimitMs = stalledAfterRetryPeriods * status.retryPeriodMs;
    if (status.believesLeading && status.lastRenewAgoMs !== null && status.lastRenewAgoMs > renewLimitMs) {
      problem =
        `this pod believes it leads election '${state.election}' but has not renewed it for ${Math.round(status.lastRenewAgoMs)} ms ` +
        `(more than leaseDurationMs ${status.leaseDurationMs} + health.toleranceMs ${toleranceMs}): its renew loop is stuck. ` +
        `It has stopped acting as leader; restart the pod.`;
    } else if (status.loopLateMs > loopLimitMs) {
      problem =
        `the elector of election '${state.election}' is ${Math.round(status.loopLateMs)} ms behind its schedule ` +
        `(more than health.stalledAfterRetryPeriods ${stalledAfterRetryPeriods} x retryPeriodMs ${status.retryPeriodMs}): its loop is stuck; restart the pod.`;
    }
  }
  return {
    election: state.election,
    healthy: problem === null,
    problem,
    identity: state.identity,
    isLeader: state.isLeader,
    leader: state.leader,
    term: state.term,
    // Whole milliseconds: the monotonic clock's fractions (1234.5678901) are noise in a health answer.
    lastRenewAgoMs: roundMs(status?.lastRenewAgoMs),
    loopLateMs: roundMs(status?.loopLateMs),
    lastApiError: status?.lastApiError ? { ...status.lastApiError, agoMs: Math.round(status.lastApiError.agoMs) } : null,
    pausedJobs,
  };
}

function roundMs(value: number | null | undefined): number | null {
  return value === null || value === undefined ? null : Math.round(value);
}
