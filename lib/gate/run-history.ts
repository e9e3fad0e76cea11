import type { RunRecord } from '../control/control-record.js';
import type { ElectionEventListener, JobRun } from '../leadership/election-events.js';
import type { ElectionState } from '../leadership/election-state.js';
import type { JobGate } from './job-gate.js';

/**
 * Each job's last runs, kept in its election's control state (the Lease) so that every pod, and
 * kubectl, can tell which pod ran a tick, when, and how it ended: a listener of the gate's runs,
 * recording one when it starts and again when it ends. Installed only for elections that keep a
 * control state (the Lease backend); written with the leader's next write, never a write of its own.
 */
export class RunHistory implements ElectionEventListener {
  constructor(
    private readonly gate: JobGate,
    private readonly states: ReadonlyMap<string, ElectionState>,
  ) {}

  jobStarted(run: JobRun): void {
    const record = this.recordOf(run);
    if (record !== undefined) record.control.recordRun(record.key, record.run);
  }

  jobFinished(run: JobRun): void {
    const record = this.recordOf(run);
    if (record === undefined) return;
    const outcome = run.outcome === 'failed' ? 'failed' : 'succeeded';
    record.control.recordRun(record.key, { ...record.run, endedAt: run.startedAtWall + Math.round(run.durationMs), outcome });
  }

  private recordOf(run: JobRun) {
    const state = this.states.get(run.job.election);
    const control = state?.control;
    const entry = this.gate.registeredJob(run.job);
    if (state === undefined || control === undefined || entry === undefined) return undefined;
    const record: RunRecord = {
      fireTime: run.ledger?.scheduledTime ?? run.startedAtWall,
      pod: state.identity,
      term: run.term,
      startedAt: run.startedAtWall,
      kind: run.ledger?.kind ?? 'scheduled',
    };
    return { control, key: entry.policy.ledgerKey, run: record };
  }
}
