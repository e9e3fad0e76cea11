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
import { SidecarApiServer } from './sidecar-api/sidecar-api.server.js';

/**
 * Owns the electors' lifecycle. Start: one elector per election, once the app has booted.
 * Shutdown, in the order that keeps two pods from running a job at once:
 *   1. onModuleDestroy: every election stops leading here, so no new gated job starts, and each
 *      running job's AbortSignal fires;
 *   2. beforeApplicationShutdown: wait (bounded) for the running gated jobs to finish, and only
 *      then stop the electors, which releases a held Lease so a follower takes over at once.
 * The drop-in sidecar answer (`serveSidecarApi`) listens before any elector starts, so a port in
 * use stops the app before it campaigns, and closes last, after the Lease is released.
 */
@Injectable()
export class LeaderElectionOrchestrator
  implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown
{
  private readonly logger = new Logger('LeaderElection');
  private electors: LeaderElector[] = [];
  private readonly sidecarApi: SidecarApiServer | undefined;

  constructor(private readonly registry: ElectionRegistry) {
    this.sidecarApi = SidecarApiServer.fromOptions(registry.options, registry.states);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.sidecarApi?.listen();
    for (const election of this.registry.options.elections) {
      if (election.autoReason !== undefined) {
        this.logger.log(AUTO_BACKEND_CHOSEN(election.name, election.backend, election.autoReason));
      } else if (election.backend === 'standalone' && this.registry.options.insideKubernetes) {
        this.logger.warn(STANDALONE_IN_KUBERNETES(election.name));
      }
      const elector = createElector(election, this.registry.states.get(election.name)!);
      this.electors.push(elector);
      elector.start();
    }
  }

  onModuleDestroy(): void {
    for (const state of this.registry.states.values()) state.close();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.registry.gate.drain(this.registry.options.drainTimeoutMs);
    const electors = this.electors;
    this.electors = [];
    await Promise.all(electors.map((elector) => elector.stop()));
    await this.sidecarApi?.close();
  }
}
