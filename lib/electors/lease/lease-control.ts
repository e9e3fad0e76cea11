import type { V1Lease } from '@kubernetes/client-node';
import type { JobControl } from '../../control/job-control.interface.js';
import {
  decodeHistory,
  decodePause,
  decodeRequest,
  decodeResults,
  encodeHistory,
  encodePause,
  encodeRequest,
  encodeResults,
  HISTORY_ANNOTATION,
  HISTORY_RUNS_PER_JOB,
  PAUSED_PREFIX,
  pauseAnnotation,
  REQUEST_PREFIX,
  RESULTS_ANNOTATION,
  type ControlRequest,
  type JobPause,
  type RequestResult,
  type RunRecord,
} from '../../control/control-record.js';

/** Annotations a write sets (a value) or removes (null). */
export type AnnotationEdits = Record<string, string | null>;

/** What a write of the control state carries, settled once the write's outcome is known. */
export interface ControlWrite {
  edits: AnnotationEdits;
  /** The changes of results and history it carries, counted when it was prepared. */
  resultsChanges: number;
  historyChanges: number;
  /** The changes asked for (pause, resume, a request) that this write carries. */
  changes: readonly PendingChange[];
  /** The requests this write takes (leader only): made good once the term is confirmed. */
  takes: readonly PendingTake[];
}

interface PendingChange {
  readonly edits: AnnotationEdits;
  settle(error?: Error): void;
}

interface PendingTake {
  /** The request it takes out of the Lease; undefined for a backfill's progress. */
  readonly request: ControlRequest | undefined;
  readonly result: RequestResult;
  written: boolean;
  settle(taken: boolean): void;
}

/** The Lease's annotations with `edits` applied. */
export function withAnnotations(lease: V1Lease, edits: AnnotationEdits): V1Lease {
  const keys = Object.keys(edits);
  if (keys.length === 0) return lease;
  const annotations: Record<string, string> = { ...lease.metadata?.annotations };
  for (const key of keys) {
    const value = edits[key];
    if (value === null || value === undefined) delete annotations[key];
    else annotations[key] = value;
  }
  return { ...lease, metadata: { ...lease.metadata, annotations } };
}

/**
 * The control state of the election's jobs (see control/control-record.ts), from the elector's
 * side: what the Lease says (which jobs are paused, the requests waiting, recent results, each
 * job's last runs), and what this process has to add to it. Like the ledger, every change rides
 * on a conditional write: a pod's pause or request on a write of its own (or the leader's next
 * one), the leader's taking of a request on a write of its term that is then confirmed, so a
 * request is taken once across handovers; history and results on whatever write comes next.
 */
export class LeaseControl implements JobControl {
  private pauses = new Map<string, JobPause>();
  private waiting: ControlRequest[] = [];
  private results = new Map<string, RequestResult>();
  private history = new Map<string, RunRecord[]>();
  /**
   * Results and runs this process recorded that the Lease may not have yet: a count of changes,
   * so a write only clears what it carried (a record made while it was out stays for the next).
   */
  private resultsChanges = 0;
  private historyChanges = 0;
  private get resultsDirty(): boolean {
    return this.resultsChanges > 0;
  }
  private get historyDirty(): boolean {
    return this.historyChanges > 0;
  }
  private readonly changes: PendingChange[] = [];
  private readonly takes: PendingTake[] = [];
  private readonly listeners = new Set<() => void>();
  private lastSeen: Record<string, string> | undefined;

  /** @param writeSoon asks the elector for a write that carries what waits (see PendingWrites) */
  constructor(private readonly writeSoon: () => void) {}

  pause(key: string, pause: JobPause): Promise<void> {
    return this.change({ [pauseAnnotation(key)]: encodePause(pause) });
  }

  resume(key: string): Promise<void> {
    return this.change({ [pauseAnnotation(key)]: null });
  }

  request(request: ControlRequest): Promise<void> {
    return this.change({ [`${REQUEST_PREFIX}${request.id}`]: encodeRequest(request) });
  }

