import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ClusterLeaderService } from './cluster-leader.service.js';
import { ElectionRegistry } from './election.registry.js';
import { LeaderElectionOrchestrator } from './leader-election.orchestrator.js';
import { ConfigurableLeaderElectionModule } from './leader-election.module-definition.js';
import { LeaderOnlyExplorer } from './leader-only.explorer.js';

/**
 * Leader election for scheduled jobs. `LeaderElectionModule.forRoot({ backend, lease, ... })` or
 * `forRootAsync({ imports, useFactory, inject })`; global unless `isGlobal: false`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [ElectionRegistry, LeaderOnlyExplorer, LeaderElectionOrchestrator, ClusterLeaderService],
  exports: [ClusterLeaderService],
})
export class LeaderElectionModule extends ConfigurableLeaderElectionModule {}
