import type { Logger } from '@nestjs/common';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import type { ElectionEvents } from '../leadership/election-events.js';
import { JOB_OVERLAP_SKIPPED, JOB_RUN_CANCELLED } from '../leader-election.messages.js';
import type { KeptTick, RegisteredJob } from './gated-job.js';

/**
 * A tick that comes while the job's previous run still runs on this pod (its `overlap` option):
 * - `'skip'`: not run (counted; logged once per run in progress);
 * - `'bufferOne'`: kept, and run as soon as the runs in progress end; later ticks meanwhile are
 *   skipped (one is kept, never a queue);
 * - `'cancelOther'`: the run in progress is aborted through its own AbortSignal (not the term's:
 *   the other jobs keep running), and the new tick is kept, to run once it has stopped;
 * - `'allow'`: not handled here; both run.
 * A kept tick runs for the time it came (its fire time is that tick's, not the later one's).
 */
export class OverlappingTicks {
  constructor(
    private readonly logger: Logger,
    private readonly events: ElectionEvents,
  ) {}

  /** A tick while a run is in progress: true when it was handled (skipped, or kept for later). */
  onTick(entry: RegisteredJob, self: unknown, args: unknown[]): boolean {
    const { overlap } = entry.policy;
    if (overlap === 'allow') return false;
    if (overlap === 'bufferOne' && entry.kept === undefined) {
      entry.kept = { self, args, firedAt: Date.now() };
      return true;
    }
    if (overlap === 'cancelOther') {
      if (entry.kept !== undefined) this.skipped(entry); // replaced by the newer tick
      entry.kept = { self, args, firedAt: Date.now() };
      for (const controller of entry.cancellers) {
        if (!controller.signal.aborted) controller.abort(new Error(JOB_RUN_CANCELLED(entry.job.name)));
      }
      return true;
    }
    this.skipped(entry);
    if (!entry.overlapLogged && overlap === 'skip') this.logger.warn(JOB_OVERLAP_SKIPPED(entry.job.name));
    entry.overlapLogged = true;
    return true;
  }

  /** The job's runs have all ended: the tick kept for then, if any. */
  takeKept(entry: RegisteredJob): KeptTick | undefined {
    const kept = entry.kept;
    entry.kept = undefined;
    return kept;
  }

  /**
   * The signal of a run of a `'cancelOther'` job: the term's, which also aborts when a newer tick
   * replaces the run. `done` forgets it once the run ended.
   */
  cancellable(entry: RegisteredJob, context: LeaderJobContext): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    entry.cancellers.add(controller);
    return { signal: AbortSignal.any([context.signal, controller.signal]), done: () => entry.cancellers.delete(controller) };
  }

  private skipped(entry: RegisteredJob): void {
    entry.counters.skipped++;
    this.events.tickSkipped(entry.job, 'overlap');
  }
}
