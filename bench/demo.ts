import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { writeUserKubeConfig } from '../test/support/kubeconfig-file.js';
import { Replica, type ReplicaStatus } from './replica.js';

/**
 * `npm run demo`: three sample replicas electing a leader on a Lease in the test apiserver, shown
 * live. The leader is killed (SIGKILL: a crash, nothing released), the others take over when the
 * lease runs out; the killed replica restarts; then the new leader gets SIGTERM (a rollout: it
 * releases) and the handover is immediate. Then everything stops cleanly, also on Ctrl-C.
 */

const LEASE = 'demo-leader';
const TIMINGS = { LEASE_DURATION_MS: '4000', RENEW_DEADLINE_MS: '3000', RETRY_PERIOD_MS: '1000' };
const NAMES = ['replica-1', 'replica-2', 'replica-3'];
const tty = process.stdout.isTTY === true;

const stop = new AbortController();
const startedAt = performance.now();
const since = (at = performance.now()) => `${((at - startedAt) / 1000).toFixed(1).padStart(5)} s`;
const events: string[] = [];
const replicas = new Map<string, Replica>();
const statuses = new Map<string, ReplicaStatus | null>();
let server: KubeApiServer | undefined;
let directory: string | undefined;
/** The Lease's holder as the apiserver stored it, and every change of it, timed at the server. */
let holder = '';
let term: number | undefined;
const holderChanges: { at: number; holder: string }[] = [];

function event(text: string): void {
  const line = `[${since()}] ${text}`;
  events.push(line);
  if (!tty) console.log(line);
}

// ---- the scenario ------------------------------------------------------------------------

async function main(): Promise<void> {
  server = await KubeApiServer.start();
  directory = await mkdtemp(join(tmpdir(), 'leader-demo-'));
  server.on('request', ({ verb, status }) => {
    if ((verb !== 'update' && verb !== 'create') || status >= 300) return;
    const spec = server!.getLease('default', LEASE)?.spec;
    if (!spec || (spec.holderIdentity ?? '') === holder) return;
    holder = spec.holderIdentity ?? '';
    term = spec.leaseTransitions;
    holderChanges.push({ at: performance.now(), holder });
    event(holder ? `Lease now held by ${holder} (term ${term})` : 'Lease released (holder "")');
  });
  event(`apiserver on ${server.url}; kubeconfigs in ${directory}`);
  await Promise.all(NAMES.map((name) => start(name)));

  const first = await nextHolder(undefined);
  await sleep(5_000);

  event(`SIGKILL ${first} (the leader): a crash, it releases nothing`);
  const killedAt = performance.now();
  replicas.get(first)!.signal('SIGKILL');
  const second = await nextHolder(first);
  event(`>>> crash takeover by ${second} after ${Math.round(holderAt(second, killedAt) - killedAt)} ms (lease duration ${TIMINGS.LEASE_DURATION_MS} ms)`);
  await sleep(3_000);

  event(`restarting ${first}`);
  await start(first);
  await sleep(3_000);

  event(`SIGTERM ${second} (the leader): graceful shutdown, it releases the Lease`);
  const terminatedAt = performance.now();
  replicas.get(second)!.signal('SIGTERM');
  const third = await nextHolder(second);
  event(`>>> graceful takeover by ${third} after ${Math.round(holderAt(third, terminatedAt) - terminatedAt)} ms`);
  const exit = await replicas.get(second)!.exited;
  event(`${second} exited with code ${exit.code ?? exit.signal}`);
  await sleep(4_000);
}

/** Starts a replica with a kubeconfig of its own (one API user each, as pods have their own service accounts). */
async function start(name: string): Promise<void> {
  const replica = new Replica(name, {
    KUBECONFIG: await writeUserKubeConfig(server!, name, directory!),
    LEADER_ELECTION_BACKEND: 'lease',
    LEADER_ELECTION_LEASE_NAME: LEASE,
    LEADER_ELECTION_NAMESPACE: 'default',
    SAMPLE_JOB_CRON: '* * * * * *',
    ...TIMINGS,
  });
  replicas.set(name, replica);
  await replica.listening({ signal: stop.signal });
  event(`${name} started (pid ${replica.pid}, port ${replica.port})`);
}

/** Waits until the Lease is held by someone other than `previous`. */
async function nextHolder(previous: string | undefined): Promise<string> {
  while (holder === '' || holder === previous) await sleep(10);
  return holder;
}

