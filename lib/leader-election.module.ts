import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ClusterLeaderService } from './cluster-leader.service.js';
import { ElectionRegistry } from './election.registry.js';
import { LEASE_BACKEND } from './electors/elector-factory.js';
import { loadLeaseBackend } from './electors/lease-backend.loader.js';
import type { LeaderElectionModuleAsyncOptions } from './interfaces/leader-election-async-options.interface.js';
import type { LeaderElectionModuleOptions } from './interfaces/leader-election-options.interface.js';
import { LeaderElectionOrchestrator } from './leader-election.orchestrator.js';
import {
  ConfigurableLeaderElectionModule,
  type LEADER_ELECTION_ASYNC_OPTIONS_TYPE,
} from './leader-election.module-definition.js';
import { LeaderOnlyExplorer } from './leader-only.explorer.js';
import { ObservabilityInstaller } from './observability/observability.installer.js';

/**
 * Leader election for scheduled jobs: import it once, with `forRoot()` or `forRootAsync()`, next
 * to `ScheduleModule.forRoot()`. It provides `ClusterLeaderService` and gates every `@LeaderOnly()`
 * method of the app. Global unless `isGlobal: false`.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    ElectionRegistry,
    // Loaded while the app is created, and only for Lease elections: see loadLeaseBackend.
    { provide: LEASE_BACKEND, useFactory: (registry: ElectionRegistry) => loadLeaseBackend(registry.options.elections), inject: [ElectionRegistry] },
    LeaderOnlyExplorer,
    LeaderElectionOrchestrator,
    ClusterLeaderService,
    ObservabilityInstaller,
  ],
  exports: [ClusterLeaderService],
})
export class LeaderElectionModule extends ConfigurableLeaderElectionModule {
  /**
   * The module with options known when the app module is written. Every option is checked at
   * startup; a bad one stops the app with a `LeaderElectionConfigError`.
   *
   * @example
   * LeaderElectionModule.forRoot({ lease: { name: 'billing-jobs-leader' } })
   */
  static override forRoot(options: LeaderElectionModuleOptions & { isGlobal?: boolean }): DynamicModule {
    return super.forRoot(options);
  }

  /**
   * The module with options built by a factory from injected providers, e.g. a ConfigService.
   * The factory's result is checked at compile time as `forRoot()`'s options are, and at startup.
   *
   * @example
   * LeaderElectionModule.forRootAsync({
   *   imports: [ConfigModule],
   *   inject: [ConfigService],
   *   useFactory: (config: ConfigService) => ({ lease: { name: config.getOrThrow('LEASE_NAME') } }),
   * })
   */
  static override forRootAsync<const T extends object>(options: LeaderElectionModuleAsyncOptions<T>): DynamicModule {
    return super.forRootAsync(options as typeof LEADER_ELECTION_ASYNC_OPTIONS_TYPE);
  }
}
