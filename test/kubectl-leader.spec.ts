import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { LeaseOptions } from '../lib/index.js';
import { decodeHistory, HISTORY_ANNOTATION, REQUEST_PREFIX, RESULTS_ANNOTATION, decodeResults } from '../lib/control/control-record.js';
import { formatTable, humanAge, painterFor, plain } from '../lib/cli/text-format.js';
import { toYaml } from '../lib/cli/yaml-format.js';
import { formatMicroTime } from '../lib/electors/lease/resourcelock/lease-record.js';
import { LEDGER_ANNOTATION } from '../lib/ledger/ledger-record.js';
import { writeUserKubeConfig } from './support/kubeconfig-file.js';
import { buildKubectlLeader, KubectlLeader, type CommandRun } from './support/kubectl-leader-process.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { cronJob, RunRecorder, type RecordedRun } from './support/recorded-jobs.js';

/**
 * `kubectl-leader jobs ...` (issue 14, item 5): the compiled bin run as real processes with a
 * user's kubeconfig against the test apiserver, while a real Nest app leads on the same Lease.
 * Observed as a user sees it (its output and exit status) and as the app sees it (its jobs(),
 * its runs), and the Lease in between.
 */

const FAST: Omit<LeaseOptions, 'name'> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
const LEASE = 'jobs-cli-lease';
const JOB = 'report';

const recorder = new RunRecorder();
const cluster = new LeaseCandidates(LEASE);
const cli = new KubectlLeader();
let directory: string;
/** What a run asked for from the command does (a scheduled run does nothing). */
let manualWork: (run: RecordedRun) => Promise<void> | void = () => undefined;

beforeAll(() => buildKubectlLeader(), 120_000);

beforeEach(async () => {
  recorder.clear();
  manualWork = () => undefined;
  await cluster.setUp();
  await cli.setUp();
  directory = await mkdtemp(join(tmpdir(), 'kubectl-leader-spec-'));
});

afterEach(async () => {
  await cli.tearDown();
  await cluster.tearDown();
  await rm(directory, { recursive: true, force: true });
});

/** The app's pod: one @Cron job firing every second, keyed `report`. */
function pod(identity: string) {
  const Job = cronJob({ recorder, identity, work: (run) => (run.context.kind === 'manual' ? manualWork(run) : undefined) }, '* * * * * *', JOB);
  return cluster.startTracked({ identity, lease: FAST, module: { drainTimeoutMs: 200 }, providers: [Job] });
}

/** A user of the cluster with a kubeconfig file of their own (no RBAC rules: allowed everything). */
async function userEnv(user = 'alice', rules?: Parameters<typeof cluster.server.addUser>[1]): Promise<Record<string, string>> {
  if (rules !== undefined) cluster.server.addUser(user, rules);
  return { KUBECONFIG: await writeUserKubeConfig(cluster.server, user, directory) };
}

const annotations = () => cluster.server.getLease('default', LEASE)?.metadata.annotations ?? {};
const endedRuns = () => (decodeHistory(annotations()[HISTORY_ANNOTATION]).get(JOB) ?? []).filter((run) => run.outcome !== undefined);

