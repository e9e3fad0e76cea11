import { MetadataScanner } from '@nestjs/core';
import { getLeaderOnlyJob } from '../decorators/leader-only.decorator.js';
import { LeaderOnlySetupError } from '../errors/leader-only-setup.error.js';
import { UnknownElectionError } from '../errors/unknown-election.error.js';
import { JobGate } from '../gate/job-gate.js';
import type { JobCounters } from '../gate/gated-job.js';
import type { LeadershipState } from '../interfaces/leadership-state.interface.js';
import { ElectionState, type LeadershipView } from '../leadership/election-state.js';
import { DEFAULT_ELECTION, JOB_GATE } from '../leader-election.constants.js';
import { TestElector } from './test.elector.js';
import type { TestElectionOptions, TestLeadershipOptions, TestTermOptions } from './test-leadership-options.interface.js';

/** The identity a test pod has unless the options name one. */
export const TEST_IDENTITY = 'test-pod';
/** The leader `follow()` observes unless the test names one. */
export const OTHER_POD = 'other-pod';

/**
 * Drives the leadership of a test app (from `LeaderElectionTestingModule`, as
 * `app.get(TestLeadership)`) or of one instance in a unit test (`TestLeadership.attach(jobs)`).
 * Every call publishes to the real election state, so `@LeaderOnly()` jobs, `ClusterLeaderService`,
 * the callbacks, each term's AbortSignal and the log lines behave as with a real backend.
 * Each call takes effect at once (synchronously) and returns the state it leaves; the methods act
 * on the election this handle is for (`default`, unless it came from `election(name)`).
 *
 * @example
 * const leadership = TestLeadership.attach(jobs, { term: 3, fencingToken: '1042' });
 * await jobs.closeHourlyInvoices(); // runs, with currentLeaderJob().fencingToken === '1042'
 * leadership.follow('pod-b');
 * await jobs.closeHourlyInvoices(); // skipped: returns undefined
 */
export class TestLeadership {
  /** @internal use `LeaderElectionTestingModule` or `TestLeadership.attach()` */
  constructor(
    private readonly electors: ReadonlyMap<string, TestElector>,
    private readonly gate: JobGate,
    /** The election this handle drives. */
    readonly electionName: string = DEFAULT_ELECTION,
  ) {
    if (!electors.has(electionName)) throw new UnknownElectionError(electionName, [...electors.keys()]);
  }

  /**
   * For a unit test without a Nest app: lets the `@LeaderOnly()` methods of `instance` run through
   * the real gate, leading as `options` say, and returns the handle that changes it. The instance's
   * jobs keep every behaviour of the gate: a job that throws is logged and returns `undefined`, a
   * skipped call returns `undefined`, and `currentLeaderJob()` gives the term, the fencing token,
   * the signal and (with `scheduledAt`) the fire time.
   *
   * @throws LeaderOnlySetupError when `instance` has no `@LeaderOnly()` method, or already belongs to
   *   a Nest app (use `app.get(TestLeadership)` from `LeaderElectionTestingModule` there)
   */
  static attach(instance: object, options: TestLeadershipOptions = {}): TestLeadership {
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown> | null;
    const jobs = prototype === null
      ? []
      : new MetadataScanner().getAllMethodNames(prototype).flatMap((name) => getLeaderOnlyJob(prototype[name]) ?? []);
    const className = instance.constructor?.name ?? 'The instance';
    if (jobs.length === 0) {
      throw new LeaderOnlySetupError(`${className} has no @LeaderOnly() method: pass TestLeadership.attach() the instance whose methods are decorated.`);
    }
    if (Object.prototype.hasOwnProperty.call(instance, JOB_GATE)) {
      throw new LeaderOnlySetupError(`${className} already has a leadership attached (by a Nest app or an earlier TestLeadership.attach()). In an app test, use app.get(TestLeadership) from LeaderElectionTestingModule.`);
    }
    const identity = options.identity ?? TEST_IDENTITY;
    const names = new Set([DEFAULT_ELECTION, ...Object.keys(options.elections ?? {}), ...jobs.map((job) => job.election)]);
    const states = new Map([...names].map((name) => {
      const election = electionOptions(options, name);
      return [name, new ElectionState(name, identity, election)] as const;
    }));
    const electors = createTestElectors(states, options);
    for (const elector of electors.values()) elector.start();
    const gate = new JobGate(states);
    Object.defineProperty(instance, JOB_GATE, { value: gate, configurable: true });
    return TestLeadership.create(electors, gate, options);
  }

  /** @internal the handle of new electors, with each election's `scheduledAt` applied */
  static create(electors: ReadonlyMap<string, TestElector>, gate: JobGate, options: TestLeadershipOptions): TestLeadership {
    const leadership = new TestLeadership(electors, gate);
    for (const name of electors.keys()) {
      const { scheduledAt } = electionOptions(options, name);
      if (scheduledAt !== undefined) leadership.election(name).setScheduledAt(scheduledAt);
    }
    return leadership;
  }

  /** The handle for another election of the same app or instance. */
  election(name: string): TestLeadership {
    return new TestLeadership(this.electors, this.gate, name);
  }

