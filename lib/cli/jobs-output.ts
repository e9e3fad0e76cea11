import type { OutputFormat } from './jobs-flags.js';
import type { JobsState, JobView, LeaseSummary, RequestView } from './jobs-view.js';
import { duration, formatTable, humanAge, NONE, outcomeColour, shortTime, timeAndAge, type Cell, type Painter } from './text-format.js';
import { toYaml } from './yaml-format.js';

/** What `-o json` and `-o yaml` print: the data, the same for both. */
export function formatData(data: unknown, output: Exclude<OutputFormat, 'table'>): string {
  return output === 'json' ? `${JSON.stringify(data, null, 2)}\n` : toYaml(data);
}

/** `jobs list`: the Lease in one line, then one row per job. */
export function formatList({ lease, jobs }: JobsState, paint: Painter, now: number): string {
  const rows = jobs.map((job): Cell[] => {
    const last = lastEnded(job);
    return [
      job.key,
      job.paused === null ? 'False' : { text: 'True', colour: 'yellow' },
      last === undefined ? NONE : shortTime(last.fireTime),
      last?.pod ?? NONE,
      last === undefined ? NONE : { text: last.outcome, colour: outcomeColour(last.outcome) },
      job.running?.on ?? NONE,
    ];
  });
  const table = jobs.length === 0 ? 'No jobs in the Lease yet: none has run, and none is paused.\n' : formatTable(['JOB', 'PAUSED', 'LAST RUN', 'POD', 'OUTCOME', 'RUNNING ON'], rows, paint);
  return `${leaseLine(lease, now)}\n\n${table}`;
}

/** `jobs describe`: kubectl describe's layout, a field per line and a table per list. */
export function formatDescribe(lease: LeaseSummary, job: JobView, paint: Painter, now: number): string {
  const fields: [string, string][] = [
    ['Name', job.key],
    ['Lease', `${lease.namespace}/${lease.name}`],
    ['Leader', `${lease.holder ?? NONE} (term ${lease.term})${renewed(lease, now)}`],
    ['Schedule', `${NONE} (not in the Lease: the schedule is in the app's code; ClusterLeaderService.jobs() shows it)`],
    ['Pause Annotation', job.pauseAnnotation],
    ['Paused', job.paused === null ? 'False' : paint('True', 'yellow')],
  ];
  let text = fieldLines(fields);
  if (job.paused !== null) {
    text += fieldLines([
      ['  By', job.paused.by ?? NONE],
      ['  At', timeAndAge(job.paused.at, now)],
      ['  Note', job.paused.note === '' ? NONE : job.paused.note],
    ]);
  }
  text += 'Ledger:\n';
  text += job.ledger === null
    ? `  ${NONE} (no claimed tick: a job that claims none, or one that never ran)\n`
    : fieldLines([
        ['  Last Claimed Fire Time', timeAndAge(job.ledger.fireTime, now)],
        ['  State', paint(job.ledger.state, outcomeColour(job.ledger.state))],
        ['  Term', String(job.ledger.term)],
      ]);
  text += fieldLines([['Running On', running(job, lease, now)]]);
  text += 'Last Runs:\n';
  text += job.lastRuns.length === 0
    ? `  ${NONE}\n`
    : formatTable(
        ['FIRE TIME', 'KIND', 'POD', 'TERM', 'STARTED', 'DURATION', 'OUTCOME'],
        job.lastRuns.map((run) => [
          shortTime(run.fireTime), run.kind, run.pod, run.term === null ? NONE : String(run.term), shortTime(run.startedAt), duration(run.startedAt, run.endedAt),
          run.outcome === null ? { text: run.endedAt === null ? 'running' : NONE, colour: 'yellow' } : { text: run.outcome, colour: outcomeColour(run.outcome) },
        ]),
        paint,
        '  ',
      );
  text += 'Pending Requests:\n';
  text += job.requests.length === 0
    ? `  ${NONE}\n`
    : formatTable(
        ['ID', 'KIND', 'RANGE', 'BY', 'ASKED'],
        job.requests.map((request) => [request.id, request.kind, range(request), request.by ?? NONE, timeAndAge(request.at, now)]),
        paint,
        '  ',
      );
  text += 'Recent Requests:\n';
  text += job.results.length === 0 ? `  ${NONE}\n` : resultsTable(job.results, paint, '  ');
  return text;
}

/** How a run or a backfill went: one row, as `kubectl get` would show it. */
export function formatRequest(result: RequestView, paint: Painter): string {
  return resultsTable([result], paint, '');
}

function resultsTable(results: readonly RequestView[], paint: Painter, indent: string): string {
  return formatTable(
    ['ID', 'KIND', 'STATE', 'POD', 'TERM', 'FIRE TIME', 'STARTED', 'DURATION', 'DETAIL'],
    results.map((result) => [
      result.id, result.kind, { text: result.state, colour: outcomeColour(result.state) }, result.pod, result.term === null ? NONE : String(result.term),
      shortTime(result.fireTime), shortTime(result.startedAt), duration(result.startedAt, result.endedAt), detail(result),
    ]),
    paint,
    indent,
  );
}

function leaseLine(lease: LeaseSummary, now: number): string {
  return `Lease ${lease.namespace}/${lease.name}: held by ${lease.holder ?? 'no pod'} (term ${lease.term})${renewed(lease, now)}.`;
}

/** `, renewed 3s ago`; a renewal older than the lease duration (on this machine's clock) says so. */
function renewed({ holder, renewTime, leaseDurationSeconds }: LeaseSummary, now: number): string {
  if (renewTime === null) return '';
  const ago = now - Date.parse(renewTime);
  const lapsed = holder !== null && leaseDurationSeconds !== null && ago > leaseDurationSeconds * 1_000;
  return `, renewed ${humanAge(ago)} ago${lapsed ? ` (more than its ${leaseDurationSeconds}s lease: no pod may be leading; requests wait for the next leader)` : ''}`;
}

function running(job: JobView, lease: LeaseSummary, now: number): string {
  if (job.running === null) return NONE;
  const since = `${job.running.on} since ${timeAndAge(job.running.since, now)}, for ${shortTime(job.running.fireTime)}`;
  return job.running.on === lease.holder ? since : `${since} (not the leader now: its leader may have stopped before recording the end)`;
}

/** The newest run that ended: what LAST RUN shows. */
function lastEnded(job: JobView): { fireTime: string; pod: string; outcome: string } | undefined {
  const run = job.lastRuns.find((candidate) => candidate.outcome !== null);
  if (run !== undefined) return { fireTime: run.fireTime, pod: run.pod, outcome: run.outcome! };
  if (job.ledger !== null && job.ledger.state !== 'claimed') return { fireTime: job.ledger.fireTime, pod: NONE, outcome: job.ledger.state };
  return undefined;
}

function range(request: { from?: string; to?: string }): string {
  return request.from === undefined ? NONE : `${shortTime(request.from)}..${shortTime(request.to)}`;
}

function detail(result: RequestView): string {
  const parts: string[] = [];
  if (result.total !== undefined) parts.push(`${result.done ?? 0}/${result.total} fire times`);
  if (result.from !== undefined) parts.push(range(result));
  if (result.reason !== undefined) parts.push(result.reason);
  return parts.length === 0 ? '' : parts.join(', ');
}

/** Where describe's values start: past its longest field name, `  Last Claimed Fire Time:`. */
const FIELD_WIDTH = 26;

function fieldLines(fields: readonly [string, string][]): string {
  return fields.map(([name, value]) => `${`${name}:`.padEnd(FIELD_WIDTH)}${value}\n`).join('');
}
