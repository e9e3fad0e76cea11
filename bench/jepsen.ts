import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { interruptedTicks } from '../test/support/interrupted-ticks.js';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import { writeUserKubeConfig } from '../test/support/kubeconfig-file.js';
import type { LeaseTimings } from './nest-candidate.js';
import { Replica } from './replica.js';
import { sleep } from './stats.js';

/**
 * Each tick once, Jepsen style: three sample replicas as separate processes whose wall clocks are
 * offset from each other (a preload shifts Date per process), a per-second cron that claims its
 * ticks with `missedRuns: 'runEach'`, and faults in turn: a graceful shutdown, a crash (SIGKILL),
 * a pause (SIGSTOP) longer than the lease, a partition from the API, an API slower than the
 * job's period, and 429s with Retry-After to the leader's writes. Every run writes
 * (tick, fencing token) to a store that refuses a token lower than one it has seen. Counted from
 * the store: ticks written twice, ticks nobody wrote, stale writes refused.
 */
export type JepsenFault = 'graceful' | 'crash' | 'pause' | 'partition' | 'slow-api' | 'retry-after';

export interface JepsenConfig {
  timings: LeaseTimings;
  durationMs: number;
  /** Wall-clock offset of each replica, in ms. */
  offsetsMs: number[];
}

export interface JepsenResult {
  config: JepsenConfig;
  faults: Record<JepsenFault, number>;
  seconds: number;
  writes: number;
  catchUpWrites: number;
  ticksRunTwice: number;
  ticksRunByNobody: number;
  staleWritesRefused: number;
  /**
   * Fire times a new leader reported interrupted (claimed, then their leader stopped before
   * recording the end) and, by the job's default `interruptedRun: 'skip'`, did not run again: at
   * most once. A tick nobody wrote that is one of these is that promise, not a loss.
   */
  interruptedSeconds: number[];
  /** The seconds nobody wrote, and when (epoch second) each fault was forced, to read them against. */
  missedSeconds: number[];
  timeline: { second: number; fault: JepsenFault; pod: string }[];
}

const LEASE = 'jepsen';
const FAULTS: JepsenFault[] = ['graceful', 'pause', 'crash', 'partition', 'slow-api', 'retry-after'];
const PRELOAD = pathToFileURL(fileURLToPath(new URL('./clock-offset.preload.js', import.meta.url))).href;

interface Write {
  pod: string;
  second: number;
  token: bigint;
  catchUp: boolean;
  refused: boolean;
}

