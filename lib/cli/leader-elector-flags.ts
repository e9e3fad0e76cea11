import { parseArgs } from 'node:util';
import { LeaderElectionConfigError } from '../errors/leader-election-config.error.js';
import { LeaderElectorFlagError } from '../errors/leader-elector-flag.error.js';
import type { LeaderElectionModuleOptions } from '../interfaces/leader-election-options.interface.js';
import { parseGoDuration } from './go-duration.js';

export const COMMAND = 'nestjs-cluster-leader-elector';

/** The old sidecar's defaults: namespace `default`, ttl 10 s. */
const DEFAULT_NAMESPACE = 'default';
const DEFAULT_TTL = '10s';

/** The old sidecar's flags (kubernetes-retired/contrib, election/example/main.go), and --help. */
const FLAGS = {
  election: { type: 'string' },
  'election-namespace': { type: 'string' },
  http: { type: 'string' },
  id: { type: 'string' },
  ttl: { type: 'string' },
  'use-cluster-credentials': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Flag = keyof typeof FLAGS;

export const USAGE = `Usage: ${COMMAND} --election=<lease name> [flags]

Runs only the leader election, on a coordination.k8s.io/v1 Lease, with the flags of the old
leader-elector sidecar, and answers {"name":"<leader>"} on --http as it did. On SIGTERM or SIGINT
it releases the Lease (so another pod takes over at once) and exits 0.

  --election=<name>            the Lease's name (required)
  --election-namespace=<ns>    the Lease's namespace (default "${DEFAULT_NAMESPACE}")
  --http=<host>:<port>         answer on this address, e.g. localhost:4040 (this pod only) or
                               :4040 (every interface); without it, nothing is served
  --id=<identity>              this candidate's name (default MY_POD_NAME, POD_NAME, HOSTNAME,
                               else the host name)
  --ttl=<duration>             the lease duration in Go's syntax, whole seconds: 10s, 1m
                               (default ${DEFAULT_TTL}); the renew deadline is ttl/2, the retry
                               period ttl/4, as the old sidecar had them
  --use-cluster-credentials    use the pod's service account only (default: KUBECONFIG, else
                               ~/.kube/config, else the pod's service account); a command
                               without usable credentials exits 1 and says why
  -h, --help                   show this text
`;

export interface LeaderElectorCommandLine {
  help: boolean;
  /** The library's options for the one election, as the flags describe it. */
  options: LeaderElectionModuleOptions;
  useClusterCredentials: boolean;
  /** What each flag was given, to name it in an error found later. */
  given: Partial<Record<Flag, string>>;
}

/** Parses the command line, or throws a LeaderElectorFlagError naming the flag and the fix. */
export function parseLeaderElectorFlags(args: string[]): LeaderElectorCommandLine {
  const given: Partial<Record<Flag, string>> = {};
  let useClusterCredentials = false;
  let help = false;
  const { tokens } = parseArgs({ args, options: FLAGS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw new LeaderElectorFlagError(token.value, `${COMMAND}: unexpected argument "${token.value}". Flags take the form --flag=value; known flags: ${knownFlags()}.`);
    }
    if (token.kind !== 'option') continue;
    const flag = token.name as Flag;
    if (!(flag in FLAGS)) {
      throw new LeaderElectorFlagError(token.rawName, `${COMMAND}: unknown flag ${token.rawName}. Known flags: ${knownFlags()}.`);
    }
    if (FLAGS[flag].type === 'boolean') {
      const value = token.value ?? 'true';
      if (value !== 'true' && value !== 'false') {
        throw new LeaderElectorFlagError(token.rawName, `${COMMAND}: ${token.rawName}=${value}: use ${token.rawName} alone, or =true / =false.`);
      }
      if (flag === 'help') help = value === 'true';
      else useClusterCredentials = value === 'true';
      continue;
    }
    // `--ttl --id x` would read "--id" as the ttl: a value never starts with "-".
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
      throw new LeaderElectorFlagError(token.rawName, `${COMMAND}: ${token.rawName} needs a value, e.g. ${token.rawName}=${example(flag)}.`);
    }
    given[flag] = token.value;
  }
  if (help) return { help, options: {} as LeaderElectionModuleOptions, useClusterCredentials, given };

  const ttl = given.ttl ?? DEFAULT_TTL;
  const ttlMs = parseGoDuration(ttl);
  if (ttlMs === undefined) {
    throw new LeaderElectorFlagError('--ttl', `${COMMAND}: --ttl=${ttl} is not a duration. Use Go's syntax, e.g. --ttl=10s or --ttl=1m.`);
  }
  if (ttlMs < 1_000 || ttlMs % 1_000 !== 0) {
    throw new LeaderElectorFlagError('--ttl', `${COMMAND}: --ttl=${ttl} is ${ttlMs} ms. A Lease stores its duration in whole seconds, at least 1: use e.g. --ttl=${Math.max(1, Math.round(ttlMs / 1_000))}s.`);
  }
  const renewDeadlineMs = ttlMs / 2;
  // A missing --election is left for the library's own check (lease.name), reworded to name the flag.
  const lease = {
    name: given.election as string,
    namespace: given['election-namespace'] ?? DEFAULT_NAMESPACE,
    leaseDurationMs: ttlMs,
    renewDeadlineMs,
    retryPeriodMs: ttlMs / 4,
    // The library's default, max(1 s, renewDeadline / 2), but never past the renew deadline.
    requestTimeoutMs: Math.min(renewDeadlineMs, Math.max(1_000, renewDeadlineMs / 2)),
  };
  const options: LeaderElectionModuleOptions = {
    backend: 'lease',
    lease,
    ...(given.id !== undefined && { identity: given.id }),
    ...(given.http !== undefined && { serveSidecarApi: parseHttpAddress(given.http) }),
  };
  return { help, options, useClusterCredentials, given };
}