  /** Requests waiting in the Lease, oldest first, less the ones this process is taking. */
  requests(): readonly ControlRequest[] {
    return this.waiting.filter((request) => !this.takes.some((take) => take.request?.id === request.id));
  }

  result(id: string): RequestResult | undefined {
    return this.results.get(id);
  }

  unfinished(): readonly RequestResult[] {
    return [...this.results.values()].filter((result) => result.state === 'running').sort((a, b) => a.startedAt - b.startedAt);
  }

  /** The job's last runs, newest first. */
  runs(key: string): readonly RunRecord[] {
    return this.history.get(key) ?? [];
  }

  /** Called whenever what the Lease says of the control state changes. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes in every Lease the elector sees. */
  seen(lease: V1Lease): void {
    const annotations = lease.metadata?.annotations ?? {};
    if (this.lastSeen !== undefined && sameControl(this.lastSeen, annotations)) return;
    this.lastSeen = annotations;
    this.pauses = new Map();
    this.waiting = [];
    for (const [name, value] of Object.entries(annotations)) {
      if (name.startsWith(PAUSED_PREFIX)) this.pauses.set(name, decodePause(value));
      else if (name.startsWith(REQUEST_PREFIX)) {
        const request = decodeRequest(name.slice(REQUEST_PREFIX.length), value);
        if (request !== undefined) this.waiting.push(request);
      }
    }
    this.waiting.sort((a, b) => a.at - b.at);
    // Ours are newer than what the Lease had, until a write carries them.
    const results = decodeResults(annotations[RESULTS_ANNOTATION]);
    for (const [id, result] of this.resultsDirty ? this.results : []) results.set(id, result);
    this.results = results;
    const history = decodeHistory(annotations[HISTORY_ANNOTATION]);
    if (this.historyDirty) for (const [job, runs] of this.history) history.set(job, mergeRuns(runs, history.get(job) ?? []));
    this.history = history;
    for (const listener of [...this.listeners]) listener();
  }

  /** The pause of a job (by its ledger key), as the Lease last seen says. */
  pauseOf(key: string): JobPause | undefined {
    return this.pauses.get(pauseAnnotation(key));
  }

  /**
   * Other annotations of this election's Lease (a shard request): written like a pause, on the
   * leader's next renew or this pod's own conditional write that leaves the record as it is.
   */
  annotate(edits: AnnotationEdits): Promise<void> {
    return this.change(edits);
  }

