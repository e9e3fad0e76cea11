import type { V1Lease } from '@kubernetes/client-node';
import {
  decodeHistory,
  decodePause,
  decodeRequest,
  decodeResults,
  HISTORY_ANNOTATION,
  PAUSED_PREFIX,
  pauseAnnotation,
  REQUEST_PREFIX,
  RESULTS_ANNOTATION,
  type RequestResult,
  type RequestState,
  type RunRecord,
} from '../control/control-record.js';
import { recordFromLeaseSpec } from '../electors/lease/resourcelock/lease-record.js';
import type { JobRunSummary, RequestOutcome } from '../interfaces/job-description.interface.js';
import { decodeLedger, LEDGER_ANNOTATION, type TickState } from '../ledger/ledger-record.js';

/** The Lease itself: who leads and since when, as its spec says. */
export interface LeaseSummary {
  namespace: string;
  name: string;
  /** Null when no pod holds it (released, or never held). */
  holder: string | null;
  /** Its `leaseTransitions`: the term of the holder. */
  term: number;
  renewTime: string | null;
  leaseDurationSeconds: number | null;
}

/** A request waiting in the Lease for the leader to take it. */
export interface PendingRequest {
  id: string;
  kind: 'run' | 'backfill';
  from?: string;
  to?: string;
  by: string | null;
  at: string;
}

/**
 * How a request went or goes, as the results annotation says: `ClusterLeaderService.runNow()`'s
 * answer (RequestOutcome), with `state` for its `outcome` since it may still be running.
 */
export type RequestView = Omit<RequestOutcome, 'outcome'> & { state: RequestState; from?: string; to?: string };

/**
 * One job as the Lease knows it; the same names and shapes as `ClusterLeaderService.jobs()`
 * (JobDescription) where they mean the same. The schedule is not here: it lives in the app's code.
 */
export interface JobView {
  key: string;
  /** The annotation that pauses it: `kubectl annotate lease <name> <this>='why'`. */
  pauseAnnotation: string;
  paused: { by: string | null; at: string | null; note: string } | null;
  /** Its ledger entry: the last fire time a leader claimed, how it ended, the claiming term. */
  ledger: { fireTime: string; state: TickState; term: number } | null;
  /** A run the history has no end of: running, or its leader stopped before recording the end. */
  running: { on: string; since: string; fireTime: string } | null;
  /** Its last runs on any pod, newest first. */
  lastRuns: JobRunSummary[];
  /** Requests waiting for the leader, oldest first. */
  requests: PendingRequest[];
  /** How the recent requests for it went, newest first. */
  results: RequestView[];
}

export interface JobsState {
  lease: LeaseSummary;
  jobs: JobView[];
  /** Keys the Lease knows as jobs: in the ledger, the history or paused. */
  known: string[];
}

/** Everything the Lease says about its jobs, from its annotations and its spec. */
export function readJobs(lease: V1Lease): JobsState {
  const annotations = lease.metadata?.annotations ?? {};
  const { ledger } = decodeLedger(annotations[LEDGER_ANNOTATION]);
  const history = decodeHistory(annotations[HISTORY_ANNOTATION]);
  const results = decodeResults(annotations[RESULTS_ANNOTATION]);
  const requests = Object.entries(annotations)
    .filter(([name]) => name.startsWith(REQUEST_PREFIX))
    .flatMap(([name, value]) => decodeRequest(name.slice(REQUEST_PREFIX.length), value) ?? [])
    .sort((a, b) => a.at - b.at);
  const ran = new Set([...ledger.keys(), ...history.keys()]);
  const mentioned = new Set([...ran, ...requests.map((request) => request.job), ...[...results.values()].map((result) => result.job)]);
  // A pause names its job in the annotation, or (for a key that is no valid name) by a hash of it.
  const pauses = new Map<string, string>();
  const byAnnotation = new Map([...mentioned].map((key) => [pauseAnnotation(key), key]));
  for (const [name, value] of Object.entries(annotations)) {
    if (name.startsWith(PAUSED_PREFIX)) pauses.set(byAnnotation.get(name) ?? name.slice(PAUSED_PREFIX.length), value);
  }
  const keys = [...new Set([...mentioned, ...pauses.keys()])].sort();
  const jobs = keys.map((key): JobView => {
    const entry = ledger.get(key);
    const runs = history.get(key) ?? [];
    const open = runs[0]?.endedAt === undefined ? runs[0] : undefined;
    const pause = pauses.get(key);
    const decoded = pause === undefined ? undefined : decodePause(pause);
    return {
      key,
      pauseAnnotation: pauseAnnotation(key),
      paused: decoded === undefined ? null : { by: decoded.by, at: iso(decoded.at), note: decoded.note },
      ledger: entry === undefined ? null : { fireTime: iso(entry.fireTime)!, state: entry.state, term: entry.term },
      running: open === undefined ? null : { on: open.pod, since: iso(open.startedAt)!, fireTime: iso(open.fireTime)! },
      lastRuns: runs.map(summarizeRun),
      requests: requests
        .filter((request) => request.job === key)
        .map(({ id, kind, from, to, by, at }) => ({ id, kind, ...(from !== undefined && { from: iso(from)! }), ...(to !== undefined && { to: iso(to)! }), by, at: iso(at)! })),
      results: [...results.values()].filter((result) => result.job === key).sort((a, b) => b.startedAt - a.startedAt).map(requestView),
    };
  });
  const record = recordFromLeaseSpec(lease.spec);
  return {
    lease: {
      namespace: lease.metadata?.namespace ?? '',
      name: lease.metadata?.name ?? '',
      holder: record.holderIdentity === '' ? null : record.holderIdentity,
      term: record.leaseTransitions,
      renewTime: record.renewTime === null ? null : record.renewTime.toISOString(),
      leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? null,
    },
    jobs,
    known: keys.filter((key) => ran.has(key) || pauses.has(key)),
  };
}

export function requestView(result: RequestResult): RequestView {
  return {
    id: result.id,
    job: result.job,
    kind: result.kind,
    state: result.state,
    pod: result.pod,
    term: result.term,
    fireTime: iso(result.fireTime),
    startedAt: iso(result.startedAt)!,
    endedAt: iso(result.endedAt),
    ...(result.from !== undefined && { from: iso(result.from)! }),
    ...(result.to !== undefined && { to: iso(result.to)! }),
    ...(result.total !== undefined && { total: result.total, done: result.done ?? 0 }),
    ...(result.reason !== undefined && { reason: result.reason }),
  };
}

function summarizeRun(run: RunRecord): JobRunSummary {
  return {
    fireTime: iso(run.fireTime)!,
    pod: run.pod,
    term: run.term,
    startedAt: iso(run.startedAt)!,
    endedAt: iso(run.endedAt),
    outcome: run.outcome ?? null,
    kind: run.kind,
  };
}

function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
