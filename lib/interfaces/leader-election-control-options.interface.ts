import type { CanActivate, ModuleMetadata, Type } from '@nestjs/common';

/** The mutating endpoints of `LeaderElectionControlModule`, and the guard they sit behind. */
export interface LeaderElectionControlMutations {
  /**
   * The Nest guard every mutating request must pass (pause, resume, run, backfill): a class with a
   * `canActivate()` method, instantiated by Nest in the control module (its dependencies come from
   * global modules or from the `imports` option). There is no default: the library cannot know who
   * may steer your jobs. A guard that reads a bearer token keeps the endpoints safe from
   * cross-site requests; one that trusts a cookie needs CSRF protection of its own.
   */
  guard: Type<CanActivate>;
}

/** Options of `LeaderElectionControlModule.forRoot()`. */
export interface LeaderElectionControlOptions {
  /**
   * Where the dashboard is served (`GET /<path>`); the JSON API is under `/<path>/api/`. Slashes
   * at either end are ignored; `''` serves the dashboard at the root.
   * @default 'leader'
   */
  path?: string;
  /**
   * `{ guard }` also mounts the mutating endpoints, behind that guard, and shows the dashboard's
   * pause, resume and run buttons. `false` (the default) mounts only the read endpoints; a POST
   * to a mutating path answers 405 saying how to turn them on.
   * @default false
   */
  mutations?: LeaderElectionControlMutations | false;
  /** Modules the guard's own dependencies come from (a global module needs no entry here). */
  imports?: ModuleMetadata['imports'];
}
