import { Logger } from '@nestjs/common';
import type { V1Lease } from '@kubernetes/client-node';
import { HANDING_OVER, HANDING_OVER_SHARD, LEASE_NOT_OURS_TO_RELEASE, LEASE_NOT_RELEASED, LEASE_RELEASE_FAILED, LEASE_RELEASED } from '../../leader-election.messages.js';
import type { ElectionJobs } from '../leader-elector.interface.js';
import type { LeaseRounds, RoundsContext } from './lease-rounds.js';
import { withAnnotations } from './lease-control.js';
import { withLedger } from './lease-rounds.js';
import { LeaseApiError } from './resourcelock/lease-api.error.js';
import { withRecord, type LeaderElectionRecord } from './resourcelock/lease-record.js';

/** A release that meets a conflict re-reads and tries again, at most this many writes in all. */
const RELEASE_ATTEMPTS = 3;

/** What the release needs from the elector's loop. */
export interface ReleaseContext extends RoundsContext {
  readonly rounds: LeaseRounds;
  readonly jobs: ElectionJobs;
  /** Resolves once the round in flight (if any) has ended. */
  roundEnded(): Promise<void>;
  /** Plans the next round from what is known now. */
  replan(): void;
}

/**
 * Giving the Lease up: client-go's tryRelease on shutdown, and the handover a coordinated
 * election asks for. Both release only a record this process wrote in its current term, and only
 * once this election's jobs have finished: releasing while one still runs would let a follower
 * start it a second time.
 */
export class LeaseRelease {
  private readonly logger = new Logger('LeaderElection');

  constructor(private readonly context: ReleaseContext) {}

  /**
   * client-go's tryRelease: holder "", leaseDurationSeconds 1, so followers take over at once.
   * A 409 means our cached object is older than the server's (a renew whose answer was lost, or
   * one aborted by stop()): re-read, and release if the record is still this process's. All of it
   * within `budgetMs`, so shutdown time stays bounded.
   */
  async release(budgetMs: number): Promise<void> {
    const { clock, observation, rounds, ledger, control, lock, incarnation, state } = this.context;
    const deadline = clock.now() + budgetMs;
    let lease: V1Lease | null = observation.lease;
    let problem = 'no time left';
    for (let attempt = 0; attempt < RELEASE_ATTEMPTS; attempt++) {
      if (lease === null || !rounds.isOurs(lease)) {
        const holder = lease?.spec?.holderIdentity || null;
        this.logger.log(LEASE_NOT_OURS_TO_RELEASE(state.name, lock.describe(), holder));
        return;
      }
      const remaining = deadline - clock.now();
      if (remaining <= 0) break;
      const wallNow = clock.wallNow();
      const record: LeaderElectionRecord = {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: wallNow,
        renewTime: wallNow,
        leaseTransitions: rounds.ownTerm!.leaseTransitions,
      };
      // The release carries the ledger too (how the last claimed runs ended), and the history.
      const ledgerWrite = ledger.prepare(lease);
      const controlWrite = control.prepare(lease, { leading: true });
      try {
        await lock.update(withAnnotations(withLedger(withRecord(lease, record, { incarnation, keepCoordination: true, container: null }), ledgerWrite), controlWrite.edits), remaining);
        ledger.written(ledgerWrite);
        control.written(controlWrite);
        this.logger.log(LEASE_RELEASED(state.name, lock.describe()));
        return;
      } catch (error) {
        const apiError = LeaseApiError.from('update', error);
        problem = apiError.message;
        if (apiError.status === 404) return;
        if (apiError.status !== 409) break;
      }
      const left = deadline - clock.now();
      if (left <= 0) break;
      try {
        lease = await lock.get(left);
      } catch (error) {
        problem = LeaseApiError.from('get', error).message;
        break;
      }
    }
    this.logger.warn(LEASE_RELEASE_FAILED(state.name, lock.describe(), problem));
  }

  /**
   * Coordinated election's "end of term" names another holder: step down now, keep renewing
   * while this election's running jobs finish, then release (client-go only stops renewing and
   * lets the Lease expire; releasing after the drain hands over without that wait). If the jobs
   * do not finish in time, the Lease is left to expire instead, as on shutdown.
   */
  handOver(preferred: string): void {
    const { state, lock } = this.context;
    this.stepDown(HANDING_OVER(state.name, lock.describe(), preferred), `the Lease names ${preferred} as its preferred holder`);
  }

  /**
   * A shard this pod leads beyond its share, or asked for by a pod that leads fewer: hand it over
   * the same way (step down now, release once its jobs have finished).
   */
  handOverShard(why: string): void {
    const { rounds, state, lock } = this.context;
    if (!rounds.holding || rounds.handingOver || rounds.stopped) return;
    this.stepDown(HANDING_OVER_SHARD(state.name, lock.describe(), why), why);
  }

  private stepDown(line: string, reason: string): void {
    const { rounds, state, lock, observation, options } = this.context;
    rounds.handingOver = true;
    // No claim of this term may be made good from now on: this pod no longer starts runs.
    this.context.ledger.endTerm();
    this.logger.log(line);
    rounds.publish(reason);
    void this.context.jobs.drain().then(async (drained) => {
      if (rounds.stopped || !rounds.holding) return;
      if (!drained) {
        this.logger.warn(LEASE_NOT_RELEASED(state.name, lock.describe(), observation.leaseDurationMs));
        rounds.holding = false;
        return;
      }
      await this.context.roundEnded();
      if (!rounds.stopped && rounds.isOurs()) await this.release(options.requestTimeoutMs);
      rounds.holding = false;
      rounds.handingOver = false;
      this.context.replan();
    });
  }
}
