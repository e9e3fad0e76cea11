import type { ControlRequest, JobPause, RequestResult, RunRecord } from './control-record.js';

/**
 * The control state of one election's jobs (pauses, requests, results, history), as the gate and
 * the service use it. The Lease backend keeps it in its Lease (see control-record.ts), so every
 * pod sees the same state and any pod may ask while only the leader acts; other backends have no
 * shared storage and no control.
 */
export interface JobControl {
  /** The job's pause (by its ledger key), as the Lease last seen says; undefined when it runs. */
  pauseOf(key: string): JobPause | undefined;
  /** The requests waiting for the leader, oldest first. */
  requests(): readonly ControlRequest[];
  /** How a request went, once the leader took it. */
  result(id: string): RequestResult | undefined;
  /** The requests some leader took and has not recorded as ended, oldest first. */
  unfinished(): readonly RequestResult[];
  /** The job's last runs, newest first. */
  runs(key: string): readonly RunRecord[];
  /** Called whenever the control state seen changes (a watch event, a write, a result recorded). */
  onChange(listener: () => void): () => void;
  /** Any pod: pauses a job; resolves once the Lease says so. */
  pause(key: string, pause: JobPause): Promise<void>;
  /** Any pod: resumes a job; resolves once the Lease says so. */
  resume(key: string): Promise<void>;
  /** Any pod: adds a request for the leader; resolves once the Lease holds it. */
  request(request: ControlRequest): Promise<void>;
  /** The leader: takes a request, once, with a write of its term; false when it could not. */
  take(request: ControlRequest, result: RequestResult): Promise<boolean>;
  /** The leader: a backfill's progress, before its next fire time runs; false when it could not. */
  advance(result: RequestResult): Promise<boolean>;
  /** The leader: how a request goes or went; written with the next write. */
  record(result: RequestResult): void;
  /** The leader: a run that started or ended; written with the next write. */
  recordRun(key: string, run: RunRecord): void;
}
