import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { getLeaderOnlyJob } from './decorators/leader-only.decorator.js';
import { ElectionRegistry } from './election.registry.js';
import { LeaderOnlySetupError } from './errors/leader-only-setup.error.js';
import { JOB_GATE } from './leader-election.constants.js';
import { UNKNOWN_ELECTION } from './leader-election.messages.js';

/**
 * Finds every provider and controller with @LeaderOnly() methods and attaches this application's
 * gate to the instance, checking at startup that each job names a configured election.
 */
@Injectable()
export class LeaderOnlyExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: ElectionRegistry,
  ) {}

  onModuleInit(): void {
    const { gate } = this.registry;
    for (const wrapper of [...this.discovery.getControllers(), ...this.discovery.getProviders()]) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance);
      if (!prototype) continue;
      let gated = false;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const job = getLeaderOnlyJob(prototype[name]);
        if (job === undefined) continue;
        if (!gate.hasElection(job.election)) {
          throw new LeaderOnlySetupError(UNKNOWN_ELECTION(job.name, job.election, gate.electionNames()));
        }
        gated = true;
      }
      if (gated) {
        Object.defineProperty(instance, JOB_GATE, { value: gate, configurable: true });
      }
    }
  }
}