  /**
   * This pod leads. Without `term`: if it did not lead, it starts the next term (the current term
   * + 1, as a new Lease holder does); if it leads already, nothing changes. With a `term` other
   * than the current one, the current term ends (its AbortSignal fires) and the new one begins.
   * A new term's fencing token is `options.fencingToken`, else the term as a decimal string.
   *
   * @throws RangeError for another fencing token in the term this pod leads in: a token belongs to
   *   one acquisition. To test a Lease re-created with its term back at 0, call `loseLeadership()`
   *   first, then `lead(0, { fencingToken })` with a higher token.
   */
  lead(term?: number | null, options: TestTermOptions = {}): LeadershipState {
    const { current } = this.elector;
    const leading = current.leader === this.identity;
    const next = term !== undefined ? term : leading ? current.term : nextTerm(current.term);
    if (leading && next === current.term) {
      if (options.fencingToken !== undefined && options.fencingToken !== current.fencingToken) {
        throw new RangeError(
          `lead(${next}, { fencingToken: ${JSON.stringify(options.fencingToken)} }): this pod already leads in term ${next}, ` +
            `with the fencing token ${JSON.stringify(current.fencingToken)}. A fencing token belongs to one acquisition: give a new term, ` +
            `or call loseLeadership() first (as when the Lease is re-created).`,
        );
      }
      return this.state();
    }
    return this.decide({ leader: this.identity, term: next, fencingToken: tokenFor(next, options), leadingUntil: Number.POSITIVE_INFINITY });
  }

  /**
   * Another pod leads: this one stops leading (if it did) and observes `leader`. The term stays
   * unless `term` is given.
   * @param leader @default 'other-pod'
   */
  follow(leader: string = OTHER_POD, term?: number | null): LeadershipState {
    if (leader === this.identity) {
      throw new RangeError(`follow('${leader}') names this pod itself; call lead() to make it lead.`);
    }
    const { current } = this.elector;
    return this.decide({ leader, term: term !== undefined ? term : current.term, leadingUntil: 0 });
  }

  /**
   * The leadership moves to `term` with the same leader. While this pod leads, its current term
   * ends (the running jobs' AbortSignal fires, onStoppedLeading runs) and the new one begins.
   */
  changeTerm(term: number | null, options: TestTermOptions = {}): LeadershipState {
    const { current } = this.elector;
    return this.decide({ ...current, term, fencingToken: tokenFor(term, options) }, 'a new term began');
  }

  /**
   * The fire time that the jobs of this election run for when the test calls them itself, as
   * `currentLeaderJob().scheduledAt` gives it (a `@Cron()` job's tick, say, without waiting for it).
   * `undefined` goes back to what a real tick would see (see `TestElectionOptions.scheduledAt`).
   */
  setScheduledAt(scheduledAt: Date | null | undefined): void {
    if (scheduledAt !== undefined && scheduledAt !== null && !(scheduledAt instanceof Date && Number.isFinite(scheduledAt.getTime()))) {
      throw new RangeError(`setScheduledAt(${String(scheduledAt)}): pass a valid Date, null, or undefined.`);
    }
    this.gate.fixScheduledAt(this.electionName, scheduledAt);
  }

  /**
   * This pod stops leading and knows no leader, as after a missed renew deadline or while the API
   * or the sidecar does not answer. The term stays.
   */
  loseLeadership(): LeadershipState {
    const { current } = this.elector;
    return this.decide({ leader: null, term: current.term, leadingUntil: 0 }, 'leadership was lost (TestLeadership.loseLeadership())');
  }

  /** The election as this pod sees it now. */
  state(): LeadershipState {
    const { state } = this.elector;
    return { ...state.state, isLeader: state.isLeader() };
  }

  /** How often each `@LeaderOnly()` job ran, was skipped, or failed, by `ClassName.method`. */
  jobCounters(): Record<string, JobCounters> {
    return this.gate.snapshot();
  }

  private get elector(): TestElector {
    return this.electors.get(this.electionName)!;
  }

  private get identity(): string {
    return this.elector.state.identity;
  }

  private decide(view: LeadershipView, reason?: string): LeadershipState {
    this.elector.decide(view, reason);
    return this.state();
  }
}

/** One TestElector per election, each starting as its options say. */
export function createTestElectors(
  states: ReadonlyMap<string, ElectionState>,
  options: TestLeadershipOptions,
): Map<string, TestElector> {
  return new Map([...states].map(([name, state]) => {
    const { leading = true, term = 0, fencingToken } = electionOptions(options, name);
    const view: LeadershipView = leading
      ? { leader: state.identity, term, fencingToken: tokenFor(term, { fencingToken }), leadingUntil: Number.POSITIVE_INFINITY }
      : { leader: null, term, leadingUntil: 0 };
    return [name, new TestElector(state, view)] as const;
  }));
}

/** An election's own options, completed from the top level's (callbacks excepted). */
export function electionOptions(options: TestLeadershipOptions, name: string): TestElectionOptions {
  if (name === DEFAULT_ELECTION) return options;
  const own = options.elections?.[name] ?? {};
  const { leading, term, fencingToken, scheduledAt } = options;
  return { leading, term, fencingToken, scheduledAt, ...own };
}

/** A new term's fencing token: the one given, else one that grows with the term, as a real one does. */
function tokenFor(term: number | null, { fencingToken }: TestTermOptions): string | null {
  if (fencingToken !== undefined) {
    if (fencingToken !== null && !/^\d+$/.test(fencingToken)) {
      throw new RangeError(`fencingToken ${JSON.stringify(fencingToken)}: use a decimal string such as '1042' (a real one is an etcd revision), or null.`);
    }
    return fencingToken;
  }
  return term === null ? null : String(term);
}

function nextTerm(term: number | null): number | null {
  return term === null ? null : term + 1;
}
