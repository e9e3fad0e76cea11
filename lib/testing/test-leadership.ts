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
import type { TestElectionOptions, TestLeadershipOptions } from './test-leadership-options.interface.js';

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
 * const leadership = TestLeadership.attach(jobs, { term: 3 });
 * await jobs.closeHourlyInvoices(); // runs, with currentLeaderJob().term === 3
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
   * skipped call returns `undefined`, and `currentLeaderJob()` gives the term and signal.
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
    return new TestLeadership(electors, gate);
  }

  /** The handle for another election of the same app or instance. */
  election(name: string): TestLeadership {
    return new TestLeadership(this.electors, this.gate, name);
  }

  /**
   * This pod leads. Without `term`: if it did not lead, it starts the next term (the current term
   * + 1, as a new Lease holder does); if it leads already, nothing changes. With a `term` other
   * than the current one, the current term ends (its AbortSignal fires) and the new one begins.
   */
  lead(term?: number | null): LeadershipState {
    const { current } = this.elector;
    const leading = current.leader === this.identity;
    const next = term !== undefined ? term : leading ? current.term : nextTerm(current.term);
    return this.decide({ leader: this.identity, term: next, leadingUntil: Number.POSITIVE_INFINITY });
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
  changeTerm(term: number | null): LeadershipState {
    const { current } = this.elector;
    return this.decide({ ...current, term }, 'a new term began');
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
    const { leading = true, term = 0 } = electionOptions(options, name);
    const view: LeadershipView = leading
      ? { leader: state.identity, term, leadingUntil: Number.POSITIVE_INFINITY }
      : { leader: null, term, leadingUntil: 0 };
    return [name, new TestElector(state, view)] as const;
  }));
}

/** An election's own options, completed from the top level's `leading` and `term`. */
export function electionOptions(options: TestLeadershipOptions, name: string): TestElectionOptions {
  if (name === DEFAULT_ELECTION) return options;
  const own = options.elections?.[name] ?? {};
  return { leading: options.leading, term: options.term, ...own };
}

function nextTerm(term: number | null): number | null {
  return term === null ? null : term + 1;
}
