import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ClusterLeaderService } from '../cluster-leader.service.js';
import { ELECTOR_FACTORY, type ElectorFactory } from '../electors/elector-factory.js';
import { ElectionRegistry } from '../election.registry.js';
import type { ElectionOptions, LeaderElectionModuleOptions } from '../interfaces/leader-election-options.interface.js';
import { DEFAULT_ELECTION, SCHEDULE_MODULE_OPTIONAL } from '../leader-election.constants.js';
import { LEADER_ELECTION_MODULE_OPTIONS } from '../leader-election.module-definition.js';
import { LeaderElectionOrchestrator } from '../leader-election.orchestrator.js';
import { LeaderOnlyExplorer } from '../leader-only.explorer.js';
import type { TestElector } from './test.elector.js';
import { createTestElectors, electionOptions, TEST_IDENTITY, TestLeadership } from './test-leadership.js';
import type { TestElectionOptions, TestLeadershipOptions } from './test-leadership-options.interface.js';

const TEST_ELECTORS = Symbol('nestjs-cluster-leader:test-electors');

/**
 * `LeaderElectionModule` for tests: the same service, gate, explorer and shutdown order, with
 * leadership decided by the test through `TestLeadership` instead of a Lease or a sidecar. Import
 * it in place of `LeaderElectionModule`; `ScheduleModule` is optional here, since a test may call
 * its jobs itself.
 *
 * @example
 * const moduleRef = await Test.createTestingModule({
 *   imports: [LeaderElectionTestingModule.forRoot({ term: 7 })],
 *   providers: [BillingJobs, InvoiceService],
 * }).compile();
 * const app = await moduleRef.createNestApplication().init();
 * app.get(TestLeadership).follow('pod-b');
 */
@Module({})
export class LeaderElectionTestingModule {
  /** @param options how each election starts; every one leads in term 0 by default */
  static forRoot(options: TestLeadershipOptions = {}): DynamicModule {
    return {
      module: LeaderElectionTestingModule,
      global: options.isGlobal ?? true,
      imports: [DiscoveryModule],
      providers: [
        { provide: LEADER_ELECTION_MODULE_OPTIONS, useValue: moduleOptions(options) },
        { provide: SCHEDULE_MODULE_OPTIONAL, useValue: true },
        ElectionRegistry,
        LeaderOnlyExplorer,
        LeaderElectionOrchestrator,
        ClusterLeaderService,
        {
          provide: TEST_ELECTORS,
          useFactory: (registry: ElectionRegistry) => createTestElectors(registry.states, options),
          inject: [ElectionRegistry],
        },
        {
          provide: ELECTOR_FACTORY,
          useFactory: (electors: ReadonlyMap<string, TestElector>): ElectorFactory => (election) => electors.get(election.name)!,
          inject: [TEST_ELECTORS],
        },
        {
          provide: TestLeadership,
          useFactory: (electors: ReadonlyMap<string, TestElector>, registry: ElectionRegistry) => TestLeadership.create(electors, registry.gate, options),
          inject: [TEST_ELECTORS, ElectionRegistry],
        },
      ],
      exports: [ClusterLeaderService, TestLeadership],
    };
  }
}

/**
 * The module's options for the registry: every election on backend 'standalone', which needs no
 * cluster and no network (its elector is replaced by a TestElector), with the test's callbacks.
 */
function moduleOptions(options: TestLeadershipOptions): LeaderElectionModuleOptions {
  const election = (own: TestElectionOptions): ElectionOptions => ({
    backend: 'standalone',
    onStartedLeading: own.onStartedLeading,
    onStoppedLeading: own.onStoppedLeading,
    onNewLeader: own.onNewLeader,
  });
  return {
    ...election(electionOptions(options, DEFAULT_ELECTION)),
    identity: options.identity ?? TEST_IDENTITY,
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
    elections: Object.fromEntries(
      Object.keys(options.elections ?? {}).map((name) => [name, election(electionOptions(options, name))]),
    ),
  };
}