  /** A change asked for by this pod (pause, resume, a request): settles when a write carried it. */
  private change(edits: AnnotationEdits): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      const change: PendingChange = {
        edits,
        settle: (error) => {
          this.changes.splice(this.changes.indexOf(change), 1);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      this.changes.push(change);
    });
    this.writeSoon();
    return done;
  }

  get hasChanges(): boolean {
    return this.changes.length > 0;
  }

  /** Gives up every change still waiting (a write failed for good, or shutdown). */
  failChanges(error: Error): void {
    for (const change of [...this.changes]) change.settle(error);
  }

  /** The leader takes a request: true once a confirmed write of its term removed it from the Lease. */
  take(request: ControlRequest, result: RequestResult): Promise<boolean> {
    return this.commit(request, result);
  }

  /** The leader records a backfill's progress: true once a confirmed write of its term holds it. */
  advance(result: RequestResult): Promise<boolean> {
    return this.commit(undefined, result);
  }

  private commit(request: ControlRequest | undefined, result: RequestResult): Promise<boolean> {
    const taken = new Promise<boolean>((resolve) => {
      const take: PendingTake = {
        request, result,
        written: false,
        settle: (taken) => {
          this.takes.splice(this.takes.indexOf(take), 1);
          if (taken) this.record(result);
          resolve(taken);
        },
      };
      this.takes.push(take);
    });
    this.writeSoon();
    return taken;
  }

  get hasTakes(): boolean {
    return this.takes.length > 0;
  }

  /** How a request went (or goes): written with the next write. */
  record(result: RequestResult): void {
    this.results.set(result.id, result);
    this.resultsChanges++;
    for (const listener of [...this.listeners]) listener();
    // Whoever asked is waiting for it: it goes out with a write soon, not the next renew.
    this.writeSoon();
  }

  /** Results recorded here that no write has carried yet. */
  get hasResults(): boolean {
    return this.resultsDirty;
  }

  /**
   * The control annotations for a Lease this process re-creates: what it last saw of the deleted
   * one, with its own changes, so pauses, requests, results and history outlive the deletion.
   */
  carriedOver(): AnnotationEdits {
    const edits: AnnotationEdits = {};
    for (const [key, value] of Object.entries(this.lastSeen ?? {})) if (isControlKey(key)) edits[key] = value;
    return edits;
  }

  /** A run of a job, new or ended (same job, startedAt and pod): written with the next write. */
  recordRun(key: string, run: RunRecord): void {
    this.history.set(key, mergeRuns([run], this.history.get(key) ?? []));
    this.historyChanges++;
  }

  /** The term ended: the requests being taken are not taken. */
  endTerm(): void {
    for (const take of [...this.takes]) take.settle(false);
  }

  /** What a write conditional on `lease` carries of the control state. */
  prepare(lease: V1Lease | null, { leading }: { leading: boolean }): ControlWrite {
    const edits: AnnotationEdits = {};
    const changes = [...this.changes];
    for (const change of changes) Object.assign(edits, change.edits);
    const takes = leading ? [...this.takes] : [];
    for (const take of takes) if (take.request !== undefined) edits[`${REQUEST_PREFIX}${take.request.id}`] = null;
    const annotations = lease?.metadata?.annotations ?? {};
    // What a write carries of results and history (or finds in the Lease already) is counted, so
    // that its success clears exactly that much of what waits.
    let resultsChanges = 0;
    let historyChanges = 0;
    if (leading && (this.resultsDirty || takes.length > 0)) {
      const results = new Map(this.results);
      for (const take of takes) results.set(take.result.id, take.result);
      const value = encodeResults(results);
      if (value !== annotations[RESULTS_ANNOTATION]) edits[RESULTS_ANNOTATION] = value;
      resultsChanges = this.resultsChanges;
    }
    if (leading && this.historyDirty) {
      const value = encodeHistory(this.history);
      if (value !== annotations[HISTORY_ANNOTATION]) edits[HISTORY_ANNOTATION] = value;
      historyChanges = this.historyChanges;
    }
    return { edits, changes, takes, resultsChanges, historyChanges };
  }

  /** The write succeeded: what it carried is in the Lease (takes count once the term is confirmed). */
  written({ changes, takes, resultsChanges, historyChanges }: ControlWrite): void {
    for (const change of changes) change.settle();
    for (const take of takes) take.written = true;
    this.resultsChanges -= resultsChanges;
    this.historyChanges -= historyChanges;
  }

  /** The write that carried them succeeded within a term still running: the takes are taken. */
  confirm(): void {
    for (const take of [...this.takes]) if (take.written) take.settle(true);
  }
}

/** Runs newest first: an update of a run (same start and pod) replaces it, at most HISTORY_RUNS_PER_JOB. */
function mergeRuns(newer: readonly RunRecord[], older: readonly RunRecord[]): RunRecord[] {
  const merged: RunRecord[] = [];
  for (const run of [...newer, ...older]) {
    const same = merged.find((other) => other.startedAt === run.startedAt && other.pod === run.pod && other.fireTime === run.fireTime);
    if (same === undefined) merged.push(run);
  }
  return merged.sort((a, b) => b.startedAt - a.startedAt).slice(0, HISTORY_RUNS_PER_JOB);
}

function sameControl(a: Record<string, string>, b: Record<string, string>): boolean {
  const keysA = Object.keys(a).filter(isControlKey);
  const keysB = Object.keys(b).filter(isControlKey);
  return keysA.length === keysB.length && keysA.every((key) => a[key] === b[key]);
}

function isControlKey(key: string): boolean {
  return key.startsWith(PAUSED_PREFIX) || key.startsWith(REQUEST_PREFIX) || key === RESULTS_ANNOTATION || key === HISTORY_ANNOTATION;
}
