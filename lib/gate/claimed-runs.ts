import { Logger } from '@nestjs/common';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import type { ElectionState } from '../leadership/election-state.js';
import { TICKS_DROPPED, TICK_INTERRUPTED } from '../leader-election.messages.js';
import type { TickState } from '../ledger/ledger-record.js';
import { planMisfires, type MisfirePlan, type PlanTrigger } from '../ledger/misfire-plan.js';
import type { ElectionEvents, JobRunLedger } from '../leadership/election-events.js';
import type { RegisteredJob } from './gated-job.js';

/** What the gate lends ClaimedRuns: its running counts, and a run of the method. */
export interface GateHooks {
  started(entry: RegisteredJob): void;
  finished(entry: RegisteredJob): void;
  invoke(entry: RegisteredJob, self: unknown, args: unknown[], context: LeaderJobContext, settled: (succeeded: boolean) => void, ledger?: JobRunLedger): unknown;
}

/**
 * The runs of jobs that claim their ticks in the election's ledger: each scheduled fire time runs
 * once across the cluster. On a tick (or when this pod starts leading), the misfire planner says
 * from the ledger alone what to run; the claim of the latest fire time is written to the Lease
 * with one conditional write before anything runs, and a claim that fails runs nothing. When the
 * runs end, how they ended is recorded with the next write. Every log line here is said once per
 * fire time, never once per follower tick.
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
  tick(entry: RegisteredJob, state: ElectionState, context: LeaderJobContext, self: unknown, args: unknown[]): Promise<void> {
    return this.claimAndRun(entry, state, context, self, args, 'tick');
  }

  /** This pod began a term: catch up on missed fire times, as the job's policy says. */
  leadershipStarted(entry: RegisteredJob, state: ElectionState, context: LeaderJobContext): void {
    // A job whose cron is switched off must not be caught up by the gate behind the scheduler's back.
    if (entry.policy.schedule.kind === 'cron' && entry.policy.schedule.disabled) return;
    // After the state change is out: the scheduler and the service see the new term first.
    setImmediate(() => {
      if (state.currentJobContext() !== context) return;
      void this.claimAndRun(entry, state, context, entry.instance, [], 'leadershipStarted');
    });
  }

  private async claimAndRun(
    entry: RegisteredJob,
    state: ElectionState,
    context: LeaderJobContext,
    self: unknown,
    args: unknown[],
    trigger: PlanTrigger,
  ): Promise<void> {
    const ledger = state.ledger!;
    const { policy, job } = entry;
    const plan = planMisfires({ policy, entry: ledger.entry(policy.ledgerKey), trigger, nowMs: Date.now(), runningHere: entry.running > 0 });
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
    const term = context.term ?? 0;
    // The claim is part of the run: shutdown waits for it as for the job.
    this.gate.started(entry);
    try {
      const claimed = await ledger.claim(policy.ledgerKey, { fireTime: plan.claim, state: 'claimed', term });
      if (!claimed || state.currentJobContext() !== context) {
        entry.counters.skipped++;
        // The elector has logged the fault itself, once; the tick is counted, not logged.
        if (trigger === 'tick') this.events.tickSkipped(job, 'claimed-elsewhere');
        return;
      }
      const catchUps = plan.runs.reduce((n, run) => n + (run.kind === 'scheduled' ? 0 : 1 + run.covers.length), 0);
      if (catchUps > 0) this.events.ticksCaughtUp(job, catchUps);
      let outcome: TickState = 'succeeded';
      for (const run of plan.runs) {
        if (context.signal.aborted) break;
        const runContext: LeaderJobContext = {
          ...context,
          scheduledAt: new Date(run.fireTime),
          catchUp: run.kind !== 'scheduled',
          missedFireTimes: run.covers.map((fireTime) => new Date(fireTime)),
        };
        let succeeded = true;
        await this.gate.invoke(entry, self, args, runContext, (ok) => (succeeded = ok), {
          scheduledTime: run.fireTime,
          catchUp: runContext.catchUp,
          coversFireTimes: run.covers,
          fencingToken: context.fencingToken ?? undefined,
        });
        if (!succeeded) outcome = 'failed';
      }
      ledger.complete(policy.ledgerKey, { fireTime: plan.claim, state: outcome, term });
    } finally {
      this.gate.finished(entry);
    }
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
      this.logger.warn(TICK_INTERRUPTED(job, new Date(interrupted.fireTime), interrupted.term, interrupted.action));
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
