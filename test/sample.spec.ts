import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerStartTime } from '../lib/electors/lease/container-start.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { writeUserKubeConfig } from './support/kubeconfig-file.js';
import type { JobDescription, RequestOutcome } from '../lib/index.js';
import { buildSample, SampleProcess, type SampleRun, type SampleStatus } from './support/sample-process.js';

/**
 * The sample app as users run it: compiled, started as separate Node processes, observed only
 * through its HTTP API, its logs and its exit code.
 */

/** The leader-elector sidecar's answer, as the real one gives it (JSON sent as text/plain). */
function startSidecarStandIn(): Promise<{ server: Server; url: string; setLeader: (name: string) => void }> {
  let leader = '';
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    response.end(JSON.stringify({ name: leader }));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, setLeader: (name) => (leader = name) });
    });
  });
}

beforeAll(() => buildSample(), 60_000);

describe('the sample with three replicas and the sidecar backend', () => {
  const pods = ['pod-a', 'pod-b', 'pod-c'] as const;
  type Pod = (typeof pods)[number];
  let sidecar: Awaited<ReturnType<typeof startSidecarStandIn>>;
  const samples = new Map<Pod, SampleProcess>();
  const sample = (pod: Pod) => samples.get(pod)!;
  const statuses = async () =>
    Object.fromEntries(await Promise.all(pods.map(async (pod) => [pod, await sample(pod).status()]))) as Record<Pod, SampleStatus>;

  beforeAll(async () => {
    sidecar = await startSidecarStandIn();
    sidecar.setLeader('pod-b');
    await Promise.all(
      pods.map(async (pod) => {
        samples.set(pod, await SampleProcess.start({
          MY_POD_NAME: pod,
          LEADER_ELECTION_BACKEND: 'sidecar',
          LEADER_ELECTION_SIDECAR_URL: sidecar.url,
          SAMPLE_JOB_CRON: '* * * * * *',
        }));
      }),
    );
  });

  afterAll(async () => {
    await Promise.all([...samples.values()].map((replica) => replica.kill()));
    if (sidecar === undefined) return;
    sidecar.server.closeAllConnections();
    await new Promise((resolve) => sidecar.server.close(resolve));
  });

  it('runs the job on the leader the sidecar names, and on no other replica', async () => {
    await sample('pod-b').waitForStatus((status) => status.runs >= 2);

    const all = await statuses();
    expect(Object.values(all).filter((status) => status.isLeader && status.runs > 0)).toHaveLength(1);
    expect(all['pod-b']).toMatchObject({ identity: 'pod-b', isLeader: true, leader: 'pod-b', term: null, shards: ['default'] });
    for (const pod of ['pod-a', 'pod-c'] as const) {
      expect(all[pod]).toEqual({ identity: pod, isLeader: false, leader: 'pod-b', runs: 0, term: null, shards: [] });
    }
    expect(sample('pod-b').output).toContainEqual(expect.stringMatching(/Listening on port \d+ as pod-b \(backend sidecar\)\./));
    expect(sample('pod-b').output).toContainEqual(expect.stringMatching(/\[ReportJob\] Run 2: wrote the report for \S+ \(term none\)\./));
  });

  it('serves /health (up on the leader and on followers, every election by name) and /metrics', async () => {
    await sample('pod-b').waitForStatus((status) => status.isLeader);
    for (const pod of pods) {
      const response = await fetch(`http://127.0.0.1:${sample(pod).port}/health`);
      expect(response.status, pod).toBe(200);
      const body = (await response.json()) as { status: string; info: Record<string, { status: string; elections: Record<string, { identity: string; leader: string | null; healthy: boolean }> }> };
      expect(body.status).toBe('ok');
      expect(body.info['leader-election']).toMatchObject({ status: 'up', elections: { default: { identity: pod, leader: 'pod-b', healthy: true } } });
    }
    const metrics = await fetch(`http://127.0.0.1:${sample('pod-b').port}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    expect(text).toContain('leader_election_master_status{name="default"} 1');
    expect(text).toMatch(/nestjs_cluster_leader_job_runs_total\{election="default",job="ReportJob\.report"\} [1-9]/);
    expect(text).toContain('process_cpu_seconds_total');
    const follower = await (await fetch(`http://127.0.0.1:${sample('pod-a').port}/metrics`)).text();
    expect(follower).toContain('leader_election_master_status{name="default"} 0');
    expect(follower).toMatch(/nestjs_cluster_leader_job_skipped_ticks_total\{election="default",job="ReportJob\.report",reason="not-leader"\} [1-9]/);
  });

  it('moves the job to the new leader when the sidecar names another pod', async () => {
    sidecar.setLeader('pod-c');
    const first = await sample('pod-c').waitForStatus((status) => status.runs >= 1);
    expect(first).toMatchObject({ isLeader: true, leader: 'pod-c' });
    // pod-b learns of the change on its own next poll of the sidecar (at most one poll later).
    const stepDown = await sample('pod-b').waitForStatus((status) => !status.isLeader);
    expect(stepDown.leader).toBe('pod-c');

    await sample('pod-c').waitForStatus((status) => status.runs >= first.runs + 2);
    const all = await statuses();
    expect(all['pod-b']).toMatchObject({ isLeader: false, leader: 'pod-c', runs: stepDown.runs });
    expect(all['pod-a']).toMatchObject({ isLeader: false, leader: 'pod-c', runs: 0 });
  });

  it('shuts every replica down gracefully on SIGTERM', async () => {
    const exits = await Promise.all(pods.map((pod) => sample(pod).stop()));
    expect(exits).toEqual(pods.map(() => ({ code: 0, signal: null })));
    expect(sample('pod-c').output).toContainEqual(expect.stringContaining('stopped leading: shutdown began'));
  });
});

describe('the sample with no leader-election settings', () => {
  let standalone: SampleProcess | undefined;
  afterAll(() => standalone?.kill());

  it('runs on the standalone default outside Kubernetes and counts its runs', async () => {
    standalone = await SampleProcess.start({ SAMPLE_JOB_CRON: '* * * * * *' });

    expect(standalone.output).toContainEqual(expect.stringContaining("backend 'auto' chose 'standalone'"));
    expect(standalone.output).toContainEqual(expect.stringMatching(/Listening on port \d+ as \S+ \(backend auto\)\./));
    const status = await standalone.waitForStatus((current) => current.runs >= 2);
    expect(status).toMatchObject({ isLeader: true, leader: status.identity, term: null });
    expect(status.identity).not.toBe('');
    expect(await standalone.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('the sample in place of the leader-elector sidecar (LEADER_ELECTION_SIDECAR_API_PORT)', () => {
  let serving: SampleProcess | undefined;
  afterAll(() => serving?.kill());

  it('answers the sidecar\'s question for the pod\'s other containers, then shuts down cleanly', async () => {
    serving = await SampleProcess.start({ MY_POD_NAME: 'pod-a', LEADER_ELECTION_BACKEND: 'standalone', LEADER_ELECTION_SIDECAR_API_PORT: '0' });
    const line = await serving.waitForLine(/Answering as the leader-elector sidecar did, for election 'default', on http:\/\/127\.0\.0\.1:\d+ /);
    const port = Number(/:(\d+) \(any path\)\.$/.exec(line)![1]);

    const answer = await fetch(`http://127.0.0.1:${port}/`);
    expect(answer.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await answer.text()).toBe('{"name":"pod-a"}');
    expect(await serving.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('the sample with three replicas on the Lease backend: each tick once, none lost (GET /runs)', () => {
  const pods = ['pod-a', 'pod-b', 'pod-c'];
  let server: KubeApiServer;
  let directory: string;
  const samples = new Map<string, SampleProcess>();

  beforeAll(async () => {
    server = await KubeApiServer.start();
    directory = await mkdtemp(join(tmpdir(), 'sample-lease-'));
    await Promise.all(
      pods.map(async (pod) => {
        samples.set(pod, await SampleProcess.start({
          MY_POD_NAME: pod,
          KUBECONFIG: await writeUserKubeConfig(server, pod, directory),
          LEADER_ELECTION_BACKEND: 'lease',
          LEADER_ELECTION_NAMESPACE: 'default',
          LEASE_DURATION_MS: '2000',
          RENEW_DEADLINE_MS: '1500',
          RETRY_PERIOD_MS: '300',
          SAMPLE_JOB_CRON: '* * * * * *',
          SAMPLE_JOB_MISFIRE: 'runEach',
        }));
      }),
    );
  });

  afterAll(async () => {
    await Promise.all([...samples.values()].map((replica) => replica.kill()));
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const leaderOf = async () => {
    for (;;) {
      for (const [pod, replica] of samples) if ((await replica.status()).isLeader) return pod;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('after the leader is cut off, the next one runs every missed second once, late, as a catch-up', async () => {
    const first = await leaderOf();
    await samples.get(first)!.waitForStatus((status) => status.runs >= 2);
    server.faults.partition(first, true);
    const [second] = await Promise.all([
      (async () => {
        for (;;) {
          const pod = await leaderOf();
          if (pod !== first) return pod;
        }
      })(),
    ]);
    await samples.get(second)!.waitForStatus((status) => status.runs >= 5);
    const byPod = Object.fromEntries(await Promise.all(pods.map(async (pod) => [pod, await samples.get(pod)!.runs()] as const)));
    const all: SampleRun[] = Object.values(byPod).flat();
    const seconds = all.map((run) => Date.parse(run.scheduledAt)).sort((a, b) => a - b);

    // No fire time ran twice, on one pod or across pods, and none between the first and the
    // last was lost: the takeover's gap was caught up.
    expect(new Set(seconds).size).toBe(seconds.length);
    for (let i = 1; i < seconds.length; i++) expect(seconds[i]! - seconds[i - 1]!).toBe(1_000);
    const catchUps = byPod[second]!.filter((run) => run.catchUp);
    expect(catchUps.length).toBeGreaterThan(0);
    // Each ran late, after its fire time had passed without a leader. The earliest is the first
    // after the window the cut-off leader had claimed ahead (2 retry periods past its last write,
    // and ran): at most a second later, and the takeover came a lease duration after that write.
    for (const run of catchUps) expect(Date.parse(run.startedAt)).toBeGreaterThan(Date.parse(run.scheduledAt));
    expect(Date.parse(catchUps[0]!.startedAt) - Date.parse(catchUps[0]!.scheduledAt)).toBeGreaterThan(2_000 - 2 * 300 - 1_000);
    // A new term, and a fencing token above every one the first leader used.
    const highest = (runs: SampleRun[]) => runs.reduce((max, run) => (BigInt(run.fencingToken!) > max ? BigInt(run.fencingToken!) : max), 0n);
    expect(byPod[second]!.every((run) => BigInt(run.fencingToken!) > highest(byPod[first]!))).toBe(true);
    expect(byPod[second]![0]!.term).toBeGreaterThan(byPod[first]![0]!.term!);
    server.faults.partition(first, false);
  });
});

describe("the sample's control endpoints (GET /jobs, POST /jobs/:name/pause|resume|run) and its dashboard at /leader", () => {
  const TOKEN = 'sample-control-secret';
  let server: KubeApiServer;
  let directory: string;
  /** pod-a has SAMPLE_CONTROL_TOKEN, pod-b has not; both on the Lease backend, one Lease. */
  const samples = new Map<'pod-a' | 'pod-b', SampleProcess>();
  const url = (pod: 'pod-a' | 'pod-b', path: string) => `http://127.0.0.1:${samples.get(pod)!.port}${path}`;
  const post = (pod: 'pod-a' | 'pod-b', path: string, { body, token }: { body?: unknown; token?: string } = {}) =>
    fetch(url(pod, path), {
      method: 'POST',
      headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...(token !== undefined && { authorization: `Bearer ${token}` }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const jobs = async (pod: 'pod-a' | 'pod-b') => (await (await fetch(url(pod, '/jobs'))).json()) as JobDescription[];

  beforeAll(async () => {
    server = await KubeApiServer.start();
    directory = await mkdtemp(join(tmpdir(), 'sample-control-'));
    const env = async (pod: string) => ({
      MY_POD_NAME: pod,
      KUBECONFIG: await writeUserKubeConfig(server, pod, directory),
      LEADER_ELECTION_BACKEND: 'lease',
      LEADER_ELECTION_NAMESPACE: 'default',
      LEASE_DURATION_MS: '2000',
      RENEW_DEADLINE_MS: '1500',
      RETRY_PERIOD_MS: '300',
      SAMPLE_JOB_CRON: '* * * * * *',
    });
    const [a, b] = await Promise.all([
      SampleProcess.start({ ...(await env('pod-a')), SAMPLE_CONTROL_TOKEN: TOKEN }),
      SampleProcess.start(await env('pod-b')),
    ]);
    samples.set('pod-a', a).set('pod-b', b);
    await Promise.all([a, b].map((sample) => sample.waitForStatus((status) => status.leader !== null)));
  });

  afterAll(async () => {
    await Promise.all([...samples.values()].map((replica) => replica.kill()));
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('GET /jobs lists the job `report` on every pod; without SAMPLE_CONTROL_TOKEN the mutating endpoints answer 403 saying why', async () => {
    for (const pod of ['pod-a', 'pod-b'] as const) {
      expect(await jobs(pod)).toEqual([expect.objectContaining({ key: 'report', name: 'ReportJob.report', election: 'default', controllable: true, paused: null })]);
    }
    for (const path of ['/jobs/report/pause', '/jobs/report/resume', '/jobs/report/run', '/leader/api/jobs/report/run']) {
      const refused = await post('pod-b', path, { token: TOKEN });
      expect(refused.status, path).toBe(403);
      expect(((await refused.json()) as { message: string }).message, path).toMatch(/^The control endpoints are off: SAMPLE_CONTROL_TOKEN is not set\./);
    }
    expect((await jobs('pod-a'))[0]!.paused).toBeNull();
  });

  it('with the token: pause (with its note), resume, and run, which answers when the run ended; no token is 401, a wrong one 403', async () => {
    const missing = await post('pod-a', '/jobs/report/pause', { body: { note: 'x' } });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { message: string }).message).toBe('This endpoint needs Authorization: Bearer <SAMPLE_CONTROL_TOKEN>.');
    const wrong = await post('pod-a', '/jobs/report/pause', { body: { note: 'x' }, token: 'guess' });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { message: string }).message).toBe('The bearer token is not SAMPLE_CONTROL_TOKEN.');
    const unknown = await post('pod-a', '/jobs/reports/pause', { token: TOKEN });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toContain('Known jobs: "report"');

    const paused = await post('pod-a', '/jobs/report/pause', { body: { note: 'nightly export moved' }, token: TOKEN });
    expect(paused.status).toBe(200);
    expect(((await paused.json()) as JobDescription).paused).toMatchObject({ by: 'pod-a', note: 'nightly export moved' });
    // Every pod describes it: it is in the Lease.
    await expect.poll(async () => (await jobs('pod-b'))[0]!.paused?.note).toBe('nightly export moved');

    const resumed = await post('pod-a', '/jobs/report/resume', { token: TOKEN });
    expect(resumed.status).toBe(200);
    expect(((await resumed.json()) as JobDescription).paused).toBeNull();
    await expect.poll(async () => (await jobs('pod-b'))[0]!.paused).toBeNull();

    const { leader } = await samples.get('pod-a')!.status();
    const ran = await post('pod-a', '/jobs/report/run', { token: TOKEN });
    expect(ran.status).toBe(200);
    const outcome = (await ran.json()) as RequestOutcome;
    expect(outcome).toMatchObject({ job: 'report', kind: 'run', outcome: 'succeeded', pod: leader, term: expect.any(Number), fireTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    // The leader's /runs has it, with its kind, beside the scheduled ones.
    const leaderRuns = () => samples.get(leader as 'pod-a' | 'pod-b')!.runs();
    expect((await leaderRuns()).filter((run) => run.kind === 'manual')).toEqual([expect.objectContaining({ scheduledAt: outcome.fireTime, term: outcome.term, catchUp: false })]);
    await expect.poll(async () => (await leaderRuns()).some((run) => run.kind === 'scheduled'), { timeout: 5_000 }).toBe(true);
  });

  it('serves the dashboard at /leader and its API under /leader/api/', async () => {
    const page = await fetch(url('pod-b', '/leader'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<title>Cluster leader: elections and jobs</title>');
    expect(await (await fetch(url('pod-b', '/leader/api/elections'))).json()).toMatchObject({ identity: 'pod-b', mutations: true, elections: [{ election: 'default', identity: 'pod-b' }] });
    expect(await (await fetch(url('pod-b', '/leader/api/jobs'))).json()).toEqual([expect.objectContaining({ key: 'report' })]);
  });
});

describe('the sample with fast failover (SAMPLE_FAST_FAILOVER=true): a killed leader replaced once its pod says so (issue 16)', () => {
  let server: KubeApiServer;
  let directory: string;
  const samples = new Map<string, SampleProcess>();

  beforeAll(async () => {
    server = await KubeApiServer.start();
    directory = await mkdtemp(join(tmpdir(), 'sample-fast-failover-'));
    for (const pod of ['pod-a', 'pod-b']) {
      // The kubelet's startedAt: when the container's first process started, by this machine's clock.
      server.pods.create('default', { name: pod, nodeName: `node-${pod}`, at: containerStartTime() as Date });
      samples.set(pod, await SampleProcess.start({
        MY_POD_NAME: pod,
        KUBECONFIG: await writeUserKubeConfig(server, pod, directory),
        LEADER_ELECTION_BACKEND: 'lease',
        LEADER_ELECTION_NAMESPACE: 'default',
        SAMPLE_FAST_FAILOVER: 'true',
      }));
    }
  });

  afterAll(async () => {
    await Promise.all([...samples.values()].map((replica) => replica.kill()));
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('each replica says which container it is; SIGKILL the leader, the kubelet reports it, the other leads long before its 15 s lease ran out', async () => {
    for (const [pod, sample] of samples) {
      await sample.waitForLine(new RegExp(`fast failover is on: this process is container app of pod default/${pod} \\(containerd://`));
    }
    await expect.poll(() => server.getLease('default', 'sample-leader')?.metadata.annotations?.['nestjs-cluster-leader/container'], { timeout: 15_000 }).toBeDefined();
    const lease = server.getLease('default', 'sample-leader')!;
    const leader = lease.spec.holderIdentity!;
    const follower = leader === 'pod-a' ? 'pod-b' : 'pod-a';
    expect(await samples.get(leader)!.stop({ signal: 'SIGKILL' })).toEqual({ code: null, signal: 'SIGKILL' });
    const expiresAt = new Date(lease.spec.renewTime!).getTime() + 15_000;
    server.pods.restartContainer('default', leader, { exitCode: 137, reason: 'Error' });
    await samples.get(follower)!.waitForLine(new RegExp(`taking over from ${leader} at once \\(fast failover\\): the kubelet reported container app terminated \\(Error\\)`));
    await samples.get(follower)!.waitForStatus((status) => status.leader === follower && status.isLeader);
    expect(Date.now()).toBeLessThan(expiresAt - 5_000);
  });
});

describe('the sample split into shards (SAMPLE_SHARDS=6, SAMPLE_JOBS=6) on three replicas (issue 15)', () => {
  const pods = ['pod-a', 'pod-b', 'pod-c'];
  let server: KubeApiServer;
  let directory: string;
  const samples = new Map<string, SampleProcess>();

  beforeAll(async () => {
    server = await KubeApiServer.start();
    directory = await mkdtemp(join(tmpdir(), 'sample-shards-'));
    for (const pod of pods) {
      samples.set(pod, await SampleProcess.start({
        MY_POD_NAME: pod,
        KUBECONFIG: await writeUserKubeConfig(server, pod, directory),
        LEADER_ELECTION_BACKEND: 'lease',
        LEADER_ELECTION_NAMESPACE: 'default',
        SAMPLE_SHARDS: '6',
        SAMPLE_JOBS: '6',
        SAMPLE_JOB_CRON: '* * * * * *',
        SAMPLE_JOB_MISFIRE: 'runEach',
      }));
    }
  });

  afterAll(async () => {
    await Promise.all([...samples.values()].map((replica) => replica.kill()));
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  it('each pod leads two shards (GET /status shards), each job runs in one shard, once per fire time (GET /runs job), and GET /jobs names each job\'s pod', async () => {
    const shardsOf = async () => Object.fromEntries(await Promise.all(pods.map(async (pod) => [pod, (await samples.get(pod)!.status()).shards] as const)));
    await expect.poll(async () => Object.values(await shardsOf()).map((shards) => shards.length), { timeout: 15_000, interval: 100 }).toEqual([2, 2, 2]);
    const led = await shardsOf();
    expect(Object.values(led).flat().sort()).toEqual(['default-shard-0', 'default-shard-1', 'default-shard-2', 'default-shard-3', 'default-shard-4', 'default-shard-5']);
    const status = await samples.get('pod-a')!.status();
    expect(status).toMatchObject({ identity: 'pod-a', isLeader: true, leader: null, term: null });
    expect(server.getLease('default', 'sample-leader-shard-5')?.spec.holderIdentity).toMatch(/^pod-[abc]$/);
    const allRuns = async () => (await Promise.all(pods.map(async (pod) => (await samples.get(pod)!.runs()).map((run) => ({ ...run, pod }))))).flat();
    // Three fire times of each job after the shards settled.
    const settledAt = Date.now();
    await expect.poll(async () => (await allRuns()).filter((run) => Date.parse(run.scheduledAt) > settledAt).length, { timeout: 15_000, interval: 200 }).toBeGreaterThanOrEqual(18);
    const runs = await allRuns();
    const names = ['report-0', 'report-1', 'report-2', 'report-3', 'report-4', 'report-5'];
    expect(new Set(runs.map((run) => run.job))).toEqual(new Set(names));
    const keys = runs.map((run) => `${run.job}@${run.scheduledAt}`);
    expect(new Set(keys).size).toBe(keys.length);
    // Where each job runs: its shard's leader, the pod whose /status lists that shard.
    const jobs = await samples.get('pod-b')!.getJson<JobDescription[]>('/jobs');
    expect(jobs.map((job) => job.key).sort()).toEqual(names);
    for (const job of jobs) expect(led[job.leader!]).toContain(job.election);
  });
});

describe('the sample with a bad setting', () => {
  it('refuses to start, naming the variable', async () => {
    const misconfigured = new SampleProcess({ LEADER_ELECTION_BACKEND: 'lease', LEASE_DURATION_MS: '15s' });

    expect(await misconfigured.exited).toEqual({ code: 1, signal: null });
    expect(misconfigured.log()).toMatch(/Environment variable LEASE_DURATION_MS is "15s": use a whole number of milliseconds/);
    expect(misconfigured.log()).not.toMatch(/Listening on port/);
  });

  it('refuses a SAMPLE_FAST_FAILOVER that is not true or false, naming the variable', async () => {
    const misconfigured = new SampleProcess({ SAMPLE_FAST_FAILOVER: 'yes' });

    expect(await misconfigured.exited).toEqual({ code: 1, signal: null });
    expect(misconfigured.log()).toMatch(/Environment variable SAMPLE_FAST_FAILOVER is "yes": use true or false\./);
  });

  it.each([
    ['SAMPLE_SHARDS', 'four', /Environment variable SAMPLE_SHARDS is "four": use a whole number of shards, e\.g\. SAMPLE_SHARDS=4\./],
    ['SAMPLE_SHARDS', '0', /option `shards` is 0/],
    ['SAMPLE_JOBS', '0', /Environment variable SAMPLE_JOBS is "0": use a whole number of report jobs from 1 to 1000/],
  ])('refuses %s=%s, naming the variable or the option', async (name, value, said) => {
    const misconfigured = new SampleProcess({ [name]: value });

    expect(await misconfigured.exited).toEqual({ code: 1, signal: null });
    expect(misconfigured.log()).toMatch(said);
  });

  it('refuses an unknown SAMPLE_JOB_MISFIRE, naming the variable', async () => {
    const misconfigured = new SampleProcess({ SAMPLE_JOB_MISFIRE: 'sometimes' });

    expect(await misconfigured.exited).toEqual({ code: 1, signal: null });
    expect(misconfigured.log()).toMatch(/SAMPLE_JOB_MISFIRE is "sometimes": use skip, runOnce or runEach/);
  });
});
