import { Inject, Injectable } from '@nestjs/common';
import { JobGate } from './gate/job-gate.js';
import type { LeaderElectionModuleOptions } from './interfaces/leader-election-options.interface.js';
import { ElectionState } from './leadership/election-state.js';
import { LEADER_ELECTION_MODULE_OPTIONS } from './leader-election.module-definition.js';
import { resolveOptions, type ResolvedOptions } from './options/resolve-options.js';

/**
 * The application's elections, built once from the validated options: one ElectionState per
 * election, and the gate that every @LeaderOnly() job of this application goes through.
 * Constructing it validates the options, so a bad option stops the app before it starts.
 */
@Injectable()
export class ElectionRegistry {
  readonly options: ResolvedOptions;
  readonly states: ReadonlyMap<string, ElectionState>;
  readonly gate: JobGate;

  constructor(@Inject(LEADER_ELECTION_MODULE_OPTIONS) options: LeaderElectionModuleOptions) {
    this.options = resolveOptions(options);
    this.states = new Map(
      this.options.elections.map((election) => [
        election.name,
        new ElectionState(election.name, election.identity, election.callbacks),
      ]),
    );
    this.gate = new JobGate(this.states);
  }
}
