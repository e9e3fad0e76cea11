import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, ModuleRef } from '@nestjs/core';
import { SchedulerRegistry } from '@nestjs/schedule';
import { getLeaderOnlyJob } from './decorators/leader-only.decorator.js';
import { ElectionRegistry } from './election.registry.js';
import { LeaderOnlySetupError } from './errors/leader-only-setup.error.js';
import type { GatedJob } from './gate/gated-job.js';
import { JOB_GATE, SCHEDULE_MODULE_OPTIONAL, SCHEDULER_TYPE_METADATA } from './leader-election.constants.js';
import { SCHEDULE_MODULE_MISSING, UNKNOWN_ELECTION } from './leader-election.messages.js';
import { assertDistinctLedgerKeys, claimsTicks, optionsNotInForce, resolveJobPolicy, type JobPolicy } from './ledger/job-policy.js';
import { readJobSchedule } from './ledger/job-schedule.js';

type InstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** A @LeaderOnly() method of a class, checked: its options fit its schedule and its election. */
interface CheckedJob {
  /** As the decorator describes it: the election its options name. */
  readonly job: GatedJob;
  /** As it runs here: in the election that leads it (for a split election, its shard's). */
  readonly routed: GatedJob;
  readonly policy: JobPolicy;
  /** Its ticks are claimed in the ledger (its election is on the `lease` backend). */
  readonly claims: boolean;
  /** Scheduled by @Cron, @Interval or @Timeout (so it needs ScheduleModule). */
  readonly scheduled: boolean;
}

/** The options of some jobs of one election that its backend does not put in force. */
export interface OptionsNotInForce {
  readonly election: string;
  readonly jobs: readonly { job: string; options: readonly string[] }[];
}

/**
 * Finds every provider and controller with @LeaderOnly() methods and attaches this application's
 * gate to the instance, checking that each job names a configured election, that its options fit
 * its schedule, and that a scheduled one (@Cron, @Interval, @Timeout) has a ScheduleModule to run
 * it. A @LeaderOnly() method without a schedule decorator is fine: the app calls it itself.
 *
 * The checks run in the constructor, from the classes Nest has scanned, so that a mistake stops
 * `NestFactory.create()` (and a test's `compile()`) the way a bad module option does: Nest logs
 * it as one startup error and exits. Thrown from a lifecycle hook instead, it would escape
 * `app.listen()` as an unhandled rejection with a raw stack. Instances that only exist once the
 * app runs (factory providers) are checked in onModuleInit, with the same rules.
 */
@Injectable()
export class LeaderOnlyExplorer implements OnModuleInit {
  /** The checked jobs of each class prototype seen so far. */
  private readonly checked = new Map<object, readonly CheckedJob[]>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly registry: ElectionRegistry,
    private readonly moduleRef: ModuleRef,
    @Optional() @Inject(SCHEDULE_MODULE_OPTIONAL) private readonly scheduleModuleOptional?: boolean,
  ) {
    for (const wrapper of this.wrappers()) {
      const prototype = knownPrototype(wrapper);
      if (prototype !== undefined) this.jobsOf(prototype);
    }
    this.checkAcrossJobs();
  }

  onModuleInit(): void {
    const { gate } = this.registry;
    for (const wrapper of this.wrappers()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) continue;
      const prototype = Object.getPrototypeOf(instance) as object | null;
      if (!prototype) continue;
      const jobs = this.jobsOf(prototype);
      for (const { job, routed, policy, claims } of jobs) gate.register(routed, instance, policy, claims, claims ? this.scheduledCheck(policy) : undefined, job);
      if (jobs.length > 0) Object.defineProperty(instance, JOB_GATE, { value: gate, configurable: true });
    }
    // Again, for the classes only their instances revealed.
    this.checkAcrossJobs();
  }

  /**
   * Per election, the jobs whose options its backend does not put in force (see
   * `optionsNotInForce`), for the one warning per election that the orchestrator logs at start.
   */
  optionsNotInForce(): OptionsNotInForce[] {
    const byElection = new Map<string, { job: string; options: readonly string[] }[]>();
    for (const { routed: job, policy } of this.allJobs()) {
      const options = optionsNotInForce(policy, this.backendOf(job.election));
      if (options.length === 0) continue;
      byElection.set(job.election, [...(byElection.get(job.election) ?? []), { job: job.name, options }]);
    }
    return [...byElection].map(([election, jobs]) => ({ election, jobs }));
  }

  private wrappers(): InstanceWrapper[] {
    return [...this.discovery.getControllers(), ...this.discovery.getProviders()];
  }

  /** The @LeaderOnly() methods of a class, checked once. Throws LeaderOnlySetupError. */
  private jobsOf(prototype: object): readonly CheckedJob[] {
    const known = this.checked.get(prototype);
    if (known !== undefined) return known;
    const { registry } = this;
    const jobs: CheckedJob[] = [];
    for (const name of this.scanner.getAllMethodNames(prototype)) {
      const method: unknown = (prototype as Record<string, unknown>)[name];
      const job = getLeaderOnlyJob(method);
      if (job === undefined) continue;
      if (!registry.hasElection(job.election)) {
        throw new LeaderOnlySetupError(UNKNOWN_ELECTION(job.name, job.election, registry.electionNames()));
      }
      const policy = resolveJobPolicy(job.name, job.options, readJobSchedule(method));
      const scheduled = Reflect.getMetadata(SCHEDULER_TYPE_METADATA, method as object) !== undefined;
      const election = registry.electionOfJob(job, policy.ledgerKey);
      const routed = election === job.election ? job : { ...job, election };
      jobs.push({ job, routed, policy, claims: claimsTicks(policy, this.backendOf(election)), scheduled });
    }
    this.checked.set(prototype, jobs);
    return jobs;
  }

  private allJobs(): CheckedJob[] {
    return [...this.checked.values()].flat();
  }

  private backendOf(election: string) {
    return this.registry.options.elections.find((candidate) => candidate.name === election)!.backend;
  }

  /** The rules that span jobs: distinct ledger keys per election, and a ScheduleModule for scheduled ones. */
  private checkAcrossJobs(): void {
    const jobs = this.allJobs();
    assertDistinctLedgerKeys(jobs.filter(({ claims }) => claims).map(({ job, policy }) => ({ election: job.election, policy })));
    const scheduled = jobs.filter((job) => job.scheduled).map(({ job }) => job.name);
    if (scheduled.length > 0 && !this.scheduleModuleOptional && !this.scheduleModuleImported()) {
      throw new LeaderOnlySetupError(SCHEDULE_MODULE_MISSING(scheduled));
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

/**
 * The prototype of a provider's instances, where it is known before they exist: a class provider's
 * class, or a value provider's value. A factory's result is known only once the factory has run.
 */
function knownPrototype(wrapper: InstanceWrapper): object | undefined {
  if (!wrapper.isNotMetatype && typeof wrapper.metatype === 'function') {
    return (wrapper.metatype as { prototype?: object }).prototype;
  }
  // A value provider has no metatype (a factory's is the factory) and holds its value from the start.
  const value: unknown = wrapper.metatype ? undefined : wrapper.instance;
  return value && typeof value === 'object' ? (Object.getPrototypeOf(value) ?? undefined) : undefined;
}
