import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnedProcess } from './support/child-process.js';
import { REPO_ROOT } from './support/repo-root.js';
import { SAMPLE_ENV, type SampleStatus } from './support/sample-process.js';
import { tsc } from './support/tsc.js';

/**
 * `npm run local-cluster` as a person follows it on a laptop: the program as a child process, the
 * replica commands it prints run through the shell exactly as printed, the failover read from the
 * lines it and the replicas print (no sleeps), and Ctrl-C. Compiled as the npm script compiles it
 * (tsconfig.bench.json, which holds the sample too), into a folder of its own, so this file never
 * touches the dist-sample/ or .build/ that other files and scripts use.
 */

const OUT = join(REPO_ROOT, '.build/local-cluster-spec');
const run = promisify(execFile);

beforeAll(async () => {
  await tsc(['-p', 'tsconfig.bench.json', '--outDir', OUT]);
  // The compiled sample imports the library by name, as after npm run build:sample.
  await run(process.execPath, ['sample/link-library.mjs', OUT], { cwd: REPO_ROOT });
}, 120_000);

/** Ports nothing listens on, found by listening on port 0 at once and closing again. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<Server>((resolve) => {
      const server = createServer();
      server.listen(0, () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A command with none of the test runner's leader-election or Kubernetes variables (the sample's list). */
function command(file: string, args: string[], cwd?: string): SpawnedProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of SAMPLE_ENV) delete env[name];
  return new SpawnedProcess(file, args, { cwd, env });
}

const localCluster = (args: string[]) => command(process.execPath, [join(OUT, 'bench/local-cluster.js'), ...args], REPO_ROOT);

describe('npm run local-cluster', () => {
  const processes: SpawnedProcess[] = [];

  afterAll(async () => {
    await Promise.all(processes.map((child) => child.kill()));
  });

  it('prints three replicas\' commands; two of them elect one leader, the leader is killed, the other takes over; Ctrl-C stops it cleanly', async () => {
    const ports = await freePorts(3);
    const cluster = localCluster([`--ports=${ports.join(',')}`, `--sample-dir=${OUT}`]);
    processes.push(cluster);
    await cluster.waitForLine(/^The Lease default\/sample-leader, as the API server stores it:$/, { timeoutMs: 20_000 });

    const commands = cluster.output.filter((line) => line.startsWith('  env PORT=')).map((line) => line.trim());
    expect(commands).toHaveLength(3);
    commands.forEach((command, index) => {
      expect(command).toMatch(new RegExp(`^env PORT=${ports[index]} MY_POD_NAME=replica-${index + 1} KUBECONFIG=\\S+ LEADER_ELECTION_BACKEND=lease LEADER_ELECTION_NAMESPACE=default LEASE_DURATION_MS=4000 RENEW_DEADLINE_MS=3000 RETRY_PERIOD_MS=1000 node \\S+/sample/src/main\\.js$`));
    });
    const curl = cluster.output.map((line) => line.trim()).find((line) => line.startsWith('curl -s localhost:'));
    expect(curl).toBe(`curl -s localhost:${ports[0]}/status`);
    const kubeconfigs = /^Kubeconfigs: (.+)$/.exec(cluster.output.find((line) => line.startsWith('Kubeconfigs: '))!)![1]!;
    expect(existsSync(kubeconfigs)).toBe(true);

    // Two replicas, each started as a person pastes its line into a shell (exec: the pid is node's).
    const replicas = commands.slice(0, 2).map((line) => command('/bin/sh', ['-c', `exec ${line}`]));
    processes.push(...replicas);
    const status = async (index: number): Promise<SampleStatus> => (await fetch(`http://localhost:${ports[index]}/status`)).json() as Promise<SampleStatus>;

    // Bounds, not waits: two Nest apps start on a shared machine before one leads.
    const elected = await cluster.waitForLine(/held by replica-\d \(term 0\)$/, { timeoutMs: 30_000 });
    const leader = Number(/replica-(\d)/.exec(elected)![1]) - 1;
    const follower = 1 - leader;
    await replicas[leader]!.waitForLine(new RegExp(`this pod \\(replica-${leader + 1}\\) is now the leader \\(term 0\\)`));
    expect(await status(leader)).toMatchObject({ identity: `replica-${leader + 1}`, isLeader: true, leader: `replica-${leader + 1}`, term: 0 });
    await replicas[follower]!.waitForLine(new RegExp(`the leader is replica-${leader + 1}\\.`));
    expect(await status(follower)).toMatchObject({ identity: `replica-${follower + 1}`, isLeader: false, leader: `replica-${leader + 1}`, runs: 0 });

    // kill -9 the leader, as the printed instructions say: a crash, nothing released.
    expect(await replicas[leader]!.stop({ signal: 'SIGKILL' })).toEqual({ code: null, signal: 'SIGKILL' });
    await cluster.waitForLine(new RegExp(`held by replica-${follower + 1} \\(term 1\\)$`), { timeoutMs: 15_000 });
    await replicas[follower]!.waitForLine(new RegExp(`this pod \\(replica-${follower + 1}\\) is now the leader \\(term 1\\)`));
    expect(await status(follower)).toMatchObject({ isLeader: true, leader: `replica-${follower + 1}`, term: 1 });
    expect(cluster.output.filter((line) => / held by | released/.test(line)).map((line) => line.replace(/^\[ *[\d.]+ s\] /, ''))).toEqual([
      `held by replica-${leader + 1} (term 0)`,
      `held by replica-${follower + 1} (term 1)`,
    ]);

    // Ctrl-C in its terminal: the new leader releases the Lease and exits 0.
    expect(await replicas[follower]!.stop({ signal: 'SIGINT' })).toEqual({ code: 0, signal: null });
    await cluster.waitForLine(/released: no holder$/);

    // Ctrl-C in the local cluster's terminal: the API server closes, the kubeconfigs go.
    expect(await cluster.stop({ signal: 'SIGINT' })).toEqual({ code: 0, signal: null });
    expect(cluster.output.at(-1)).toMatch(new RegExp(`stopped; ${kubeconfigs} removed$`));
    expect(existsSync(kubeconfigs)).toBe(false);
  }, 60_000);

  it('refuses bad options, naming the option, its value and the fix (exit 2)', async () => {
    const cluster = localCluster(['--ports=3001', `--sample-dir=${OUT}`]);
    processes.push(cluster);

    expect(await cluster.exited).toEqual({ code: 2, signal: null });
    expect(cluster.output).toEqual(['local-cluster: --ports=3001: give two or more distinct port numbers, comma-separated, e.g. --ports=3001,3002,3003.']);
  });
});
