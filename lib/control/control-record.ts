import { createHash } from 'node:crypto';

/**
 * The control state of an election's jobs, kept in its Lease next to the ledger (issue 14): which
 * jobs are paused, the requests (run now, backfill) waiting for the leader, how the recent ones
 * ended, and each job's last runs. Annotations, so that `kubectl annotate` is a way to pause and
 * resume, every writer's change is its own key, and the leader's conditional writes keep them:
 *
 *   nestjs-cluster-leader/paused.<job>    a paused job: {"by":"alice","at":1767225600000,"note":"..."}
 *                                         (or any plain text: `kubectl annotate ... paused.<job>='why'`)
 *   nestjs-cluster-leader/request.<id>    a request waiting for the leader: {"job","kind","from","to","by","at"}
 *   nestjs-cluster-leader/results         how recent requests went: {"v":1,"r":{"<id>":{...}}}
 *   nestjs-cluster-leader/history         each job's last runs: {"v":1,"h":{"<job>":[[...], ...]}}
 *
 * `<job>` is the job's ledger key where it is a valid annotation name (see pauseAnnotation()).
 * Every value is bounded: a full history evicts its oldest runs first, never failing a claim.
 */
export const PAUSED_PREFIX = 'nestjs-cluster-leader/paused.';
export const REQUEST_PREFIX = 'nestjs-cluster-leader/request.';
export const RESULTS_ANNOTATION = 'nestjs-cluster-leader/results';
export const HISTORY_ANNOTATION = 'nestjs-cluster-leader/history';

/** Runs kept per job in the history. */
export const HISTORY_RUNS_PER_JOB = 5;
/** The history annotation's bound, in bytes: the oldest runs go first beyond it. */
export const MAX_HISTORY_BYTES = 24 * 1024;
/** Results kept, the most recent requests' first. */
export const MAX_RESULTS = 50;

/** Kubernetes: the name part of an annotation key has at most 63 characters of this alphabet. */
const ANNOTATION_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const MAX_NAME_LENGTH = 63;

export interface JobPause {
  /** Who paused it (a pod's identity, a user). */
  readonly by: string | null;
  /** When, ms since the epoch (null: not said, e.g. a plain `kubectl annotate`). */
  readonly at: number | null;
  readonly note: string;
}

export type RequestKind = 'run' | 'backfill';

export interface ControlRequest {
  readonly id: string;
  /** The job's ledger key. */
  readonly job: string;
  readonly kind: RequestKind;
  /** Backfill: the range of fire times, ms since the epoch, both ends included. */
  readonly from?: number;
  readonly to?: number;
  readonly by: string | null;
  readonly at: number;
}

/** How a run came about. */
export type RunKind = 'scheduled' | 'catchUp' | 'rerun' | 'manual' | 'backfill';
export type RunOutcome = 'succeeded' | 'failed' | 'interrupted';

/** One run of a job, as the history keeps it. */
export interface RunRecord {
  /** The fire time it ran for (the request's time for a manual run). */
  readonly fireTime: number;
  readonly pod: string;
  readonly term: number | null;
  readonly startedAt: number;
  /** Undefined while it runs (or when its leader died before recording the end). */
  readonly endedAt?: number;
  readonly outcome?: RunOutcome;
  readonly kind: RunKind;
}

export type RequestState = 'running' | 'succeeded' | 'failed' | 'interrupted' | 'dropped';

/** How a request went, as the results keep it. */
export interface RequestResult {
  readonly id: string;
  readonly job: string;
  readonly kind: RequestKind;
  readonly state: RequestState;
  /** The pod and term that took it. */
  readonly pod: string;
  readonly term: number | null;
  /** Who asked (a pod's identity, a user). */
  readonly by?: string | null;
  readonly startedAt: number;
  readonly endedAt?: number;
  /** A run: the time it ran for. A backfill: the last fire time taken (its progress). */
  readonly fireTime?: number;
  /** A backfill: its range (ms since the epoch, both ends included), so another leader can go on with it. */
  readonly from?: number;
  readonly to?: number;
  /** A backfill: how many fire times its range holds, and how many ran so far. */
  readonly total?: number;
  readonly done?: number;
  /** Why it was dropped or failed, in words. */
  readonly reason?: string;
}

/**
 * The annotation name part for a job's pause: `paused.<key>` when that is a valid name, else the
 * key's valid characters (shortened) and a hash of the whole key, so every job has one.
 */
export function pauseAnnotation(key: string): string {
  const name = `paused.${key}`;
  if (name.length <= MAX_NAME_LENGTH && ANNOTATION_NAME.test(name)) return `${PAUSED_PREFIX}${key}`;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 10);
  const readable = key.replace(/[^-A-Za-z0-9_.]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, MAX_NAME_LENGTH - 'paused.'.length - hash.length - 1);
  return `${PAUSED_PREFIX}${readable ? `${readable.replace(/[^A-Za-z0-9]+$/, '')}-` : ''}${hash}`;
}

export function encodePause(pause: JobPause): string {
  return JSON.stringify({ by: pause.by, at: pause.at, note: pause.note });
}

/** A pause annotation's value: our JSON, or any text a person wrote (its note). */
export function decodePause(value: string): JobPause {
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return {
        by: typeof parsed.by === 'string' ? parsed.by : null,
        at: typeof parsed.at === 'number' && Number.isFinite(parsed.at) ? parsed.at : null,
        note: typeof parsed.note === 'string' ? parsed.note : '',
      };
    }
  } catch {
    // Plain text: `kubectl annotate lease <name> nestjs-cluster-leader/paused.<job>='db migration'`
  }
  return { by: null, at: null, note: value };
}