/** The pod leads and the Lease knows the job: ledger entry and `count` ended runs in the history. */
async function leading(count = 1) {
  const a = await pod('pod-a');
  await cluster.timeline.until(() => a.leader.isLeader());
  await expect.poll(() => endedRuns().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(count);
  expect(annotations()[LEDGER_ANNOTATION]).toContain(`"${JOB}"`);
  return a;
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');
/** Every cell of `rows` starts where its header does, as kubectl's columns. */
function expectAligned(header: string, rows: readonly string[]): void {
  const starts = [...header.matchAll(/(?<=^| {3})\S/g)].map((match) => match.index);
  // An empty last cell leaves the row short of its column.
  for (const row of rows) for (const start of starts.filter((start) => start < row.length)) expect(`${row[start - 1] ?? ' '}${row[start]}`, `${header}\n${row}`).toMatch(/^ \S$/);
}

const ok = (run: CommandRun) => {
  expect(run, `exit ${JSON.stringify(run.exit)}\n${run.stderr}`).toMatchObject({ exit: { code: 0, signal: null } });
  return run;
};

describe('seeing the jobs', () => {
  it('jobs list and jobs describe show the leader, a paused job (by, at, note) and its last runs, aligned, without colour', async () => {
    const a = await leading(2);
    await a.leader.pause(JOB, { note: 'database migration' });
    const env = await userEnv();

    const list = ok(await cli.run(['jobs', 'list', '--lease', LEASE], env));
    const [leaseLine, header, row, ...rest] = lines(list.stdout);
    expect(leaseLine).toMatch(new RegExp(`^Lease default/${LEASE}: held by pod-a \\(term 0\\), renewed \\d+s ago\\.$`));
    expect(header).toBe('JOB      PAUSED   LAST RUN               POD     OUTCOME     RUNNING ON');
    expect(row).toMatch(/^report {3}True {5}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {3}pod-a {3}succeeded {3}(<none>|pod-a)$/);
    expectAligned(header!, [row!]);
    expect(rest).toEqual([]);
    expect(list.stderr).toBe('');
    expect(list.stdout).not.toContain('\u001b[');

    const describe = ok(await cli.run(['jobs', 'describe', JOB, '--lease', LEASE], env)).stdout;
    expect(lines(describe)).toEqual(expect.arrayContaining([
      'Name:                     report',
      `Lease:                    default/${LEASE}`,
      "Schedule:                 <none> (not in the Lease: the schedule is in the app's code; ClusterLeaderService.jobs() shows it)",
      'Pause Annotation:         nestjs-cluster-leader/paused.report',
      'Paused:                   True',
      '  By:                     pod-a',
      '  Note:                   database migration',
      'Ledger:',
      '  Term:                   0',
      'Last Runs:',
      'Pending Requests:',
      'Recent Requests:',
    ]));
    expect(describe).toMatch(/^Leader: {19}pod-a \(term 0\), renewed \d+s ago$/m);
    expect(describe).toMatch(/^ {2}At: {21}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z \(\d+s ago\)$/m);
    const runsHeader = lines(describe).find((line) => line.startsWith('  FIRE TIME'))!;
    expect(runsHeader).toMatch(/^ {2}FIRE TIME {14}KIND {8}POD {5}TERM {3}STARTED +DURATION {3}OUTCOME$/);
    const runRows = lines(describe).filter((line) => /^ {2}\d{4}-\S+Z {3}scheduled {3}pod-a {3}0 {6}\S+ +\d+ms +succeeded$/.test(line));
    expect(runRows.length).toBeGreaterThanOrEqual(2);
    expectAligned(runsHeader, runRows);
  });

  it('-o json and -o yaml print the same data, and both parse', async () => {
    const a = await leading(1);
    await a.leader.pause(JOB, { note: 'quarter end: "hold"' });
    // A Lease at rest (released), so that two reads see the same renewTime.
    await cluster.close(a);
    const env = await userEnv();

    const json = JSON.parse(ok(await cli.run(['jobs', 'list', '--lease', LEASE, '-o', 'json'], env)).stdout);
    expect(json.lease).toMatchObject({ namespace: 'default', name: LEASE, holder: null, term: 0 });
    expect(json.jobs).toEqual([
      expect.objectContaining({
        key: JOB,
        pauseAnnotation: `nestjs-cluster-leader/paused.${JOB}`,
        paused: { by: 'pod-a', at: expect.stringMatching(/Z$/), note: 'quarter end: "hold"' },
        ledger: expect.objectContaining({ term: 0, state: 'succeeded' }),
        lastRuns: expect.arrayContaining([expect.objectContaining({ pod: 'pod-a', kind: 'scheduled', outcome: 'succeeded' })]),
        requests: [],
        results: [],
      }),
    ]);
    const yaml = ok(await cli.run(['jobs', 'list', '--lease', LEASE, '-o', 'yaml'], env)).stdout;
    expect(parseYaml(yaml)).toEqual(json);
    expect(yaml).toMatch(/^jobs:\n- key: report\n {2}pauseAnnotation: nestjs-cluster-leader\/paused\.report\n/m);

    const described = ok(await cli.run(['jobs', 'describe', JOB, '--lease', LEASE, '-ojson'], env)).stdout;
    expect(JSON.parse(described)).toEqual({ lease: json.lease, job: json.jobs[0] });
    expect(parseYaml(ok(await cli.run(['jobs', 'describe', JOB, '--lease', LEASE, '-o=yaml'], env)).stdout)).toEqual(JSON.parse(described));
  });
});

describe('steering the jobs', () => {
  it("jobs pause stops the leader's ticks and the app's jobs() shows who and why; jobs resume runs them again; the election record is left as it was", async () => {
    const a = await leading(1);
    const env = await userEnv();
    // Each write of the command must change annotations only: the spec it wrote is the one before it.
    const specs: { user: string | null; spec: string }[] = [];
    cluster.server.on('request', ({ user, verb, status }) => {
      if ((verb === 'update' || verb === 'create') && status < 300) specs.push({ user, spec: JSON.stringify(cluster.server.getLease('default', LEASE)?.spec) });
    });

    const paused = ok(await cli.run(['jobs', 'pause', JOB, '--lease', LEASE, '--note', 'db migration'], env));
    expect(paused.stdout).toBe('job/report paused\n');
    await expect.poll(() => a.leader.jobs().find((job) => job.key === JOB)?.paused).toEqual({ by: 'alice', at: expect.stringMatching(/Z$/), note: 'db migration' });
    const runs = recorder.runs.length;
    const skipped = a.leader.jobCounters()['RecordedCronJob.tick']!.skipped;
    await expect.poll(() => a.leader.jobCounters()['RecordedCronJob.tick']!.skipped, { timeout: 4_000 }).toBeGreaterThan(skipped + 1);
    expect(recorder.runs.length).toBeLessThanOrEqual(runs + 1); // at most the tick already under way

    expect(ok(await cli.run(['jobs', 'resume', JOB, '--lease', LEASE], env)).stdout).toBe('job/report resumed\n');
    await recorder.waitFor(() => recorder.runs.length >= runs + 2);
    expect(a.leader.jobs().find((job) => job.key === JOB)?.paused).toBeNull();
    expect(ok(await cli.run(['jobs', 'resume', JOB, '--lease', LEASE], env)).stdout).toBe('job/report was not paused: nothing to resume.\n');

    const written = specs.flatMap((write, i) => (write.user === 'alice' ? [{ before: specs[i - 1]?.spec, after: write.spec }] : []));
    expect(written).toHaveLength(2);
    for (const { before, after } of written) expect(after).toBe(before);
  });

  it('jobs run: the leading app runs the job once, and the command prints how it went (exit 0, or 1 when it failed); --no-wait only asks', async () => {
    await leading(1);
    const env = await userEnv();

    const run = ok(await cli.run(['jobs', 'run', JOB, '--lease', LEASE, '--timeout', '10s'], env));
    const manual = recorder.runs.filter((recorded) => recorded.context.kind === 'manual');
    expect(manual).toHaveLength(1);
    expect(manual[0]!.identity).toBe('pod-a');
    const [header, row] = lines(run.stdout);
    expect(header).toMatch(/^ID {17}KIND {3}STATE {7}POD {5}TERM {3}FIRE TIME +STARTED +DURATION {3}DETAIL$/);
    expect(row).toMatch(/^[0-9a-f]{16} {3}run {4}succeeded {3}pod-a {3}0 {6}\S+Z {3}\S+Z {3}\d+ms$/);
    expectAligned(header!, [row!]);
    expect(run.stderr).toMatch(/^Asked the leader for a run of job "report" \(request [0-9a-f]{16}\); waiting up to 10s for the outcome \(leader: pod-a\)\.$/m);

    manualWork = () => {
      throw new Error('the report server is down');
    };
    const failed = await cli.run(['jobs', 'run', JOB, '--lease', LEASE, '-o', 'json'], env);
    expect(failed.exit).toEqual({ code: 1, signal: null });
    expect(JSON.parse(failed.stdout)).toMatchObject({ job: JOB, kind: 'run', state: 'failed', pod: 'pod-a', term: 0, fireTime: expect.stringMatching(/Z$/) });

    manualWork = () => undefined;
    const asked = ok(await cli.run(['jobs', 'run', JOB, '--lease', LEASE, '--no-wait', '-o', 'json'], env));
    const request = JSON.parse(asked.stdout);
    expect(request).toMatchObject({ job: JOB, id: expect.stringMatching(/^[0-9a-f]{16}$/), kind: 'run', by: 'alice' });
    await expect.poll(() => decodeResults(annotations()[RESULTS_ANNOTATION]).get(request.id)?.state).toBe('succeeded');
    expect(recorder.runs.filter((recorded) => recorded.context.kind === 'manual')).toHaveLength(3);

    // A user RBAC lets get and update the Lease but not watch it: the command reads it instead.
    const rule = { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEASE], namespaces: ['default'], verbs: ['get' as const, 'update' as const] };
    const operator = await userEnv('operator', { rules: [rule] });
    const watches: number[] = [];
    cluster.server.on('request', ({ user, verb, status }) => user === 'operator' && verb === 'watch' && watches.push(status));
    const polled = ok(await cli.run(['jobs', 'run', JOB, '--lease', LEASE, '-o', 'yaml'], operator));
    expect(parseYaml(polled.stdout)).toMatchObject({ job: JOB, kind: 'run', state: 'succeeded', pod: 'pod-a' });
    expect(watches).toEqual([403]);
    expect(recorder.runs.filter((recorded) => recorded.context.kind === 'manual')).toHaveLength(4);
  });

  it('jobs run exits 3 when no outcome comes within --timeout, saying where the request stands; describe shows how it went later', async () => {
    await leading(1);
    const env = await userEnv();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    manualWork = () => released;

    const run = await cli.run(['jobs', 'run', JOB, '--lease', LEASE, '--timeout', '1s'], env);
    expect(run.exit).toEqual({ code: 3, signal: null });
    expect(run.stdout).toBe('');
    const id = /request ([0-9a-f]{16})/.exec(run.stderr)![1]!;
    expect(lines(run.stderr)).toEqual([
      `Asked the leader for a run of job "report" (request ${id}); waiting up to 1s for the outcome (leader: pod-a).`,
      `Request ${id} taken by pod-a (term 0).`,
      `kubectl-leader: no outcome of a run of job "report" (request ${id}) within 1s: it runs on pod-a (term 0). The request stays in the Lease and may still run; kubectl leader jobs describe report shows how it went.`,
    ]);

    release();
    await expect.poll(() => decodeResults(annotations()[RESULTS_ANNOTATION]).get(id)?.state).toBe('succeeded');
    const described = JSON.parse(ok(await cli.run(['jobs', 'describe', JOB, '--lease', LEASE, '-o', 'json'], env)).stdout);
    expect(described.job.results[0]).toMatchObject({ id, kind: 'run', state: 'succeeded', pod: 'pod-a' });
    expect(described.job.lastRuns).toContainEqual(expect.objectContaining({ kind: 'manual', pod: 'pod-a', outcome: 'succeeded' }));
  });

  it('jobs backfill runs each fire time of the range on the leader, oldest first', async () => {
    await leading(1);
    const env = await userEnv();
    const run = ok(await cli.run(['jobs', 'backfill', JOB, '--lease', LEASE, '--from', '2026-03-01T00:00:00Z', '--to', '2026-03-01T00:00:02Z'], env));
    expect(lines(run.stdout)[1]).toMatch(/^[0-9a-f]{16} {3}backfill {3}succeeded {3}pod-a .* 3\/3 fire times, 2026-03-01T00:00:00Z\.\.2026-03-01T00:00:02Z$/);
    const backfilled = recorder.runs.filter((recorded) => recorded.context.kind === 'backfill');
    expect(backfilled.map((recorded) => recorded.context.scheduledAt!.toISOString())).toEqual(['2026-03-01T00:00:00.000Z', '2026-03-01T00:00:01.000Z', '2026-03-01T00:00:02.000Z']);
  });

  it('a job the Lease does not know is refused with the known ones listed (exit 2, nothing written); --force pauses it anyway', async () => {
    await leading(1);
    const env = await userEnv();
    const attempts = [['run', 'reports'], ['pause', 'reports'], ['describe', 'reports']];
    const refusals = await Promise.all(attempts.map((args) => cli.run(['jobs', ...args, '--lease', LEASE], env)));
    for (const [i, args] of attempts.entries()) {
      const refused = refusals[i]!;
      expect(refused.exit).toEqual({ code: 2, signal: null });
      expect(lines(refused.stderr)).toEqual([
        `kubectl-leader: the Lease default/${LEASE} knows no job "reports". Known jobs: "report". Use a job's key (its @Cron({ name }), else ClassName.methodName)` +
          (args[0] === 'describe' ? '.' : `; a job that never ran has no entry yet: pass --force to ${args[0]} it anyway.`),
      ]);
    }
    expect(Object.keys(annotations()).filter((name) => name.startsWith(REQUEST_PREFIX) || name.includes('paused.'))).toEqual([]);

    ok(await cli.run(['jobs', 'pause', 'nightly', '--force', '--note', 'not yet', '--lease', LEASE], env));
    const { jobs } = JSON.parse(ok(await cli.run(['jobs', 'list', '--lease', LEASE, '-o', 'json'], env)).stdout);
    expect(jobs.map((job: { key: string }) => job.key)).toEqual(['nightly', JOB]);
    expect(jobs[0]).toMatchObject({ paused: { by: 'alice', note: 'not yet' }, ledger: null, lastRuns: [] });
  });
});

describe('credentials, permissions and the command line', () => {
  /** A Lease an app left behind, knowing the job: enough for what the API refuses. */
  function seedLease(): void {
    cluster.server.putLease('default', {
      metadata: { name: LEASE, namespace: 'default', annotations: { [LEDGER_ANNOTATION]: JSON.stringify({ v: 1, j: { [JOB]: [Date.UTC(2026, 2, 1), 's', 2] } }) } },
      spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 2, renewTime: formatMicroTime(new Date(Date.now() - 60_000)) },
    });
  }

  it('a 403 names the verb and the RBAC rule the user needs, in one line (exit 1)', async () => {
    seedLease();
    const rule = { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEASE], namespaces: ['default'] };
    const viewer = await userEnv('viewer', { rules: [{ ...rule, verbs: ['get', 'watch'] }] });
    // Its holder stopped renewing a minute ago: the command says what that means.
    expect(lines(ok(await cli.run(['jobs', 'list', '--lease', LEASE], viewer)).stdout)[0]).toMatch(
      new RegExp(`^Lease default/${LEASE}: held by pod-a \\(term 2\\), renewed 6\\ds ago \\(more than its 15s lease: no pod may be leading; requests wait for the next leader\\)\\.$`),
    );

    const needs = `It needs a Role in namespace "default" with the rule { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["${LEASE}"], verbs: ["get", "update", "watch"] }, bound to it by a RoleBinding.`;
    const pause = await cli.run(['jobs', 'pause', JOB, '--lease', LEASE], viewer);
    expect(pause.exit).toEqual({ code: 1, signal: null });
    expect(lines(pause.stderr)).toHaveLength(1);
    expect(pause.stderr).toContain(`kubectl-leader: user "viewer" may not update the Lease default/${LEASE} (403 Forbidden). ${needs} The server said: `);

    const nobody = await userEnv('nobody', { rules: [] });
    const list = await cli.run(['jobs', 'list', '--lease', LEASE], nobody);
    expect(list.exit).toEqual({ code: 1, signal: null });
    expect(lines(list.stderr)).toEqual([expect.stringMatching(new RegExp(`^kubectl-leader: user "nobody" may not get the Lease default/${LEASE} \\(403 Forbidden\\)\\. `))]);
  });

  it('a bad kubeconfig gives one line naming the setting and the problem (exit 1)', async () => {
    const env = await userEnv();
    const missing = join(directory, 'missing.kubeconfig');
    const noUser = join(directory, 'no-user.kubeconfig');
    await writeFile(noUser, 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: { server: "https://127.0.0.1:1" }\ncontexts:\n- name: ctx\n  context: { cluster: c, user: ghost }\ncurrent-context: ctx\nusers: []\n');
    const cases: [Record<string, string>, string[], RegExp][] = [
      [{ KUBECONFIG: missing }, [], new RegExp(`^kubectl-leader: KUBECONFIG=${missing}: No file exists at "${missing}"\\. Point KUBECONFIG at an existing kubeconfig file`)],
      [{}, ['--kubeconfig', noUser], new RegExp(`^kubectl-leader: --kubeconfig=${noUser}: Its current context "ctx" names the user "ghost", which it does not define`)],
      [env, ['--context', 'prod'], /^kubectl-leader: --context=prod: The kubeconfig \(KUBECONFIG=.*\) has no such context \(contexts: "alice@kube-api-server-test"\)/],
      [{}, [], /^kubectl-leader: KUBECONFIG is not set: .*\.kube\/config does not exist and no ServiceAccount token is mounted .*Set KUBECONFIG or pass --kubeconfig <file>/],
    ];
    for (const [environment, flags, message] of cases) {
      const run = await cli.run(['jobs', 'list', '--lease', LEASE, ...flags], environment);
      expect(run.exit).toEqual({ code: 1, signal: null });
      expect(lines(run.stderr)).toEqual([expect.stringMatching(message)]);
      expect(run.stdout).toBe('');
    }
  });

  it('a Lease that does not exist says what to check; -n picks the namespace (exit 1)', async () => {
    seedLease();
    const env = await userEnv();
    const run = await cli.run(['jobs', 'list', '--lease', LEASE, '-n', 'billing'], env);
    expect(run.exit).toEqual({ code: 1, signal: null });
    expect(lines(run.stderr)).toEqual([
      `kubectl-leader: the Lease billing/${LEASE} does not exist (no pod has led an election on it yet). Check --lease (the app's lease.name option) and -n (the namespace its pods run in; kubectl get leases -n billing lists them).`,
    ]);
    ok(await cli.run(['jobs', 'list', '--lease', LEASE, '--namespace=default'], env));
  });

  it('a bad command line says what is wrong and how to ask for help (exit 2); --help prints the usage (exit 0)', async () => {
    const cases: [string[], string][] = [
      [[], 'no command given, e.g. `jobs list --lease my-app`.'],
      [['jobs', 'list'], "--lease is missing: name the Lease the app elects on (its lease.name option), e.g. --lease my-app."],
      [['jobs', 'stop', JOB, '--lease', LEASE], 'unknown command "jobs stop". Commands: list, describe, pause, resume, run, backfill.'],
      [['jobs', 'run', '--lease', LEASE], 'jobs run needs a job, e.g. jobs run BillingJobs.closeHourly (jobs list shows them).'],
      [['jobs', 'run', JOB, '--lease', LEASE, '--note', 'x'], 'jobs run takes no --note (only jobs pause takes it).'],
      [['jobs', 'list', '--lease', LEASE, '-o', 'wide'], '-o wide is not an output format. Use -o table (the default), -o json or -o yaml.'],
      [['jobs', 'run', JOB, '--lease', LEASE, '--timeout', '10'], '--timeout 10 is not a positive duration. Use Go\'s syntax, e.g. --timeout 30s or --timeout 5m.'],
      [['jobs', 'backfill', JOB, '--lease', LEASE, '--from', '2026-03-02T00:00:00Z', '--to', '2026-03-01T00:00:00Z'], '--from 2026-03-02T00:00:00Z is after --to 2026-03-01T00:00:00Z. Swap them.'],
      [['jobs', 'backfill', JOB, '--lease', LEASE, '--from', '2026-03-01 00:00', '--to', '2026-03-02'], '--from 2026-03-01 00:00 is not an ISO 8601 time with its zone. Use e.g. --from 2026-03-01T00:00:00Z.'],
      [['jobs', 'list', '--lease', LEASE, '--watch'], 'unknown flag --watch. Known flags: --lease, --namespace, --output, --kubeconfig, --context, --note, --force, --timeout, --no-wait, --from, --to, --help.'],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli.run(args)));
    for (const [i, [args, message]] of cases.entries()) {
      expect(runs[i]!.exit, args.join(' ')).toEqual({ code: 2, signal: null });
      expect(lines(runs[i]!.stderr)).toEqual([`kubectl-leader: ${message}`, 'Run kubectl-leader --help for the commands and flags.']);
    }
    const help = ok(await cli.run(['jobs', '--help']));
    expect(help.stdout).toMatch(/^Usage: kubectl-leader jobs <command> \[job\] --lease <name> \[flags\]\n/);
    expect(help.stdout).toContain('Exit status: 0 done');
  });
});

