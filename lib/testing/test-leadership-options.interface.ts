import type { LeaderElectionCallbacks } from '../interfaces/leader-election-options.interface.js';

/** How one election starts in a test, before the test drives it with `TestLeadership`. */
export interface TestElectionOptions extends LeaderElectionCallbacks {
  /**
   * Whether this pod leads once the app has started (`app.init()`), or at once for
   * `TestLeadership.attach()`. When false, no leader is known until the test says so.
   * @default true
   */
  leading?: boolean;
  /**
   * The term of that first leadership (as the Lease's `leaseTransitions`); `null` for a backend
   * without terms (sidecar, standalone).
   * @default 0
   */
  term?: number | null;
  /**
   * The fencing token of that first leadership, as `currentLeaderJob().fencingToken` gives it: a
   * decimal string (the Lease backend's is the resourceVersion of the acquiring write), or `null`
   * for a backend without one (sidecar, standalone), which a job must handle too.
   * @default the term as a decimal string (`'0'` for term 0), so it grows with each term; `null`
   *   when the term is `null`
   */
  fencingToken?: string | null;
  /**
   * The fire time that a job the test calls itself runs for, as `currentLeaderJob().scheduledAt`
   * gives it. Change it with `TestLeadership.setScheduledAt()`.
   * @default as a real tick: for a `@Cron()` job of an app, its latest fire time by the clock if it
   *   is within a minute, else `null`; for an instance given to `TestLeadership.attach()`, `null`
   */
  scheduledAt?: Date | null;
}

/** Options of `LeaderElectionTestingModule.forRoot()` and `TestLeadership.attach()`. */
export interface TestLeadershipOptions extends TestElectionOptions {
  /**
   * This pod's identity, as `ClusterLeaderService.identity` and the leadership states show it.
   * @default 'test-pod'
   */
  identity?: string;
  /**
   * More elections, by name, each starting as its own options say. Options left out are taken
   * from the top level (`leading`, `term`, `fencingToken`, `scheduledAt`), callbacks excepted. `TestLeadership.attach()` also
   * creates, as the top level says, every election that the instance's jobs name.
   * @default {}
   */
  elections?: Record<string, TestElectionOptions>;
  /**
   * On `app.close()`, how long to wait for running leader-only jobs, in milliseconds.
   * @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * Register the module globally, as `LeaderElectionModule` does (module only).
   * @default true
   */
  isGlobal?: boolean;
}

/** Options of `TestLeadership.lead()` and `changeTerm()`. */
export interface TestTermOptions {
  /**
   * The new term's fencing token (see `TestElectionOptions.fencingToken`).
   * @default the term as a decimal string; `null` when the term is `null`
   */
  fencingToken?: string | null;
}