function holderAt(identity: string, after: number): number {
  return holderChanges.find((change) => change.holder === identity && change.at >= after)!.at;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stop.signal.aborted) return reject(stop.signal.reason);
    const timer = setTimeout(() => {
      stop.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(stop.signal.reason);
    };
    stop.signal.addEventListener('abort', onAbort, { once: true });
  });
}

// ---- the live view -----------------------------------------------------------------------

let drawnLines = 0;
let lastPlainSecond = -1;

async function refresh(): Promise<void> {
  await Promise.all([...replicas].map(async ([name, replica]) => statuses.set(name, await replica.statusOrNull())));
  if (tty) {
    const frame = render();
    // Back to the top of the previous frame, clear it, draw the new one.
    process.stdout.write(`${drawnLines > 0 ? `\x1b[${drawnLines}F\x1b[J` : ''}${frame.join('\n')}\n`);
    drawnLines = frame.length;
  } else {
    // Without a terminal: one status line a second, events as they happen.
    const second = Math.floor((performance.now() - startedAt) / 1000);
    if (second === lastPlainSecond) return;
    lastPlainSecond = second;
    console.log(`[${since()}] ${NAMES.filter((n) => replicas.has(n)).map((n) => `${n}: ${describe(n)}`).join(' | ')}`);
  }
}

function describe(name: string): string {
  const replica = replicas.get(name)!;
  const status = statuses.get(name);
  if (!replica.running) return `exited (${replica.exit!.code ?? replica.exit!.signal})`;
  if (!status) return 'starting';
  return `${status.isLeader ? 'LEADER' : 'follower'} runs=${status.runs}`;
}

function render(): string[] {
  const rows = NAMES.filter((n) => replicas.has(n)).map((name) => {
    const replica = replicas.get(name)!;
    const status = statuses.get(name);
    const role = !replica.running ? `exited (${replica.exit!.code ?? replica.exit!.signal})` : status ? (status.isLeader ? 'LEADER' : 'follower') : 'starting';
    // Padded before it is coloured: escape codes have no width on screen.
    const shown = role === 'LEADER' ? `\x1b[1;32m${role.padEnd(16)}\x1b[0m` : role.padEnd(16);
    return `  ${name.padEnd(10)} ${String(replica.pid ?? '').padStart(7)} ${String(replica.port || '').padStart(6)}  ${shown}  ${String(status?.term ?? '-').padStart(4)}  ${String(status?.runs ?? '-').padStart(4)}  ${status?.leader ?? '-'}`;
  });
  return [
    `Leader election demo  t=${since()}   Lease default/${LEASE}: holder ${holder || '(none)'}, term ${term ?? '-'}   (Ctrl-C to stop)`,
    `  ${'replica'.padEnd(10)} ${'pid'.padStart(7)} ${'port'.padStart(6)}  ${'role'.padEnd(16)}  term  runs  sees leader`,
    ...rows,
    '',
    ...events.slice(-10),
  ];
}

// ---- shutdown ----------------------------------------------------------------------------

async function shutdown(): Promise<void> {
  const running = [...replicas.values()].filter((r) => r.running);
  if (running.length > 0) event(`SIGTERM to ${running.map((r) => r.name).join(', ')}; waiting for them to exit`);
  const exits = await Promise.all(running.map(async (r) => {
    const exit = await r.stop();
    return `${r.name} ${exit.code ?? exit.signal}`;
  }));
  if (exits.length > 0) event(`exit codes: ${exits.join(', ')}`);
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
  event('apiserver closed, temp dir removed');
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) return; // already stopping; the cleanup is bounded by the replicas' own shutdown
    interrupted = true;
    event(`${signal}: stopping`);
    stop.abort(new Error(signal));
  });
}

if (tty) process.stdout.write('\x1b[?25l');
const view = setInterval(() => void refresh(), 250);
let failed = false;
try {
  await main();
} catch (error) {
  if (!stop.signal.aborted) {
    failed = true;
    event(`failed: ${error instanceof Error ? error.message : String(error)}`);
  }
} finally {
  await shutdown();
  clearInterval(view);
  await refresh();
  if (tty) process.stdout.write('\x1b[?25h');
}
process.exitCode = failed ? 1 : interrupted ? 130 : 0;
