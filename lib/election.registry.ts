import { Inject, Injectable } from '@nestjs/common';
import { ControlRuns } from './gate/control-runs.js';
import { JobGate } from './gate/job-gate.js';
import { RunHistory } from './gate/run-history.js';
import type { LeaderElectionModuleOptions } from './interfaces/leader-election-options.interface.js';
import { ElectionState } from './leadership/election-state.js';
import { monotonicNow } from './leadership/monotonic-clock.js';
import type { ElectorStatus } from './electors/leader-elector.interface.js';
import { ElectionEvents } from './leadership/election-events.js';
import { SkippedTicksSummary } from './observability/skipped-ticks.summary.js';
import { LEADER_ELECTION_MODULE_OPTIONS } from './leader-election.module-definition.js';
import { resolveOptions, type ResolvedOptions, type ResolvedShardGroup } from './options/resolve-options.js';
import { LeaderOnlySetupError } from './errors/leader-only-setup.error.js';
import type { GatedJob } from './gate/gated-job.js';
import { SHARD_PIN_INVALID } from './leader-election.messages.js';
import { shardOfJob } from './ledger/shard-of-job.js';

/**
 * The application's elections, built once from the validated options: one ElectionState per
 * election, and the gate that every @LeaderOnly() job of this application goes through.
 * Constructing it validates the options, so a bad option stops the app before it starts (the
 * Lease elections' kubeconfigs are loaded next, with the Lease backend: lease-backend.loader.ts).
 */
@Injectable()
export class ElectionRegistry {
  readonly options: ResolvedOptions;
  readonly states: ReadonlyMap<string, ElectionState>;
  readonly gate: JobGate;
  /** The leader's side of the control requests (run now, backfill) from any pod. */
  readonly controlRuns: ControlRuns;
  /** Where the core reports what happens, for metrics, traces and the skipped-ticks summary. */
  readonly events = new ElectionEvents();
  /** The elections split into shards, by the name their jobs give. */
  readonly shardGroups: ReadonlyMap<string, ResolvedShardGroup>;
  /** Each running elector's own status (for health), by election; filled by the orchestrator. */
  readonly electorStatus = new Map<string, () => ElectorStatus | undefined>();

  constructor(@Inject(LEADER_ELECTION_MODULE_OPTIONS) options: LeaderElectionModuleOptions) {
    this.options = resolveOptions(options);
    this.states = new Map(
      this.options.elections.map((election) => [
        election.name,
        new ElectionState(election.name, election.identity, election.callbacks, monotonicNow, this.events),
      ]),
    );
    this.shardGroups = new Map(this.options.shardGroups.map((group) => [group.name, group]));
    this.gate = new JobGate(this.states, this.events);
    this.controlRuns = new ControlRuns(this.gate);
    this.events.subscribe(new SkippedTicksSummary());
    // Each job's last runs, in the Lease: only where an election keeps a control state.
    if (this.options.elections.some((election) => election.backend === 'lease')) this.events.subscribe(new RunHistory(this.gate, this.states));
  }

  /** The elections a job may name: every election, a split one by its own name. */
  electionNames(): string[] {
    return [...this.options.elections.filter((election) => election.shard === undefined).map((election) => election.name), ...this.shardGroups.keys()];
  }

  hasElection(name: string): boolean {
    return this.states.has(name) || this.shardGroups.has(name);
  }

  /**
   * The election that runs a job: the one it names, or for an election split into shards, the
   * shard its `shard` option pins it to, else the shard its ledger key hashes to.
   * @throws LeaderOnlySetupError for a pin to a shard that does not exist
   */
  electionOfJob(job: GatedJob, ledgerKey: string): string {
    const group = this.shardGroups.get(job.election);
    const pin = job.options.shard;
    // Unsplit only because this backend leads everything here: a pin that would fit is fine.
    const count = group?.shards.length ?? this.options.shardsNotInForce.find((entry) => entry.election === job.election)?.shards ?? 1;
    const pinFits = typeof pin === 'number' && Number.isSafeInteger(pin) && pin >= 0 && pin < count && count > 1;
    if (pin !== undefined && !pinFits) throw new LeaderOnlySetupError(SHARD_PIN_INVALID(job.name, job.election, pin, count));
    if (group === undefined) return job.election;
    return group.shards[pin ?? shardOfJob(ledgerKey, count)];
  }
}
