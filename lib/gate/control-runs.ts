import { Logger } from '@nestjs/common';
import type { ControlRequest, RequestResult } from '../control/control-record.js';
import type { JobControl } from '../control/job-control.interface.js';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import type { ElectionState } from '../leadership/election-state.js';
import { JOB_PAUSED, JOB_RESUMED, REQUEST_DROPPED, REQUEST_RAN } from '../control/control.messages.js';
import { CronFireTimes } from '../ledger/fire-times.js';
import type { RegisteredJob } from './gated-job.js';
import type { JobGate } from './job-gate.js';

/** The most fire times one backfill runs (its request is refused beyond: see the service). */
export const MAX_BACKFILL_RUNS = 1_000;

/**
 * The leader's side of the control requests (issue 14): each request waiting in the Lease (run
 * now, backfill) is taken with a conditional write of this pod's term before anything runs, so
 * it runs once across handovers; then its runs go through the gate like any run, and how it went
 * is recorded for whoever asked. A backfill records its progress before each fire time, so a new
 * leader goes on after the last one taken. Requests run one at a time per election, each after
 * the job's run in progress (if any) has finished.
 */
export class ControlRuns {
  private readonly logger = new Logger('LeaderOnly');
  private readonly pumping = new Set<string>();
  private readonly unsubscribers: (() => void)[] = [];

  constructor(private readonly gate: JobGate) {}

  start(elections: ReadonlyMap<string, ElectionState>): void {
    for (const state of elections.values()) {
      const control = state.control;
      if (control === undefined) continue;
      this.unsubscribers.push(control.onChange(() => {
        this.notePauses(state, control);
        void this.pump(state, control);
      }));
      this.unsubscribers.push(state.onTermStarted(() => {
        this.notePauses(state, control);
        void this.pump(state, control);
      }));
      void this.pump(state, control);
    }
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
  }

  /**
   * One line per pause and resume, said by the leader, whoever asked (a pod, kubectl-leader,
   * `kubectl annotate`): the pause's own `by` names them. A new leader says which jobs it finds paused.
   */
  private notePauses(state: ElectionState, control: JobControl): void {
    const leading = state.currentJobContext() !== undefined;
    const seen = this.pausesSeen.get(state.name) ?? new Map<string, string>();
    const now = new Map<string, string>();
    for (const entry of this.gate.jobs()) {
      if (entry.job.election !== state.name) continue;
      const pause = control.pauseOf(entry.policy.ledgerKey);
      if (pause === undefined) continue;
      const said = `${pause.by ?? ''}\u0000${pause.note}`;
      now.set(entry.policy.ledgerKey, said);
      if (leading && seen.get(entry.policy.ledgerKey) !== said) this.logger.log(JOB_PAUSED(state.name, entry.policy.ledgerKey, pause.by, pause.note));
    }
    if (leading) for (const key of seen.keys()) if (!now.has(key)) this.logger.log(JOB_RESUMED(state.name, key));
    // A follower keeps nothing: when it starts leading, it says which jobs it finds paused.
    this.pausesSeen.set(state.name, leading ? now : new Map());
  }

  private readonly pausesSeen = new Map<string, Map<string, string>>();

  private async pump(state: ElectionState, control: JobControl): Promise<void> {
    if (this.pumping.has(state.name)) return;
    this.pumping.add(state.name);
    try {
      for (;;) {
        const context = state.currentJobContext();
        if (context === undefined) return;
        const unfinished = this.unfinished(control, context);
        if (unfinished !== undefined) {
          await this.goOn(state, control, context, unfinished);
          continue;
        }
        const request = control.requests()[0];
        if (request === undefined) return;
        if (!(await this.carryOut(state, control, context, request))) return;
      }
    } finally {
      this.pumping.delete(state.name);
    }
  }

  /** Takes the request, then runs it; false when this pod could not take it (its term ended). */
  private async carryOut(state: ElectionState, control: JobControl, context: LeaderJobContext, request: ControlRequest): Promise<boolean> {
    const entry = this.entryOf(state.name, request.job);
    const base = { id: request.id, job: request.job, kind: request.kind, pod: state.identity, term: context.term, by: request.by, startedAt: Date.now() };
    if (entry === undefined || (request.kind === 'backfill' && entry.policy.schedule.kind !== 'cron')) {
      const reason = entry === undefined ? `no job has the key "${request.job}" on the leader (${state.identity})` : 'a backfill needs a @Cron() job';
      const dropped: RequestResult = { ...base, state: 'dropped', endedAt: Date.now(), reason };
      if (!(await control.take(request, dropped))) return false;
      this.logger.warn(REQUEST_DROPPED(request, reason));
      return true;
    }
    if (request.kind === 'run') {
      const running: RequestResult = { ...base, state: 'running', fireTime: request.at };
      if (!(await control.take(request, running))) return false;
      await this.runOnce(state, control, context, entry, running);
      return true;
    }
    const fireTimes = backfillFireTimes(entry, request.from!, request.to!);
    const started: RequestResult = { ...base, state: 'running', from: request.from, to: request.to, total: fireTimes.length, done: 0 };
    if (!(await control.take(request, started))) return false;
    await this.backfill(state, control, context, entry, started, fireTimes);
    return true;
  }

