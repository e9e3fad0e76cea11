import { Logger } from '@nestjs/common';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import type { ElectionState } from '../leadership/election-state.js';
import type { ElectionEvents, JobRunLedger } from '../leadership/election-events.js';
import { TICKS_DROPPED, TICK_INTERRUPTED, WINDOW_INTERRUPTED } from '../leader-election.messages.js';
import { isLaterEntry, type LedgerEntry } from '../ledger/ledger-record.js';
import { planMisfires, type MisfirePlan, type PlannedRun, type PlanTrigger } from '../ledger/misfire-plan.js';
import type { ClaimAhead } from '../ledger/tick-ledger.interface.js';
import type { RegisteredJob } from './gated-job.js';

/**
 * How far back from the horizon a window's end is looked for: a bound on the search. A fire time
 * inside the horizon is always found (it is far shorter); none found means none to claim ahead.
 */
const AHEAD_LOOK_BACK_MS = 10 * 60_000;

/** What the gate lends ClaimedRuns: its running counts, and a run of the method. */
export interface GateHooks {
  started(entry: RegisteredJob): void;
  finished(entry: RegisteredJob): void;
  invoke(entry: RegisteredJob, self: unknown, args: unknown[], context: LeaderJobContext, settled: (succeeded: boolean) => void, ledger?: JobRunLedger): unknown;
}

/**
 * The runs of jobs that claim their ticks in the election's ledger: each scheduled fire time runs
 * once across the cluster. On a tick (or when this pod starts leading), the misfire planner says
 * from the ledger alone what to run; each run's fire time is claimed in the Lease, with a
 * conditional write, just before it starts, so a catch-up cut short by a lost leadership leaves
 * exactly the fire times it did not run to the next leader. A claim that fails runs nothing.
 * When a run ends, how it ended is recorded with the next write. Every log line here is said
 * once per fire time, never once per follower tick.
 */