/** The fenced store: refuses a write whose token is lower than the highest it has seen. */
function startStore(writes: Write[]): Promise<{ server: Server; url: string }> {
  let highest = -1n;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk));
    request.on('end', () => {
      const { pod, scheduledAt, fencingToken, catchUp } = JSON.parse(body) as { pod: string; scheduledAt: string; fencingToken: string; catchUp: boolean };
      const token = BigInt(fencingToken);
      const refused = token < highest;
      if (!refused) highest = token;
      writes.push({ pod, second: Math.floor(Date.parse(scheduledAt) / 1000), token, catchUp, refused });
      response.writeHead(refused ? 409 : 204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` })));
}

export async function measureJepsen(config: JepsenConfig): Promise<JepsenResult> {
  const server = await KubeApiServer.start();
  const directory = await mkdtemp(join(tmpdir(), 'jepsen-'));
  const writes: Write[] = [];
  const store = await startStore(writes);
  const replicas = new Map<string, { replica: Replica; offsetMs: number }>();
  /** Every replica that ran, for the interrupted ticks their logs report. */
  const everyReplica: Replica[] = [];
  const faults: Record<JepsenFault, number> = { graceful: 0, crash: 0, pause: 0, partition: 0, 'slow-api': 0, 'retry-after': 0 };
  const timeline: JepsenResult['timeline'] = [];
  const stop = new AbortController();
  let serial = 0;

  const start = async (offsetMs: number) => {
    const name = `jepsen-${++serial}`;
    const replica = new Replica(name, {
      KUBECONFIG: await writeUserKubeConfig(server, name, directory),
      NODE_OPTIONS: `--import=${PRELOAD}`,
      CLOCK_OFFSET_MS: String(offsetMs),
      LEADER_ELECTION_BACKEND: 'lease',
      LEADER_ELECTION_LEASE_NAME: LEASE,
      LEADER_ELECTION_NAMESPACE: 'default',
      LEASE_DURATION_MS: String(config.timings.leaseDurationMs),
      RENEW_DEADLINE_MS: String(config.timings.renewDeadlineMs),
      RETRY_PERIOD_MS: String(config.timings.retryPeriodMs),
      SAMPLE_JOB_CRON: '* * * * * *',
      SAMPLE_JOB_MISFIRE: 'runEach',
      SAMPLE_FENCED_STORE_URL: store.url,
    });
    replicas.set(name, { replica, offsetMs });
    everyReplica.push(replica);
    await replica.listening({ signal: stop.signal });
  };
  /** The replica the Lease names, once it names a live one. */
  const leader = async () => {
    for (;;) {
      const holder = server.getLease('default', LEASE)?.spec.holderIdentity;
      const found = holder ? replicas.get(holder) : undefined;
      if (found?.replica.running) return { name: holder!, ...found };
      await sleep(20);
    }
  };
  const nextLeader = async (except: string) => {
    for (;;) {
      const current = await leader();
      if (current.name !== except) return current;
      await sleep(20);
    }
  };
  const replace = async (name: string) => {
    const { replica, offsetMs } = replicas.get(name)!;
    await replica.exited;
    replicas.delete(name);
    await start(offsetMs);
  };

  let startSecond = 0;
  let endSecond = 0;
  try {
    await Promise.all(config.offsetsMs.map((offset) => start(offset)));
    while (writes.length === 0) await sleep(50);
    startSecond = Math.floor(Date.now() / 1000) + 1;
    const deadline = performance.now() + config.durationMs;
    for (let step = 0; performance.now() < deadline; step++) {
      const fault = FAULTS[step % FAULTS.length]!;
      const current = await leader();
      faults[fault]++;
      timeline.push({ second: Math.floor(Date.now() / 1000), fault, pod: current.name });
      switch (fault) {
        case 'graceful':
          current.replica.signal('SIGTERM');
          await nextLeader(current.name);
          await replace(current.name);
          break;
        case 'crash':
          current.replica.signal('SIGKILL');
          await nextLeader(current.name);
          await replace(current.name);
          break;
        case 'pause':
          // Longer than the lease: the others take over; the paused one wakes up a follower.
          current.replica.signal('SIGSTOP');
          await sleep(config.timings.leaseDurationMs + 2_000);
          current.replica.signal('SIGCONT');
          break;
        case 'partition':
          server.faults.partition(current.name, true);
          await nextLeader(current.name);
          await sleep(1_000);
          server.faults.partition(current.name, false);
          break;
        case 'slow-api':
          // Every write takes longer than the job's period: claims must neither repeat nor queue up.
          server.faults.latencyMs = 1_500;
          await sleep(4_000);
          server.faults.latencyMs = 0;
          break;
        case 'retry-after':
          server.faults.failNext(3, 429, { retryAfterSeconds: 2, when: (request) => request.user === current.name });
          await sleep(4_000);
          break;
      }
      await sleep(2_000 + Math.random() * 1_000);
    }
    endSecond = Math.floor(Date.now() / 1000) - 2;
  } finally {
    stop.abort();
    await Promise.all([...replicas.values()].map(({ replica }) => {
      replica.signal('SIGCONT'); // a paused one must run again to handle its SIGTERM
      return replica.stop();
    }));
    store.server.closeAllConnections();
    await new Promise((resolve) => store.server.close(resolve));
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }

  const inWindow = writes.filter((write) => write.second >= startSecond && write.second <= endSecond);
  const perTick = new Map<number, number>();
  for (const write of inWindow) perTick.set(write.second, (perTick.get(write.second) ?? 0) + 1);
  const seconds = endSecond - startSecond + 1;
  return {
    config,
    faults,
    seconds,
    writes: inWindow.length,
    catchUpWrites: inWindow.filter((write) => write.catchUp).length,
    ticksRunTwice: [...perTick.values()].filter((n) => n > 1).length,
    ticksRunByNobody: seconds - perTick.size,
    staleWritesRefused: writes.filter((write) => write.refused).length,
    missedSeconds: Array.from({ length: seconds }, (_, i) => startSecond + i).filter((second) => !perTick.has(second)),
    interruptedSeconds: [...new Set(everyReplica.flatMap((replica) => replica.output.flatMap((line) => {
      // A replica's output line carries Nest's prefix: the message starts at the job's name.
      const reported = interruptedTicks(line.slice(Math.max(0, line.search(/\S+: the ticks? of /))));
      return reported ? reported.fireTimes.map((fireTime) => Math.floor(fireTime / 1000)) : [];
    })))].sort(),
    timeline,
  };
}