/**
 * Says what a LeaderElectionConfigError means in terms of the flag that set the option; an error
 * about a setting that is not a flag's option (KUBECONFIG, --use-cluster-credentials) names that
 * setting as it is.
 */
export function flagErrorFromConfigError(error: LeaderElectionConfigError, given: LeaderElectorCommandLine['given']): LeaderElectorFlagError {
  const flag = flagOfOption(error.option);
  if (flag === undefined) {
    return new LeaderElectorFlagError(error.option, `${COMMAND}: ${describeSetting(error.option, error.value)}: ${error.fix}`);
  }
  const value = given[flag];
  const shown = value === undefined ? `--${flag} is missing` : `--${flag}=${value}`;
  const ttlNote = flag === 'ttl' ? ' (--ttl sets lease.leaseDurationMs; renewDeadlineMs is ttl/2 and retryPeriodMs ttl/4.)' : '';
  return new LeaderElectorFlagError(`--${flag}`, `${COMMAND}: ${shown}: ${error.fix}${ttlNote}`);
}

/** The flag that sets a library option, or undefined for a setting no flag sets. */
function flagOfOption(option: string): Flag | undefined {
  if (option === 'identity') return 'id';
  if (option === 'lease.name') return 'election';
  if (option === 'lease.namespace') return 'election-namespace';
  if (option.startsWith('serveSidecarApi')) return 'http';
  if (/^lease\.(leaseDurationMs|renewDeadlineMs|retryPeriodMs|requestTimeoutMs)$/.test(option)) return 'ttl';
  return undefined;
}

/** `--use-cluster-credentials`, `KUBECONFIG=/path`, `KUBECONFIG is not set`. */
export function describeSetting(setting: string, value: unknown): string {
  if (setting.startsWith('--')) return value === true ? setting : `${setting}=${String(value)}`;
  if (value === undefined) return `${setting} is not set`;
  if (typeof value === 'string' && value.startsWith('not set')) return `${setting} is ${value}`;
  return `${setting}=${String(value)}`;
}

/** `host:port` as Go's net.SplitHostPort reads it: `[::1]:4040`, `:4040` for every interface. */
function parseHttpAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port > 65_535) {
    throw new LeaderElectorFlagError('--http', `${COMMAND}: --http=${text} is not a host:port address. Use e.g. --http=localhost:4040 (this pod only) or --http=:4040 (every interface).`);
  }
  const host = match[1] ?? match[2]!;
  return { host: host === '' ? '0.0.0.0' : host, port };
}

function knownFlags(): string {
  return Object.keys(FLAGS).map((flag) => `--${flag}`).join(', ');
}

function example(flag: Flag): string {
  return { election: 'my-app', 'election-namespace': 'default', http: 'localhost:4040', id: '$(MY_POD_NAME)', ttl: DEFAULT_TTL }[flag as string] ?? '';
}