  /** A request some leader took and did not finish: a run is interrupted, a backfill goes on. */
  private unfinished(control: JobControl, context: LeaderJobContext): RequestResult | undefined {
    for (const request of control.unfinished()) {
      if (request.term !== context.term || request.kind === 'backfill') return request;
    }
    return undefined;
  }

  private async goOn(state: ElectionState, control: JobControl, context: LeaderJobContext, result: RequestResult): Promise<void> {
    const entry = this.entryOf(state.name, result.job);
    if (result.kind === 'run' || entry === undefined) {
      control.record({ ...result, state: 'interrupted', endedAt: Date.now(), reason: `its leader (${result.pod}, term ${result.term}) stopped before it ended` });
      return;
    }
    const fireTimes = backfillFireTimes(entry, result.from!, result.to!);
    // The fire time in progress when its leader stopped: rerun only if the job says so.
    const after = entry.policy.interruptedRun === 'rerun' ? (result.fireTime ?? result.from! - 1) - 1 : (result.fireTime ?? result.from! - 1);
    const left = fireTimes.filter((fireTime) => fireTime > after);
    await this.backfill(state, control, context, entry, { ...result, pod: state.identity, term: context.term }, left);
  }

  private async runOnce(state: ElectionState, control: JobControl, context: LeaderJobContext, entry: RegisteredJob, result: RequestResult): Promise<void> {
    await this.gate.idle(entry);
    if (state.currentJobContext() !== context) {
      control.record({ ...result, state: 'interrupted', endedAt: Date.now(), reason: 'this pod stopped leading before it started' });
      return;
    }
    const succeeded = await this.gate.runFor(entry, { ...context, scheduledAt: new Date(result.fireTime!), catchUp: false, kind: 'manual', missedFireTimes: [] }, {
      scheduledTime: result.fireTime!,
      catchUp: false,
      fencingToken: context.fencingToken ?? undefined,
      kind: 'manual',
    });
    control.record({ ...result, state: succeeded ? 'succeeded' : 'failed', endedAt: Date.now() });
    this.logger.log(REQUEST_RAN(result, succeeded, result.by ?? null));
  }

  private async backfill(
    state: ElectionState,
    control: JobControl,
    context: LeaderJobContext,
    entry: RegisteredJob,
    result: RequestResult,
    fireTimes: readonly number[],
  ): Promise<void> {
    let current = result;
    let succeeded = true;
    // missedRuns 'runOnce': one run stands for the whole range, as for a catch-up.
    const runs = entry.policy.missedRuns === 'runOnce' && fireTimes.length > 0 ? [fireTimes.at(-1)!] : fireTimes;
    for (const fireTime of runs) {
      await this.gate.idle(entry);
      if (state.currentJobContext() !== context) return; // the next leader goes on after the last one taken
      const next: RequestResult = { ...current, fireTime };
      if (!(await control.advance(next))) return;
      current = next;
      const covers = runs.length === 1 && fireTimes.length > 1 ? fireTimes.slice(0, -1).map((time) => new Date(time)) : [];
      const ok = await this.gate.runFor(entry, { ...context, scheduledAt: new Date(fireTime), catchUp: true, kind: 'backfill', missedFireTimes: covers }, {
        scheduledTime: fireTime,
        catchUp: true,
        coversFireTimes: covers.map((time) => time.getTime()),
        fencingToken: context.fencingToken ?? undefined,
        kind: 'backfill',
      });
      succeeded &&= ok;
      current = { ...current, done: (current.done ?? 0) + (runs.length === 1 ? fireTimes.length : 1) };
      control.record(current);
    }
    const ended: RequestResult = { ...current, state: succeeded ? 'succeeded' : 'failed', endedAt: Date.now() };
    control.record(ended);
    this.logger.log(REQUEST_RAN(ended, succeeded, ended.by ?? null));
  }

  private entryOf(election: string, key: string): RegisteredJob | undefined {
    for (const entry of this.gate.jobs()) if (entry.job.election === election && entry.policy.ledgerKey === key) return entry;
    return undefined;
  }
}

/** The job's fire times in [from, to], oldest first, at most MAX_BACKFILL_RUNS. */
export function backfillFireTimes(entry: RegisteredJob, from: number, to: number): number[] {
  const fireTimes = entry.fireTimes ?? (entry.policy.schedule.kind === 'cron' ? new CronFireTimes(entry.policy.schedule) : undefined);
  return fireTimes === undefined ? [] : fireTimes.between(from - 1, to, MAX_BACKFILL_RUNS).fireTimes;
}
