import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { SchedulerRegistry } from '@nestjs/schedule';
import { getLeaderOnlyJob } from './decorators/leader-only.decorator.js';
import { ElectionRegistry } from './election.registry.js';
import { LeaderOnlySetupError } from './errors/leader-only-setup.error.js';
import { JOB_GATE, SCHEDULE_MODULE_OPTIONAL, SCHEDULER_TYPE_METADATA } from './leader-election.constants.js';
import { SCHEDULE_MODULE_MISSING, UNKNOWN_ELECTION } from './leader-election.messages.js';
import { assertDistinctLedgerKeys, assertPolicyFitsBackend, claimsTicks, resolveJobPolicy, type JobPolicy } from './ledger/job-policy.js';
import { readJobSchedule } from './ledger/job-schedule.js';

/**
 * Finds every provider and controller with @LeaderOnly() methods and attaches this application's
 * gate to the instance, checking at startup that each job names a configured election, that its
 * options fit its schedule and its election's backend (claims need the Lease), and that a
 * scheduled one (@Cron, @Interval, @Timeout) has a ScheduleModule to run it. A @LeaderOnly()
 * method without a schedule decorator is fine: the app calls it itself.
 */
@Injectable()
export class LeaderOnlyExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: ElectionRegistry,
    private readonly moduleRef: ModuleRef,
    @Optional() @Inject(SCHEDULE_MODULE_OPTIONAL) private readonly scheduleModuleOptional?: boolean,
  ) {}

  onModuleInit(): void {
    const { gate, options } = this.registry;
    const scheduledJobs: string[] = [];
    const claiming: { election: string; policy: JobPolicy }[] = [];
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
        if (Reflect.getMetadata(SCHEDULER_TYPE_METADATA, prototype[name]) !== undefined) scheduledJobs.push(job.name);
        const policy = resolveJobPolicy(job.name, job.options, readJobSchedule(prototype[name]));
        const { backend } = options.elections.find((election) => election.name === job.election)!;
        assertPolicyFitsBackend(job.name, policy, backend);
        const claims = claimsTicks(policy, backend);
        if (claims) claiming.push({ election: job.election, policy });
        gate.register(job, instance, policy, claims, claims ? this.scheduledCheck(policy) : undefined);
        gated = true;
      }
      if (gated) {
        Object.defineProperty(instance, JOB_GATE, { value: gate, configurable: true });
      }
    }
    assertDistinctLedgerKeys(claiming);
    if (scheduledJobs.length > 0 && !this.scheduleModuleOptional && !this.scheduleModuleImported()) {
      throw new LeaderOnlySetupError(SCHEDULE_MODULE_MISSING(scheduledJobs));
    }
  }

  /**
   * For a named @Cron(): whether SchedulerRegistry still runs it (the app may stop or delete it at
   * run time). An unnamed one is registered under a random name: nothing tells, so it counts as
   * running unless `disabled`.
   */
  private scheduledCheck(policy: JobPolicy): (() => boolean) | undefined {
    const { schedule } = policy;
    if (schedule.kind !== 'cron' || schedule.name === undefined) return undefined;
    const name = schedule.name;
    let registry: SchedulerRegistry;
    try {
      registry = this.moduleRef.get(SchedulerRegistry, { strict: false });
    } catch {
      return undefined;
    }
    return () => registry.doesExist('cron', name) && registry.getCronJob(name).isActive;
  }

  /** ScheduleModule.forRoot() provides SchedulerRegistry (globally): the sign that it is imported. */
  private scheduleModuleImported(): boolean {
    try {
      this.moduleRef.get(SchedulerRegistry, { strict: false });
      return true;
    } catch {
      return false;
    }
  }
}
