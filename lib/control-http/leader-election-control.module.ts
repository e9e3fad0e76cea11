import { Module, type CanActivate, type DynamicModule, type Type } from '@nestjs/common';
import { ClusterLeaderService } from '../cluster-leader.service.js';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import type { LeaderElectionControlOptions } from '../interfaces/leader-election-control-options.interface.js';
import { createControlControllers } from './control-api.controllers.js';
import { CONTROL_MODULE, GUARD_FIX, NO_CLUSTER_LEADER_SERVICE, NOT_A_GUARD } from './control-http.messages.js';

/** The provider that checks the options and the app while the app is created (see forRoot). */
const CONTROL_SETUP_CHECK = Symbol('LeaderElectionControlModule setup check');

const OPTIONS = ['path', 'mutations', 'imports'];
const MUTATION_OPTIONS = ['guard'];

/**
 * The jobs over HTTP, for operators: a dashboard page and a JSON API, served by the app itself.
 * Read endpoints always; the mutating ones (pause, resume, run, backfill) only behind a Nest
 * guard the app supplies. Import it next to `LeaderElectionModule` (global, as by default):
 *
 * | endpoint | answer |
 * |---|---|
 * | `GET /<path>` | the dashboard (one self-contained HTML page) |
 * | `GET /<path>/api/elections` | `{ identity, mutations, elections: ElectionHealth[] }` |
 * | `GET /<path>/api/jobs` | `ClusterLeaderService.jobs()` |
 * | `POST /<path>/api/jobs/:name/pause` | body `{ note? }`: the job, paused (mutations only) |
 * | `POST /<path>/api/jobs/:name/resume` | the job, resumed (mutations only) |
 * | `POST /<path>/api/jobs/:name/run` | body `{ timeoutMs? }`: the run's `RequestOutcome`, once it ended (mutations only) |
 * | `POST /<path>/api/jobs/:name/backfill` | body `{ from, to, timeoutMs? }`: the backfill's `RequestOutcome` (mutations only) |
 *
 * Errors: 400 for a malformed body, 404 for an unknown job (the message lists the known ones),
 * 409 when the job's setup refuses the request (`JobControlError`), 504 with the request id when
 * the leader did not finish in time (the request is not withdrawn); the guard's own 401/403.
 *
 * @example
 * LeaderElectionControlModule.forRoot({ path: 'leader', mutations: { guard: ControlTokenGuard } })
 */
@Module({})
export class LeaderElectionControlModule {
  /**
   * Bad options (a `mutations` without a guard, a guard that is no guard class, an unknown option)
   * stop the app while it is created, with a `LeaderElectionConfigError` naming the option, its
   * value and the fix; no endpoint is mounted then.
   */
  static forRoot(options: LeaderElectionControlOptions = {}): DynamicModule {
    const checked = checkOptions(options);
    if (checked instanceof Error) {
      // Thrown while the app is created, as LeaderElectionModule's own option errors are, so Nest
      // reports it as a startup error; the module mounts nothing.
      return { module: LeaderElectionControlModule, providers: [{ provide: CONTROL_SETUP_CHECK, useFactory: () => { throw checked; } }] };
    }
    return {
      module: LeaderElectionControlModule,
      imports: options.imports ?? [],
      controllers: createControlControllers(checked.path, checked.guard),
      providers: [
        {
          provide: CONTROL_SETUP_CHECK,
          // Providers are created before controllers: this says what is missing before Nest's own
          // "can't resolve dependencies" would.
          useFactory: (leader: ClusterLeaderService | undefined) => {
            if (leader === undefined) throw new Error(`${CONTROL_MODULE}: ${NO_CLUSTER_LEADER_SERVICE}`);
            return true;
          },
          inject: [{ token: ClusterLeaderService, optional: true }],
        },
      ],
    };
  }
}

function checkOptions(options: unknown): { path: string; guard: Type<CanActivate> | undefined } | LeaderElectionConfigError {
  const fail = (option: string, value: unknown, fix: string) => new LeaderElectionConfigError(option, value, fix, CONTROL_MODULE);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return fail('options', options, 'Pass an object to LeaderElectionControlModule.forRoot(), e.g. { path: \'leader\' }.');
  }
  const record = options as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !OPTIONS.includes(key));
  if (unknown !== undefined) return fail(unknown, record[unknown], `There is no such option; the options are ${OPTIONS.join(', ')}.`);

  const { path: rawPath = 'leader', mutations = false, imports } = record;
  if (typeof rawPath !== 'string') return fail('path', rawPath, "Pass the dashboard's path as a string, e.g. 'leader' (the default), or '' for the root.");
  const path = rawPath.replace(/^\/+|\/+$/g, '');
  // Characters the router reads as parameters or patterns (:name, *, {optional}, (group)) would make another route.
  if (path !== '' && !/^[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*$/.test(path)) {
    return fail('path', rawPath, "Use plain path segments (letters, digits, '-', '_', '.', '~'), e.g. 'leader' or 'ops/leader'.");
  }
  if (imports !== undefined && !Array.isArray(imports)) return fail('imports', imports, 'Pass an array of modules, e.g. [ConfigModule], or leave it out.');

  if (mutations === false || mutations === undefined) return { path, guard: undefined };
  if (typeof mutations !== 'object' || mutations === null || Array.isArray(mutations)) {
    return fail('mutations', mutations, `Pass { guard: YourGuard } or false. ${GUARD_FIX}`);
  }
  const mutationOptions = mutations as Record<string, unknown>;
  const unknownMutation = Object.keys(mutationOptions).find((key) => !MUTATION_OPTIONS.includes(key));
  if (unknownMutation !== undefined) return fail(`mutations.${unknownMutation}`, mutationOptions[unknownMutation], `There is no such option; mutations takes only guard. ${GUARD_FIX}`);
  const { guard } = mutationOptions;
  if (guard === undefined) {
    return fail('mutations.guard', guard, `The mutating endpoints (pause, resume, run, backfill) are mounted only behind a guard of the app's: the library cannot know who may steer your jobs. ${GUARD_FIX}`);
  }
  if (typeof guard !== 'function') return fail('mutations.guard', guard, `Pass the guard's class, not an instance or a value. ${GUARD_FIX}`);
  if (typeof (guard.prototype as Partial<CanActivate> | undefined)?.canActivate !== 'function') {
    return fail('mutations.guard', guard, NOT_A_GUARD(guard.name || 'The class'));
  }
  return { path, guard: guard as Type<CanActivate> };
}
