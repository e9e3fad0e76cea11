import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { buildElector, ELECTOR_FACTORY, LEASE_BACKEND, type ElectorFactory, type LeaseBackend } from './electors/elector-factory.js';
import type { LeaderElector } from './electors/leader-elector.interface.js';
import { ElectionRegistry } from './election.registry.js';
import { AUTO_CHOSE_STANDALONE, LEASE_ELECTION_STARTING, SHARDED_ELECTION_STARTING, SHARDS_NOT_IN_FORCE, STANDALONE_IN_KUBERNETES } from './leader-election.messages.js';
import { LeaderOnlyExplorer, type OptionsNotInForce } from './leader-only.explorer.js';
import { LEDGER_OPTIONS_NOT_IN_FORCE } from './ledger/ledger.messages.js';
import type { ResolvedElection } from './options/resolve-options.js';
import { SidecarApiServer } from './sidecar-api/sidecar-api.server.js';

/**
 * Owns the electors' lifecycle. Start: one elector per election, once the app has booted.
 * Shutdown, in the order that keeps two pods from running a job at once:
 *   1. onModuleDestroy: no election acquires anything from now on, and every election stops
 *      leading, so no new gated job starts, and each running job's AbortSignal fires;
 *   2. beforeApplicationShutdown: wait (at most drainTimeoutMs) for the running gated jobs to
 *      finish; then stop the electors: an election whose jobs finished releases its Lease so a
 *      follower takes over at once; one whose jobs still run does not, and its Lease expires.
 * The drop-in sidecar answer (`serveSidecarApi`) listens before any elector starts, so a port in
 * use stops the app before it campaigns, and closes last, after the Lease is released.
 * Each election says at start, once, what a user must know of it (which Lease, as whom, with which
 * timings; what `auto` chose and why; which job options its backend does not put in force); an
 * app test's elections (LeaderElectionTestingModule) say nothing of it, since no backend runs.
 *
 * Every hook also works after a failed start (app.init() rejected, then app.close()): it acts only
 * on what was started.
 */
@Injectable()
export class LeaderElectionOrchestrator
  implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown
{
  private readonly logger = new Logger('LeaderElection');
  private electors: { election: string; elector: LeaderElector }[] = [];
  /** One per election split into shards: spreads its shards over the pods. */
  private balancers: { start(): void; stop(): void }[] = [];
  private readonly sidecarApi: SidecarApiServer | undefined;

  constructor(
    private readonly registry: ElectionRegistry,
    private readonly explorer: LeaderOnlyExplorer,
    /** Replaces the backends' electors: provided only by LeaderElectionTestingModule. */
    @Optional() @Inject(ELECTOR_FACTORY) private readonly electorFactory?: ElectorFactory,
    /** The Lease backend, loaded only when an election uses it (LeaderElectionModule provides it). */
    @Optional() @Inject(LEASE_BACKEND) private readonly leaseBackend?: LeaseBackend,
  ) {
    this.sidecarApi = SidecarApiServer.fromOptions(registry.options, registry.states);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.sidecarApi?.listen();
    const { gate, options } = this.registry;
    // Before any elector starts, so the first leadership of each election is seen (catch-up).
    gate.start();
    const notInForce = new Map(this.explorer.optionsNotInForce().map(({ election, jobs }) => [election, jobs]));
    for (const election of options.elections) {
      const state = this.registry.states.get(election.name)!;
      const jobs = { drain: async () => Object.keys(await gate.drain(options.drainTimeoutMs, [election.name])).length === 0 };
      if (this.electorFactory !== undefined) {
        this.start(election.name, this.electorFactory(election, state, jobs));
        continue;
      }
      if (election.shard === undefined || election.shard.index === 0) this.logStart(election, notInForce.get(election.name));
      this.start(election.name, buildElector(election, state, jobs, this.leaseBackend));
    }
    if (this.electorFactory === undefined) this.balanceShards();
    // Once the electors exist: the Lease backend's give each election its control state.
    this.registry.controlRuns.start(this.registry.states);
  }

  /** A balancer per election split into shards, over its shards' electors (all started). */
  private balanceShards(): void {
    for (const group of this.registry.options.shardGroups) {
      const electors = group.shards.map((shard) => this.electors.find((entry) => entry.election === shard)!.elector);
      const first = this.registry.options.elections.find((election) => election.name === group.shards[0])!;
      if (first.backend !== 'lease') continue;
      const balancer = this.leaseBackend!.balanceShards(group.name, electors, first.lease);
      this.balancers.push(balancer);
      balancer.start();
    }
  }

  /** What a user must know of an election when it starts, once (a split one: once for all its shards). */
  private logStart(election: ResolvedElection, notInForce: OptionsNotInForce['jobs'] | undefined): void {
    const shardsOff = this.registry.options.shardsNotInForce.find((entry) => entry.election === election.name);
    if (shardsOff !== undefined) this.logger.warn(SHARDS_NOT_IN_FORCE(election.name, shardsOff.shards, shardsOff.backend, election.autoReason));
    if (election.backend === 'lease' && election.shard !== undefined) {
      this.logger.log(SHARDED_ELECTION_STARTING(election.shard.group, election.shard.count, election.lease, election.identity, election.autoReason));
    } else if (election.backend === 'lease') {
      this.logger.log(LEASE_ELECTION_STARTING(election.name, election.lease, election.identity, election.autoReason));
    } else if (election.backend === 'standalone' && election.autoReason !== undefined) {
      this.logger.warn(AUTO_CHOSE_STANDALONE(election.name, election.autoReason));
    } else if (election.backend === 'standalone' && this.registry.options.insideKubernetes) {
      this.logger.warn(STANDALONE_IN_KUBERNETES(election.name));
    }
    if (notInForce !== undefined) {
      this.logger.warn(LEDGER_OPTIONS_NOT_IN_FORCE(election.name, election.backend, election.autoReason, notInForce));
    }
  }

  private start(election: string, elector: LeaderElector): void {
    this.electors.push({ election, elector });
    this.registry.electorStatus.set(election, () => elector.status?.()); // health (issue 9)
    elector.start();
  }

  onModuleDestroy(): void {
    this.registry.gate.stop();
    this.registry.controlRuns.stop();
    for (const balancer of this.balancers.splice(0)) balancer.stop();
    for (const { elector } of this.electors) elector.stopCampaigning();
    for (const state of this.registry.states.values()) state.close();
  }

  async beforeApplicationShutdown(): Promise<void> {
    const stillRunning = await this.registry.gate.drain(this.registry.options.drainTimeoutMs);
    const electors = this.electors;
    this.electors = [];
    await Promise.all(electors.map(({ election, elector }) => elector.stop({ release: !(election in stillRunning) })));
    await this.sidecarApi?.close();
  }
}
