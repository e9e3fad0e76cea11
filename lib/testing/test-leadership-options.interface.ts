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
   * The term (fencing token, as the Lease's `leaseTransitions`) of that first leadership; `null`
   * for a backend without terms (sidecar, standalone).
   * @default 0
   */
  term?: number | null;
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
   * from the top level (`leading`, `term`), callbacks excepted. `TestLeadership.attach()` also
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
