import { randomBytes } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import {
  decodeResults,
  encodePause,
  encodeRequest,
  pauseAnnotation,
  REQUEST_PREFIX,
  RESULTS_ANNOTATION,
  type ControlRequest,
  type RequestResult,
} from '../control/control-record.js';
import { EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE, JobsCommandError } from './jobs-command.error.js';
import type { JobsCommandLine } from './jobs-flags.js';
import type { JobsLease } from './jobs-lease.js';
import { formatData, formatDescribe, formatList, formatRequest } from './jobs-output.js';
import { readJobs, requestView, type JobsState, type JobView } from './jobs-view.js';
import { NOT_PAUSED, PROGRESS, TAKEN, TIMED_OUT, UNKNOWN_JOB, WAITING, WITHDRAWN, WRITTEN } from './jobs.messages.js';
import type { Painter } from './text-format.js';

/** Where a command writes, and its clock. */
export interface CommandIO {
  out(text: string): void;
  err(text: string): void;
  paint: Painter;
  now(): number;
}

/** Runs one `jobs` command against the Lease; resolves with the exit status, or throws a JobsCommandError. */
export async function runJobsCommand(commandLine: JobsCommandLine, lease: JobsLease, user: string, io: CommandIO): Promise<number> {
  switch (commandLine.verb) {
    case 'list':
      return list(commandLine, lease, io);
    case 'describe':
      return describe(commandLine, lease, io);
    case 'pause':
    case 'resume':
      return pauseOrResume(commandLine, lease, user, io);
    case 'run':
    case 'backfill':
      return request(commandLine, lease, user, io);
  }
}

async function list({ output }: JobsCommandLine, lease: JobsLease, io: CommandIO): Promise<number> {
  const state = readJobs(await lease.read());
  io.out(output === 'table' ? formatList(state, io.paint, io.now()) : formatData({ lease: state.lease, jobs: state.jobs }, output));
  return EXIT_OK;
}

async function describe({ output, job }: JobsCommandLine, lease: JobsLease, io: CommandIO): Promise<number> {
  const state = readJobs(await lease.read());
  const view = state.jobs.find((candidate) => candidate.key === job);
  if (view === undefined) {
    throw new JobsCommandError(UNKNOWN_JOB(job!, lease.describe(), state.jobs.map((candidate) => candidate.key), 'describe', false), EXIT_USAGE);
  }
  printJob(state, view, output, io);
  return EXIT_OK;
}

/**
 * Pause: the job's pause annotation, `{"by","at","note"}` (a pause already there is replaced).
 * Resume: the annotation removed. Each a conditional write of the Lease, re-read on a conflict.
 */
async function pauseOrResume({ verb, job, note, force, output }: JobsCommandLine, lease: JobsLease, user: string, io: CommandIO): Promise<number> {
  const key = job!;
  let wasPaused = false;
  const written = await lease.edit((current) => {
    const state = readJobs(current);
    const view = state.jobs.find((candidate) => candidate.key === key);
    wasPaused = view?.paused != null;
    if (verb === 'resume') {
      if (!wasPaused && !state.known.includes(key)) {
        throw new JobsCommandError(UNKNOWN_JOB(key, lease.describe(), state.known, 'resume', false), EXIT_USAGE);
      }
      return wasPaused ? { [pauseAnnotation(key)]: null } : undefined;
    }
    requireKnown(state, key, 'pause', force, lease);
    return { [pauseAnnotation(key)]: encodePause({ by: user, at: io.now(), note }) };
  });
  const state = readJobs(written);
  if (output !== 'table') {
    printJob(state, state.jobs.find((candidate) => candidate.key === key) ?? emptyJob(key), output, io);
  } else if (verb === 'resume' && !wasPaused) {
    io.out(`${NOT_PAUSED(key)}\n`);
  } else {
    io.out(`job/${key} ${verb === 'pause' ? 'paused' : 'resumed'}${verb === 'pause' && wasPaused ? ' (the pause already there is replaced)' : ''}\n`);
  }
  return EXIT_OK;
}

/**
 * Run now or backfill: a request annotation for the leader (who takes it once, with a write of
 * its term), then a watch on the Lease until the results annotation says how it went.
 */
async function request(commandLine: JobsCommandLine, lease: JobsLease, user: string, io: CommandIO): Promise<number> {
  const { verb, job, force, output, wait, timeout, timeoutMs, from, to } = commandLine;
  const kind = verb === 'run' ? 'run' : 'backfill';
  const id = randomBytes(8).toString('hex');
  const annotation = `${REQUEST_PREFIX}${id}`;
  const asked: ControlRequest = { id, job: job!, kind, ...(kind === 'backfill' && { from, to }), by: user, at: io.now() };
  let holder: string | null = null;
  const written = await lease.edit((current) => {
    const state = readJobs(current);
    holder = state.lease.holder;
    requireKnown(state, asked.job, verb, force, lease);
    return { [annotation]: encodeRequest(asked) };
  });

  if (!wait) {
    io.err(`${WRITTEN(kind, asked.job, id)}\n`);
    const pending = readJobs(written).jobs.find((candidate) => candidate.key === asked.job)?.requests.find((candidate) => candidate.id === id);
    io.out(output === 'table' ? `request/${id} created\n` : formatData({ job: asked.job, ...pending }, output));
    return EXIT_OK;
  }

  io.err(`${WAITING(kind, asked.job, id, holder, timeout)}\n`);
  let taken: RequestResult | undefined;
  const ended = await lease.waitFor(
    written,
    (current: V1Lease) => {
      const annotations = current.metadata?.annotations ?? {};
      const result = decodeResults(annotations[RESULTS_ANNOTATION]).get(id);
      if (result === undefined) {
        // The leader removes the request in the very write that records its result.
        if (!(annotation in annotations)) throw new JobsCommandError(WITHDRAWN(kind, asked.job, id), EXIT_FAILED);
        return undefined;
      }
      if (result.state !== 'running') return result;
      if (taken === undefined) io.err(`${TAKEN(result)}\n`);
      else if (result.done !== taken.done) io.err(`${PROGRESS(result)}\n`);
      taken = result;
      return undefined;
    },
    timeoutMs,
  );
  if (ended === undefined) throw new JobsCommandError(TIMED_OUT(kind, asked.job, id, timeout, taken), EXIT_TIMEOUT);
  const view = requestView(ended);
  io.out(output === 'table' ? formatRequest(view, io.paint) : formatData(view, output));
  return ended.state === 'succeeded' ? EXIT_OK : EXIT_FAILED;
}

/** A job the Lease does not know is refused (exit 2, listing the ones it knows), unless --force. */
function requireKnown(state: JobsState, key: string, verb: string, force: boolean, lease: JobsLease): void {
  if (force || state.known.includes(key)) return;
  throw new JobsCommandError(UNKNOWN_JOB(key, lease.describe(), state.known, verb, true), EXIT_USAGE);
}

function printJob(state: JobsState, job: JobView, output: JobsCommandLine['output'], io: CommandIO): void {
  io.out(output === 'table' ? formatDescribe(state.lease, job, io.paint, io.now()) : formatData({ lease: state.lease, job }, output));
}

function emptyJob(key: string): JobView {
  return { key, pauseAnnotation: pauseAnnotation(key), paused: null, ledger: null, running: null, lastRuns: [], requests: [], results: [] };
}
