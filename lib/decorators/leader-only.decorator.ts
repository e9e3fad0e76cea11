import type { GatedJob } from '../gate/gated-job.js';
import type { JobGate } from '../gate/job-gate.js';
import { LeaderOnlySetupError } from '../errors/leader-only-setup.error.js';
import type { LeaderOnlyOptions } from '../interfaces/leader-only-options.interface.js';
import { DEFAULT_ELECTION, JOB_GATE, LEADER_ONLY_METADATA } from '../leader-election.constants.js';
import { DETACHED_CALL, MODULE_NOT_IMPORTED } from '../leader-election.messages.js';

/** Marks a prototype whose `onApplicationBootstrap` already checks that the gate is attached. */
const STARTUP_CHECK_INSTALLED = Symbol('nestjs-cluster-leader:startup-check');

type GatedInstance = { [JOB_GATE]?: JobGate };

/**
 * Runs the decorated method only on the pod that currently leads the election; on every other pod
 * the call is skipped (and counted). Stack it with `@Cron()`, `@Interval()` or `@Timeout()`, in
 * either order. The method keeps its `this` and arguments, may be sync or async, and can read its
 * term and AbortSignal with `currentLeaderJob()`. A job that throws is logged, never rethrown.
 *
 * @example
 * ```ts
 * @Cron('0 * * * *')
 * @LeaderOnly()
 * async sendDigest() {}
 * ```
 */
export function LeaderOnly(options: LeaderOnlyOptions = {}): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const original = descriptor.value;
    if (typeof original !== 'function') {
      throw new LeaderOnlySetupError(`@LeaderOnly() can only decorate methods; ${String(propertyKey)} is not one.`);
    }
    const job: GatedJob = {
      name: `${target.constructor.name}.${String(propertyKey)}`,
      election: options.election ?? DEFAULT_ELECTION,
      method: original as (...args: unknown[]) => unknown,
      options,
    };
    const gated = function (this: GatedInstance, ...args: unknown[]): unknown {
      if (this === undefined || this === null) throw new LeaderOnlySetupError(DETACHED_CALL(job.name));
      const gate = this[JOB_GATE];
      if (gate === undefined) throw new LeaderOnlySetupError(MODULE_NOT_IMPORTED(job.name));
      return gate.run(job, this, args);
    };
    Object.defineProperty(gated, 'name', { value: original.name });
    // @Cron/@Interval/@Timeout keep their metadata on the function object. When they ran first
    // (placed below @LeaderOnly), carry it over, or the scheduler silently loses the job.
    for (const key of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), gated);
    }
    Reflect.defineMetadata(LEADER_ONLY_METADATA, job, gated);
    // Mutate rather than return a descriptor: applyDecorators() ignores returned descriptors.
    descriptor.value = gated as typeof descriptor.value;
    installStartupCheck(target);
  };
}

/**
 * Without LeaderElectionModule nothing would ever attach the gate, and the job would fail on every
 * tick forever. So the decorated class checks, when the app boots, that the module attached it
 * (the module does so in onModuleInit, which Nest always runs before onApplicationBootstrap).
 */
function installStartupCheck(prototype: object): void {
  if (Object.prototype.hasOwnProperty.call(prototype, STARTUP_CHECK_INSTALLED)) return;
  const own = prototype as { onApplicationBootstrap?: (...args: unknown[]) => unknown };
  const userHook = own.onApplicationBootstrap;
  Object.defineProperty(prototype, STARTUP_CHECK_INSTALLED, { value: true });
  Object.defineProperty(prototype, 'onApplicationBootstrap', {
    configurable: true,
    writable: true,
    value: function onApplicationBootstrap(this: GatedInstance, ...args: unknown[]) {
      if (this[JOB_GATE] === undefined) {
        throw new LeaderOnlySetupError(MODULE_NOT_IMPORTED(`${this.constructor.name}`));
      }
      return userHook?.apply(this, args);
    },
  });
}

/** The job description stored by @LeaderOnly() on a method, if it has one. */
export function getLeaderOnlyJob(method: unknown): GatedJob | undefined {
  return typeof method === 'function' ? Reflect.getMetadata(LEADER_ONLY_METADATA, method) : undefined;
}