export class ClaimedRuns {
  /** What has been said already, so each dropped group or interruption is logged once. */
  private readonly said = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly events: ElectionEvents,
    private readonly gate: GateHooks,
  ) {}

  /** A tick on the leader. Resolves (never rejects) when its runs are over. */
  tick(entry: RegisteredJob, state: ElectionState, context: LeaderJobContext, self: unknown, args: unknown[], firedAt = Date.now()): Promise<void> {
    return this.claimAndRun(entry, state, context, self, args, 'tick', firedAt);
  }

  /** This pod began a term: catch up on missed fire times, as the job's policy says. */
  leadershipStarted(entry: RegisteredJob, state: ElectionState, context: LeaderJobContext): void {
    // A job whose cron is switched off, or was stopped at run time, must not be caught up by the
    // gate behind the scheduler's back; nor a paused one (its resume decides about the gap).
    if (entry.policy.schedule.kind === 'cron' && entry.policy.schedule.disabled) return;
    if (state.control?.pauseOf(entry.policy.ledgerKey) !== undefined) return;
    // After the state change is out: the scheduler and the service see the new term first.
    setImmediate(() => {
      if (state.currentJobContext() !== context || entry.scheduled?.() === false) return;
      void this.claimAndRun(entry, state, context, entry.instance, [], 'leadershipStarted', Date.now());
    });
  }

  private async claimAndRun(
    entry: RegisteredJob,
    state: ElectionState,
    context: LeaderJobContext,
    self: unknown,
    args: unknown[],
    trigger: PlanTrigger,
    nowMs: number,
  ): Promise<void> {
    const ledger = state.ledger!;
    const { policy, job } = entry;
    const term = context.term ?? 0;
    const stored = ledger.entry(policy.ledgerKey);
    const planEntry = this.plannedEntry(entry, stored, term);
    const plan = planMisfires({
      policy,
      entry: planEntry,
      trigger,
      nowMs,
      runningHere: entry.running > 0,
      sinceLastClaimMs: ledger.sinceClaimMs(policy.ledgerKey),
      claimNeverRan: planEntry === stored && ledger.claimNeverRan(policy.ledgerKey),
    });
    this.report(job, plan);
    if (plan.claim === undefined) {
      if (trigger === 'tick') {
        entry.counters.skipped++;
        // Counted and summarised once per change of leadership, never logged per tick (Nest's
        // default logger prints every level).
        this.events.tickSkipped(job, plan.skipped === 'alreadyClaimed' || plan.skipped === 'ranRecently' ? 'claimed-elsewhere' : 'misfire');
      }
      return;
    }
    // The next plan of this term starts after these fire times, though they are claimed one by one.
    const planned = { term, fireTime: plan.claim };
    if (entry.planned === undefined || entry.planned.term !== term || plan.claim > entry.planned.fireTime) entry.planned = planned;
    // The claims are part of the runs: shutdown waits for them as for the job.
    this.gate.started(entry);
    let claimedAll = false;
    try {
      claimedAll = await this.runEach(entry, state, context, self, args, plan.runs, trigger);
    } finally {
      // Cut short: what this plan did not claim is for the next plan (or the next leader) to judge.
      if (!claimedAll && entry.planned === planned) entry.planned = undefined;
      this.gate.finished(entry);
    }
  }

  /** Claims and runs each planned run in turn; true when every one was claimed. */
  private async runEach(
    entry: RegisteredJob,
    state: ElectionState,
    context: LeaderJobContext,
    self: unknown,
    args: unknown[],
    runs: readonly PlannedRun[],
    trigger: PlanTrigger,
  ): Promise<boolean> {
    const ledger = state.ledger!;
    const { policy, job } = entry;
    const term = context.term ?? 0;
    for (const [index, run] of runs.entries()) {
      // Leadership ended (or moved to another term): the rest are the next leader's to judge.
      if (state.currentJobContext() !== context) return false;
      const notAfterMs = policy.startingDeadlineMs === undefined ? Number.POSITIVE_INFINITY : run.scheduledAt + policy.startingDeadlineMs;
      const claimed = await ledger.claim(policy.ledgerKey, { fireTime: run.fireTime, state: 'claimed', term }, notAfterMs, this.ahead(entry, state));
      if (!claimed || state.currentJobContext() !== context) {
        if (index === 0) {
          entry.counters.skipped++;
          // The elector has logged the fault itself, once; the tick is counted, not logged.
          if (trigger === 'tick') this.events.tickSkipped(job, 'claimed-elsewhere');
        }
        return false;
      }
      if (run.kind !== 'scheduled') this.events.ticksCaughtUp(job, 1 + run.covers.length);
      const runContext: LeaderJobContext = {
        ...context,
        scheduledAt: new Date(run.scheduledAt),
        catchUp: run.kind !== 'scheduled',
        kind: run.kind,
        missedFireTimes: run.covers.map((fireTime) => new Date(fireTime)),
      };
      let succeeded = true;
      await this.gate.invoke(entry, self, args, runContext, (ok) => (succeeded = ok), {
        scheduledTime: run.scheduledAt,
        catchUp: runContext.catchUp,
        coversFireTimes: run.covers,
        fencingToken: context.fencingToken ?? undefined,
        kind: run.kind,
      });
      ledger.complete(policy.ledgerKey, { fireTime: run.fireTime, state: succeeded ? 'succeeded' : 'failed', term });
    }
    return true;
  }

  /**
   * How far a @Cron() job may be claimed ahead (see claim-windows.ts): up to its last fire time
   * before the window's end, while its cron runs and it is not paused. @Interval() ticks have no
   * fire times to claim ahead: each claims its own.
   */
  private ahead(entry: RegisteredJob, state: ElectionState): ClaimAhead | undefined {
    const { fireTimes, policy } = entry;
    if (fireTimes === undefined || policy.schedule.kind !== 'cron') return undefined;
    const schedule = policy.schedule;
    return (untilMs) => {
      if (schedule.disabled || entry.scheduled?.() === false || state.control?.pauseOf(policy.ledgerKey) !== undefined) return undefined;
      return fireTimes.previous(untilMs + 1, untilMs - AHEAD_LOOK_BACK_MS);
    };
  }

  /** The ledger's entry, or the last fire time a plan of this term has taken on, if later. */
  private plannedEntry(entry: RegisteredJob, stored: LedgerEntry | undefined, term: number): LedgerEntry | undefined {
    const planned = entry.planned;
    if (planned === undefined || planned.term !== term) return stored;
    const reserved: LedgerEntry = { fireTime: planned.fireTime, state: 'claimed', term };
    return stored === undefined || isLaterEntry(reserved, stored) ? reserved : stored;
  }

  /** Fire times that will never run, and claims their leader never finished: once each. */
  private report(gatedJob: RegisteredJob['job'], plan: MisfirePlan): void {
    const job = gatedJob.name;
    for (const group of plan.dropped) {
      if (!this.once(`dropped:${job}:${group.reason}:${group.fireTimes[0]}`)) continue;
      this.events.ticksMissed(gatedJob, group.fireTimes.length);
      this.logger.warn(TICKS_DROPPED(job, group.reason, group.fireTimes.map((t) => new Date(t)), group.truncated));
    }
    const interrupted = plan.interrupted;
    if (interrupted !== undefined && this.once(`interrupted:${job}:${interrupted.fireTime}:${interrupted.term}`)) {
      const { window } = interrupted;
      this.logger.warn(
        window === undefined
          ? TICK_INTERRUPTED(job, new Date(interrupted.fireTime), interrupted.term, interrupted.action)
          : WINDOW_INTERRUPTED(job, window.fireTimes.map((time) => new Date(time)), window.truncated, interrupted.term, interrupted.action),
      );
    }
  }

  private once(key: string): boolean {
    if (this.said.has(key)) return false;
    // Bounded: a long-lived leader of a frequent job must not keep every key it ever logged.
    if (this.said.size > 1_000) this.said.clear();
    this.said.add(key);
    return true;
  }
}