describe("the output's pieces", () => {
  it('-o yaml reads back as the data it was given, whatever the strings hold', () => {
    const data = {
      words: ['yes', 'No', 'null', '~', 'true', 'on', 'y'],
      numbers: ['1', '0x1f', '1e3', '.5', '-2', '3fa2b1c0d4e5f607', 'inf', '.nan'],
      times: ['2026-03-01T00:00:00Z', '2026-03-01'],
      text: ['a: b', '# not a comment', 'line\nbreak', ' padded ', '"quoted"', "it's", '- dash', '[x]', '{y}', '&anchor', '*alias', '!tag', '%', '@at', '`tick`', '', 'ünïcode', 'tab\there'],
      keys: { 'nestjs-cluster-leader/paused.report': 1, 'a key': 2, 'true': 3, '': 4 },
      nested: [[1, [2, []]], { a: { b: [{ c: null }] } }, {}],
      scalars: [0, -1.5, false, null],
      empty: { list: [], object: {} },
    };
    expect(parseYaml(toYaml(data))).toEqual(data);
    // And as YAML 1.1 readers (PyYAML, go-yaml v2) read it, where yes, on and 0x1f are no strings.
    expect(parseYaml(toYaml(data), { version: '1.1' })).toEqual(data);
    expect(toYaml({ jobs: [{ key: 'report', paused: null, lastRuns: [] }] })).toBe('jobs:\n- key: report\n  paused: null\n  lastRuns: []\n');
    expect(toYaml([])).toBe('[]\n');
  });

  it('colour only at a terminal without NO_COLOR, and columns aligned on the text, not the colour codes', () => {
    expect(painterFor({ isTTY: false }, {})).toBe(plain);
    expect(painterFor({ isTTY: true }, { NO_COLOR: '1' })).toBe(plain);
    const paint = painterFor({ isTTY: true }, {});
    const table = formatTable(['JOB', 'OUTCOME', 'POD'], [['a', { text: 'failed', colour: 'red' }, 'pod-a'], ['long-name', { text: 'succeeded', colour: 'green' }, 'pod-b']], paint);
    expect(table).toBe(
      'JOB         OUTCOME     POD\n' +
        'a           \u001b[31mfailed\u001b[39m      pod-a\n' +
        'long-name   \u001b[32msucceeded\u001b[39m   pod-b\n',
    );
  });

  it("ages read as kubectl's", () => {
    const s = 1_000;
    expect([0, 45 * s, 119 * s, 120 * s, 192 * s, 25 * 60 * s, 5 * 3_600 * s + 10 * 60 * s, 30 * 3_600 * s, 76 * 3_600 * s, 120 * 86_400 * s, 760 * 86_400 * s].map(humanAge))
      .toEqual(['0s', '45s', '119s', '2m', '3m12s', '25m', '5h10m', '30h', '3d4h', '120d', '2y30d']);
  });
});
