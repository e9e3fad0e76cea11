import { parseArgs } from 'node:util';
import { MAX_LEDGER_KEY_LENGTH } from '../ledger/ledger-record.js';
import { JobsCommandError, EXIT_USAGE } from './jobs-command.error.js';
import { parseGoDuration } from './go-duration.js';

export const COMMAND = 'kubectl-leader';

export type JobsVerb = 'list' | 'describe' | 'pause' | 'resume' | 'run' | 'backfill';
export type OutputFormat = 'table' | 'json' | 'yaml';

const VERBS: readonly JobsVerb[] = ['list', 'describe', 'pause', 'resume', 'run', 'backfill'];
const OUTPUTS: readonly OutputFormat[] = ['table', 'json', 'yaml'];
/** How long `run` and `backfill` wait for the outcome, unless told: as ClusterLeaderService.runNow(). */
const DEFAULT_TIMEOUT = '60s';

const FLAGS = {
  lease: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  note: { type: 'string' },
  force: { type: 'boolean' },
  timeout: { type: 'string' },
  'no-wait': { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
type Flag = keyof typeof FLAGS;

/** Flags every command takes; the others only where VERB_FLAGS lists them. */
const COMMON_FLAGS: readonly Flag[] = ['lease', 'namespace', 'output', 'kubeconfig', 'context', 'help'];
const VERB_FLAGS: Record<JobsVerb, readonly Flag[]> = {
  list: [],
  describe: [],
  pause: ['note', 'force'],
  resume: [],
  run: ['timeout', 'no-wait', 'force'],
  backfill: ['from', 'to', 'timeout', 'no-wait', 'force'],
};

export const USAGE = `Usage: ${COMMAND} jobs <command> [job] --lease <name> [flags]
       (as a kubectl plugin: kubectl leader jobs <command> ...)

Sees and steers the @LeaderOnly() jobs of an app that elects its leader on a Lease
(nestjs-cluster-leader's 'lease' backend), through that Lease, with your kubeconfig. Any pod
of the app may be asked; the leader carries the change out.

Commands:
  jobs list                       every job the Lease knows: paused, last run, running on
  jobs describe <job>             what the Lease holds about one job
  jobs pause <job> [--note text]  skip its ticks on every pod until it is resumed
  jobs resume <job>               let its ticks run again
  jobs run <job>                  ask the leader to run it once now, and wait for the outcome
  jobs backfill <job> --from <time> --to <time>
                                  ask the leader to run each of its fire times in the range
                                  (ISO 8601, both ends included), and wait for the outcome

Flags:
  --lease <name>             the election's Lease (required: the app's lease.name option)
  -n, --namespace <ns>       the Lease's namespace (default: the context's, else "default")
  -o, --output <format>      table (default), json or yaml
  --kubeconfig <file>        the kubeconfig to use (default: KUBECONFIG, else ~/.kube/config)
  --context <name>           the kubeconfig context to use (default: its current context)
  --note <text>              pause: why, shown with the pause
  --force                    pause, run, backfill: a job the Lease does not know yet (one that
                             never ran has no entry)
  --timeout <duration>       run, backfill: how long to wait for the outcome, e.g. 30s, 5m
                             (default ${DEFAULT_TIMEOUT}); the request stays in the Lease after it
  --no-wait                  run, backfill: write the request and exit
  -h, --help                 show this text

Exit status: 0 done (a run or backfill succeeded); 1 the run or backfill failed, was
interrupted or dropped, or the command could not do its work (credentials, the API, no
such Lease); 2 a bad command line or an unknown job; 3 no outcome within --timeout.
`;

export interface JobsCommandLine {
  verb: JobsVerb;
  /** The job's ledger key (every command but list). */
  job: string | undefined;
  lease: string;
  /** Undefined: the context's namespace, else `default`. */
  namespace: string | undefined;
  output: OutputFormat;
  kubeconfig: string | undefined;
  context: string | undefined;
  note: string;
  force: boolean;
  timeoutMs: number;
  /** The --timeout as given, for messages. */
  timeout: string;
  wait: boolean;
  /** Backfill: the range, ms since the epoch, both ends included. */
  from: number | undefined;
  to: number | undefined;
}

export type ParsedCommandLine = { help: true } | { help: false; commandLine: JobsCommandLine };

/** Parses the command line, or throws a JobsCommandError (exit 2) naming the flag and the fix. */
export function parseJobsCommandLine(args: readonly string[]): ParsedCommandLine {
  const given: Partial<Record<Flag, string>> = {};
  const booleans = new Set<Flag>();
  const positionals: string[] = [];
  const { tokens } = parseArgs({ args: [...args], options: FLAGS, strict: false, allowPositionals: true, tokens: true });
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind === 'option-terminator') continue;
    if (token.kind !== 'option') continue;
    const flag = token.name as Flag;
    if (!(flag in FLAGS)) throw usage(`unknown flag ${token.rawName}. Known flags: ${Object.keys(FLAGS).map((name) => `--${name}`).join(', ')}.`);
    if (FLAGS[flag].type === 'boolean') {
      if (token.value !== undefined) throw usage(`${token.rawName} takes no value: use ${token.rawName} alone.`);
      booleans.add(flag);
      continue;
    }
    // `--lease -n x` would read "-n" as the Lease's name: a separate value never starts with "-".
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
      throw usage(`${token.rawName} needs a value, e.g. ${token.rawName} ${EXAMPLES[flag]} (a value that starts with "-": ${token.rawName}=<value>).`);
    }
    // `-o=json`, as kubectl takes it.
    given[flag] = token.rawName.length === 2 && token.inlineValue && token.value.startsWith('=') ? token.value.slice(1) : token.value;
  }
  if (booleans.has('help')) return { help: true };
  const [group, verbText, job, ...extra] = positionals;
  if (group === undefined) throw usage('no command given, e.g. `jobs list --lease my-app`.');
  if (group !== 'jobs') throw usage(`unknown command "${group}". Commands are under "jobs": ${VERBS.map((verb) => `jobs ${verb}`).join(', ')}.`);
  if (verbText === undefined) throw usage(`"jobs" needs a command: ${VERBS.join(', ')}.`);
  if (!(VERBS as readonly string[]).includes(verbText)) throw usage(`unknown command "jobs ${verbText}". Commands: ${VERBS.join(', ')}.`);
  const verb = verbText as JobsVerb;

  const allowed = new Set([...COMMON_FLAGS, ...VERB_FLAGS[verb]]);
  for (const flag of [...Object.keys(given), ...booleans] as Flag[]) {
    if (!allowed.has(flag)) {
      const takers = VERBS.filter((other) => VERB_FLAGS[other].includes(flag));
      throw usage(`jobs ${verb} takes no --${flag} (${takers.length > 0 ? `only jobs ${takers.join(', jobs ')} ${takers.length === 1 ? 'takes' : 'take'} it` : 'no command takes it'}).`);
    }
  }
  if (verb === 'list' && job !== undefined) throw usage(`jobs list takes no job ("${job}"); use jobs describe ${job} for one job.`);
  if (verb !== 'list' && job === undefined) throw usage(`jobs ${verb} needs a job, e.g. jobs ${verb} BillingJobs.closeHourly (jobs list shows them).`);
  if (extra.length > 0) throw usage(`unexpected argument "${extra[0]}": jobs ${verb} takes one job at a time.`);
  if (job !== undefined && job.length > MAX_LEDGER_KEY_LENGTH) throw usage(`the job "${job.slice(0, 40)}..." has ${job.length} characters; a job's key has at most ${MAX_LEDGER_KEY_LENGTH}.`);

  if (given.lease === undefined) throw usage(`--lease is missing: name the Lease the app elects on (its lease.name option), e.g. --lease my-app.`);
  const output = given.output ?? 'table';
  if (!(OUTPUTS as readonly string[]).includes(output)) throw usage(`-o ${output} is not an output format. Use -o table (the default), -o json or -o yaml.`);

  const timeout = given.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseGoDuration(timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw usage(`--timeout ${timeout} is not a positive duration. Use Go's syntax, e.g. --timeout 30s or --timeout 5m.`);

  let from: number | undefined;
  let to: number | undefined;
  if (verb === 'backfill') {
    from = parseTime('from', given.from);
    to = parseTime('to', given.to);
    if (from > to) throw usage(`--from ${given.from} is after --to ${given.to}. Swap them.`);
  }

  return {
    help: false,
    commandLine: {
      verb,
      job,
      lease: given.lease,
      namespace: given.namespace,
      output: output as OutputFormat,
      kubeconfig: given.kubeconfig,
      context: given.context,
      note: given.note ?? '',
      force: booleans.has('force'),
      timeoutMs,
      timeout,
      wait: !booleans.has('no-wait'),
      from,
      to,
    },
  };
}

const EXAMPLES: Record<Flag, string> = {
  lease: 'my-app',
  namespace: 'default',
  output: 'json',
  kubeconfig: '~/.kube/config',
  context: 'prod',
  note: '"database migration"',
  force: '',
  timeout: DEFAULT_TIMEOUT,
  'no-wait': '',
  from: '2026-03-01T00:00:00Z',
  to: '2026-03-01T06:00:00Z',
  help: '',
};

/**
 * An ISO 8601 time with its zone (`Z` or `+02:00`: without one, JavaScript would read the
 * machine's local time, which is no one's schedule), or a date alone (midnight UTC).
 */
function parseTime(flag: 'from' | 'to', text: string | undefined): number {
  if (text === undefined) throw usage(`jobs backfill needs --${flag}, e.g. --${flag} ${EXAMPLES[flag]} (ISO 8601, both ends included).`);
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw usage(`--${flag} ${text} is not an ISO 8601 time with its zone. Use e.g. --${flag} ${EXAMPLES[flag]}.`);
  return ms;
}

function usage(message: string): JobsCommandError {
  return new JobsCommandError(`${COMMAND}: ${message}`, EXIT_USAGE);
}