export function encodeRequest({ job, kind, from, to, by, at }: ControlRequest): string {
  return JSON.stringify({ job, kind, ...(from !== undefined && { from }), ...(to !== undefined && { to }), by, at });
}

/** A request annotation, or undefined when it is not one this version can carry out. */
export function decodeRequest(id: string, value: string): ControlRequest | undefined {
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    if (typeof parsed.job !== 'string' || (parsed.kind !== 'run' && parsed.kind !== 'backfill')) return undefined;
    const at = typeof parsed.at === 'number' ? parsed.at : 0;
    const from = typeof parsed.from === 'number' ? parsed.from : undefined;
    const to = typeof parsed.to === 'number' ? parsed.to : undefined;
    if (parsed.kind === 'backfill' && (from === undefined || to === undefined)) return undefined;
    return { id, job: parsed.job, kind: parsed.kind, from, to, by: typeof parsed.by === 'string' ? parsed.by : null, at };
  } catch {
    return undefined;
  }
}

const KIND_CODES: Record<RunKind, string> = { scheduled: 's', catchUp: 'c', rerun: 'r', manual: 'm', backfill: 'b' };
const KINDS_BY_CODE: Record<string, RunKind> = { s: 'scheduled', c: 'catchUp', r: 'rerun', m: 'manual', b: 'backfill' };
const OUTCOME_CODES: Record<RunOutcome, string> = { succeeded: 's', failed: 'f', interrupted: 'i' };
const OUTCOMES_BY_CODE: Record<string, RunOutcome> = { s: 'succeeded', f: 'failed', i: 'interrupted' };

/** Job key -> its last runs, newest first. */
export type JobHistory = ReadonlyMap<string, readonly RunRecord[]>;

/**
 * The history annotation: per job the last HISTORY_RUNS_PER_JOB runs, newest first, as
 * [fireTime, pod, term, startedAt, endedAt, outcome, kind] (endedAt and outcome null while it
 * runs). Beyond `maxBytes`, the oldest runs of all jobs go first.
 */
export function encodeHistory(history: JobHistory, maxBytes = MAX_HISTORY_BYTES): string {
  const runs = [...history].flatMap(([job, records]) => records.slice(0, HISTORY_RUNS_PER_JOB).map((run) => ({ job, run })));
  runs.sort((a, b) => b.run.startedAt - a.run.startedAt);
  for (let kept = runs.length; kept >= 0; kept = Math.min(kept - 1, Math.floor(kept * 0.9))) {
    const value = serialiseHistory(runs.slice(0, kept));
    if (Buffer.byteLength(value, 'utf8') <= maxBytes || kept === 0) return value;
  }
  return serialiseHistory([]);
}

function serialiseHistory(runs: { job: string; run: RunRecord }[]): string {
  const jobs: Record<string, unknown[]> = Object.create(null);
  for (const { job, run } of runs) {
    (jobs[job] ??= []).push([run.fireTime, run.pod, run.term, run.startedAt, run.endedAt ?? null, run.outcome === undefined ? null : OUTCOME_CODES[run.outcome], KIND_CODES[run.kind]]);
  }
  return JSON.stringify({ v: 1, h: jobs });
}

/** Reads the history annotation; never throws (what cannot be read is left out). */
export function decodeHistory(value: string | undefined): Map<string, RunRecord[]> {
  const history = new Map<string, RunRecord[]>();
  if (!value) return history;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return history;
  }
  const jobs = (parsed as { h?: unknown })?.h;
  if (jobs === null || typeof jobs !== 'object') return history;
  for (const [job, rows] of Object.entries(jobs as Record<string, unknown>)) {
    if (!Array.isArray(rows)) continue;
    const runs: RunRecord[] = [];
    for (const row of rows) {
      if (!Array.isArray(row)) continue;
      const [fireTime, pod, term, startedAt, endedAt, outcome, kind] = row as unknown[];
      if (typeof fireTime !== 'number' || typeof pod !== 'string' || typeof startedAt !== 'number' || typeof kind !== 'string' || !(kind in KINDS_BY_CODE)) continue;
      runs.push({
        fireTime, pod, startedAt,
        term: typeof term === 'number' ? term : null,
        kind: KINDS_BY_CODE[kind]!,
        ...(typeof endedAt === 'number' && { endedAt }),
        ...(typeof outcome === 'string' && outcome in OUTCOMES_BY_CODE && { outcome: OUTCOMES_BY_CODE[outcome] }),
      });
    }
    history.set(job, runs);
  }
  return history;
}

/** The results annotation: the MAX_RESULTS most recent requests' outcomes. */
export function encodeResults(results: ReadonlyMap<string, RequestResult>): string {
  const recent = [...results.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, MAX_RESULTS);
  const byId: Record<string, Omit<RequestResult, 'id'>> = Object.create(null);
  for (const { id, ...result } of recent) byId[id] = result;
  return JSON.stringify({ v: 1, r: byId });
}

/** Reads the results annotation; never throws. */
export function decodeResults(value: string | undefined): Map<string, RequestResult> {
  const results = new Map<string, RequestResult>();
  if (!value) return results;
  try {
    const parsed = JSON.parse(value) as { r?: Record<string, Omit<RequestResult, 'id'>> };
    for (const [id, result] of Object.entries(parsed.r ?? {})) {
      if (result && typeof result === 'object' && typeof result.job === 'string' && typeof result.state === 'string') results.set(id, { id, ...result });
    }
  } catch {
    // An unreadable value is an empty one: the leader's next write replaces it.
  }
  return results;
}
