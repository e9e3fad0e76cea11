import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { createElector } from './electors/create-elector.js';
import type { LeaderElector } from './electors/leader-elector.interface.js';
import { ElectionRegistry } from './election.registry.js';
import { AUTO_BACKEND_CHOSEN, STANDALONE_IN_KUBERNETES } from './leader-election.messages.js';

/**
 * Owns the electors' lifecycle. Start: one elector per election, once the app has booted.
 * Shutdown, in the order that keeps two pods from running a job at once:
 *   1. onModuleDestroy: no election acquires anything from now on, and every election stops
 *      leading, so no new gated job starts, and each running job's AbortSignal fires;
 *   2. beforeApplicationShutdown: wait (at most drainTimeoutMs) for the running gated jobs to
 *      finish; then stop the electors: an election whose jobs finished releases its Lease so a
 *      follower takes over at once; one whose jobs still run does not, and its Lease expires.
 */
@Injectable()
export class LeaderElectionOrchestrator
  implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown
{
  private readonly logger = new Logger('LeaderElection');
  private electors: { election: string; elector: LeaderElector }[] = [];

  constructor(private readonly registry: ElectionRegistry) {}

  onApplicationBootstrap(): void {
    for (const election of this.registry.options.elections) {
      if (election.autoReason !== undefined) {
        this.logger.log(AUTO_BACKEND_CHOSEN(election.name, election.backend, election.autoReason));
      } else if (election.backend === 'standalone' && this.registry.options.insideKubernetes) {
        this.logger.warn(STANDALONE_IN_KUBERNETES(election.name));
      }
      const { gate, options } = this.registry;
      const jobs = { drain: async () => Object.keys(await gate.drain(options.drainTimeoutMs, [election.name])).length === 0 };
      const elector = createElector(election, this.registry.states.get(election.name)!, jobs);
      this.electors.push({ election: election.name, elector });
      elector.start();
    }
  }

  onModuleDestroy(): void {
    for (const { elector } of this.electors) elector.stopCampaigning();
    for (const state of this.registry.states.values()) state.close();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const stillRunning = await this.registry.gate.drain(this.registry.options.drainTimeoutMs);
    const electors = this.electors;
    this.electors = [];
    await Promise.all(electors.map(({ election, elector }) => elector.stop({ release: !(election in stillRunning) })));
  }
}
