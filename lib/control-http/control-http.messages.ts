/** What LeaderElectionControlModule and its endpoints tell users, each message saying what to do. */

export const CONTROL_MODULE = 'LeaderElectionControlModule';

export const GUARD_FIX =
  'Pass the class of a Nest guard (one that implements CanActivate, e.g. checks a bearer token): ' +
  'LeaderElectionControlModule.forRoot({ mutations: { guard: ControlTokenGuard } }). ' +
  'Or set mutations: false (the default) to serve only the read endpoints and the dashboard without buttons.';

export const NOT_A_GUARD = (name: string) =>
  `${name} has no canActivate() method, so Nest cannot ask it whether a request may pass. ` +
  `Give it one (class ${name} implements CanActivate { canActivate(context) { ... } }), or pass another guard. ${GUARD_FIX}`;

export const NO_CLUSTER_LEADER_SERVICE =
  'LeaderElectionControlModule serves what ClusterLeaderService knows, and the app has none to give it. ' +
  'Import LeaderElectionModule.forRoot() (or forRootAsync) in the app module, and leave its isGlobal at the default (true).';

export const MUTATIONS_OFF = (path: string) =>
  `The mutating endpoints are off: this app mounts LeaderElectionControlModule without mutations. ` +
  `To turn them on behind a guard of the app's: LeaderElectionControlModule.forRoot({ path: '${path}', mutations: { guard: YourGuard } }).`;

export const BAD_BODY = (action: string, problem: string, fix: string) => `POST ${action}: ${problem}. ${fix}`;
