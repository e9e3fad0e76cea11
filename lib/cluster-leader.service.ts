import { Injectable } from '@nestjs/common';
import { filter, take, type Observable, type Subscription } from 'rxjs';
import { ElectionRegistry } from './election.registry.js';
import { ShardedElectionError } from './errors/sharded-election.error.js';
import { UnknownElectionError } from './errors/unknown-election.error.js';
import type { JobCounters } from './gate/gated-job.js';
import { currentLeaderJob } from './gate/leader-job-context.storage.js';
import type { LeaderJobContext } from './interfaces/leader-job-context.interface.js';
import type { LeadershipState } from './interfaces/leadership-state.interface.js';
import type { ElectionState } from './leadership/election-state.js';
import { DEFAULT_ELECTION } from './leader-election.constants.js';
import { judgeElectionHealth, type ElectionHealth } from './observability/election-health.js';
import type { BackfillOptions, JobDescription, PauseOptions, RequestOutcome, ResumeOptions, RunNowOptions } from './interfaces/job-description.interface.js';
import { JobsControl } from './jobs.control.js';

/** Options of `ClusterLeaderService.waitForLeadership()`. */
export interface WaitForLeadershipOptions {
  /** @default 'default' */
  election?: string;
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Who leads, as this pod knows it. Every read is in memory and synchronous; the electors keep it
 * fresh in the background. Unknown leadership always reads as "not the leader".
 */
@Injectable()
export class ClusterLeaderService {
  private readonly control: JobsControl;

  constructor(private readonly registry: ElectionRegistry) {
    this.control = new JobsControl(registry);
  }

  /** This pod's identity, compared with the leader's name. */
  get identity(): string {
    return this.registry.options.identity;
  }

  /** True while this pod may act as the leader of the election; false when unknown. */
  isLeader(election: string = DEFAULT_ELECTION): boolean {
    return this.election(election).isLeader();
  }

  /** The leader this pod observes, or null when none is known. */
  leader(election: string = DEFAULT_ELECTION): string | null {
    return this.election(election).state.leader;
  }

  /**
   * The current term (the Lease's leaseTransitions); null if none. Not a fencing token: it restarts
   * at 0 when the Lease is re-created. A job's fencing token is `currentLeaderJob().fencingToken`.
   */
  term(election: string = DEFAULT_ELECTION): number | null {
    return this.election(election).state.term;
  }

  /** A snapshot of the election as this pod sees it. */
  state(election: string = DEFAULT_ELECTION): LeadershipState {
    const state = this.election(election);
    return { ...state.state, isLeader: state.isLeader() };
  }

  /** The leadership of one election: the current state at once, then every change. */
  changes(election: string = DEFAULT_ELECTION): Observable<LeadershipState> {
    return this.election(election).changes;
  }

  /** Resolves as soon as this pod leads the election (at once if it already does). */
  waitForLeadership({ election = DEFAULT_ELECTION, signal }: WaitForLeadershipOptions = {}): Promise<LeadershipState> {
    const state = this.election(election);
    return new Promise<LeadershipState>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let subscription: Subscription | undefined;
      const onAbort = () => {
        subscription?.unsubscribe();
        reject(signal!.reason);
      };
      // Listen before subscribing: the subscription may resolve synchronously (already leading).
      signal?.addEventListener('abort', onAbort, { once: true });
      subscription = state.changes.pipe(filter((current) => current.isLeader), take(1)).subscribe((current) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(current);
      });
    });
  }

  /** Inside a @LeaderOnly() job: its election, term, fencing token, fire time and AbortSignal. */
  currentJob(): LeaderJobContext | undefined {
    return currentLeaderJob();
  }

  /** How often each @LeaderOnly() job ran, was skipped, or failed in this process. */
  jobCounters(): Record<string, JobCounters> {
    return this.registry.gate.snapshot();
  }

  /**
   * Whether the election is healthy, with what a health check shows of it (identity, leader, term,
   * age of the last successful renew, last API error). Unhealthy only when restarting this pod
   * would help: a leader whose renew loop is stuck, or an elector that stopped stepping. A follower
   * is healthy. `nestjs-cluster-leader/terminus` serves this to @nestjs/terminus.
   */
  health(election: string = DEFAULT_ELECTION): ElectionHealth {
    const paused = this.control.jobs().filter((job) => job.election === election && job.paused !== null).map((job) => ({ job: job.key, by: job.paused!.by, note: job.paused!.note }));
    return judgeElectionHealth(this.state(election), this.registry.electorStatus.get(election)?.(), this.registry.options.observability.health, paused);
  }

  /**
   * Every @LeaderOnly() job of this app: its schedule and next fire times, whether it is paused
   * (by whom, when, why), where it runs now, and its last runs on any pod (the Lease backend keeps
   * them in the Lease, so every pod answers alike within one watch event).
   */
  jobs(): JobDescription[] {
    return this.control.jobs();
  }

  /**
   * Pauses a job on every pod (Lease backend), by its key or `ClassName.methodName`: its ticks are
   * skipped (reason `paused`) until resume(), across failovers. Resolves once the Lease says so.
   * @throws UnknownJobError naming the known jobs; JobControlError on another backend
   */
  pause(job: string, options?: PauseOptions): Promise<JobDescription> {
    return this.control.pause(job, options);
  }

  /**
   * Resumes a paused job; the ticks it missed are for its `missedRuns` policy, unless
   * `skipMissed` marks them done.
   */
  resume(job: string, options?: ResumeOptions): Promise<JobDescription> {
    return this.control.resume(job, options);
  }

  /**
   * Runs a job now, once, on whichever pod leads (from any pod, across handovers), and resolves
   * with how it went. Past `timeoutMs` it rejects with ControlRequestTimeoutError: the request is
   * not withdrawn and may still run.
   */
  runNow(job: string, options?: RunNowOptions): Promise<RequestOutcome> {
    return this.control.runNow(job, options);
  }

  /**
   * Runs a @Cron() job for each of its fire times in [from, to], once each, on the leader, oldest
   * first (`missedRuns: 'runOnce'`: one run standing for them all), bounded by `maxMissedRuns`.
   */
  backfill(job: string, options: BackfillOptions): Promise<RequestOutcome> {
    return this.control.backfill(job, options);
  }

  /** The names of the configured elections; an election split into shards is named by its shards'. */
  elections(): string[] {
    return [...this.registry.states.keys()];
  }

  /**
   * The shards of an election split by its `shards` option that this pod leads now, by their
   * election names (`<election>-shard-<i>`), in shard order. Each is an election of its own: ask
   * `isLeader()`, `state()` or `health()` about it by that name.
   * @throws UnknownElectionError for an election that is neither configured nor split
   */
  shards(election: string = DEFAULT_ELECTION): string[] {
    const group = this.registry.shardGroups.get(election);
    if (group === undefined) {
      if (this.registry.states.has(election)) return this.isLeader(election) ? [election] : [];
      throw new UnknownElectionError(election, this.elections());
    }
    return group.shards.filter((shard) => this.isLeader(shard));
  }

  private election(name: string): ElectionState {
    const state = this.registry.states.get(name);
    if (state === undefined) {
      const group = this.registry.shardGroups.get(name);
      if (group !== undefined) throw new ShardedElectionError(name, group.shards);
      throw new UnknownElectionError(name, this.elections());
    }
    return state;
  }
}
