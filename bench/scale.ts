import { KubeConfig } from '@kubernetes/client-node';
import { fileURLToPath } from 'node:url';
import { SpawnedProcess } from '../test/support/child-process.js';
import type { Lease, Verb } from '../test/support/kube-apiserver/index.js';
import { BareCandidate } from './bare-candidate.js';
import type { LeaseTimings } from './nest-candidate.js';
import { sleep, summarize, waitUntil, type Summary } from './stats.js';

export interface ScaleConfig {
  candidates: number;
  trials: number;
  timings: LeaseTimings;
  windowMs: number;
}

export interface ScaleTrial {
  /** From start until the first candidate leads. */
  firstLeaderMs: number;
  /** From start until exactly one leads and every candidate names it. */
  allAgreeMs: number;
  requestsPerSecond: number;
  byVerbPerSecond: Partial<Record<Verb, number>>;
  heapBytesPerCandidate: number;
  rssBytesPerCandidate: number;
  stopMs: number;
  releasedOnStop: boolean;
}

export interface ScaleResult {
  config: ScaleConfig;
  /** All candidates authenticate as one user: the server keeps one user entry, not a thousand. */
  credentials: string;
  apiServer: string;
  trials: ScaleTrial[];
  summary: Record<'firstLeaderMs' | 'allAgreeMs' | 'requestsPerSecond' | 'heapBytesPerCandidate' | 'rssBytesPerCandidate' | 'stopMs', Summary>;
  /** Requests per second client-go's polling would make at these timings. */
  clientGoRequestsPerSecond: number;
}

/**
 * N bare electors on one Lease, the apiserver in a child process so that its memory and CPU are not
 * counted as the candidates'. Memory per candidate is heap used (after a full GC) and RSS with all
 * N candidates running and watching, minus the same before they started, divided by N.
 */
export async function measureScale(config: ScaleConfig): Promise<ScaleResult> {
  const server = await ApiServerProcess.start();
  const trials: ScaleTrial[] = [];
  try {
    for (let trial = 0; trial < config.trials; trial++) trials.push(await runTrial(server, config, `scale-${trial}`));
  } finally {
    await server.close();
  }
  const pick = (key: keyof ScaleResult['summary']) => summarize(trials.map((t) => t[key] as number));
  return {
    config,
    credentials: 'one shared user/kubeconfig for all candidates',
    apiServer: 'test apiserver in a child process',
    trials,
    summary: {
      firstLeaderMs: pick('firstLeaderMs'),
      allAgreeMs: pick('allAgreeMs'),
      requestsPerSecond: pick('requestsPerSecond'),
      heapBytesPerCandidate: pick('heapBytesPerCandidate'),
      rssBytesPerCandidate: pick('rssBytesPerCandidate'),
      stopMs: pick('stopMs'),
    },
    clientGoRequestsPerSecond: 1000 / config.timings.retryPeriodMs + (config.candidates - 1) * (1000 / (1.6 * config.timings.retryPeriodMs)),
  };
}

async function runTrial(server: ApiServerProcess, config: ScaleConfig, leaseName: string): Promise<ScaleTrial> {
  const { candidates: n, timings } = config;
  const baseline = memory();
  const candidates: BareCandidate[] = [];
  try {
    const startedAt = performance.now();
    for (let i = 0; i < n; i++) {
      const candidate = new BareCandidate(`${leaseName}-${i}`, 'scale', server.kubeConfig, leaseName, timings);
      candidates.push(candidate);
      candidate.start();
    }
    let firstLeaderMs = NaN;
    await waitUntil(
      () => {
        const leaders = candidates.filter((c) => c.state.isLeader());
        if (leaders.length > 0 && Number.isNaN(firstLeaderMs)) firstLeaderMs = performance.now() - startedAt;
        if (leaders.length > 1) throw new Error(`${leaders.length} candidates lead at once`);
        return leaders.length === 1 && candidates.every((c) => c.state.state.leader === leaders[0].identity);
      },
      60_000,
      `${n} candidates to agree on a leader`,
      10,
    );
    const allAgreeMs = performance.now() - startedAt;

    await waitUntil(async () => (await server.openWatches()) === n, 60_000, 'every candidate to watch', 50);
    await sleep(timings.retryPeriodMs);
    const loaded = memory();

    await server.call('reset');
    const windowStart = performance.now();
    await sleep(config.windowMs);
    const stats = (await server.call('stats')) as { counts: Record<Verb, number>; total: number };
    const seconds = (performance.now() - windowStart) / 1000;

    const stopStart = performance.now();
    await Promise.all(candidates.map((c) => c.stop()));
    const stopMs = performance.now() - stopStart;
    const lease = (await server.call('lease', leaseName)) as Lease | null;
    return {
      firstLeaderMs,
      allAgreeMs,
      requestsPerSecond: stats.total / seconds,
      byVerbPerSecond: Object.fromEntries(Object.entries(stats.counts).filter(([, c]) => c > 0).map(([v, c]) => [v, c / seconds])),
      heapBytesPerCandidate: (loaded.heap - baseline.heap) / n,
      rssBytesPerCandidate: (loaded.rss - baseline.rss) / n,
      stopMs,
      releasedOnStop: lease?.spec.holderIdentity === '' || lease?.spec.holderIdentity === undefined,
    };
  } finally {
    await Promise.all(candidates.map((c) => c.stop()));
    candidates.length = 0;
    await sleep(200);
  }
}

function memory(): { heap: number; rss: number } {
  // Twice: the first pass queues finalizers whose objects the second one frees.
  globalThis.gc?.();
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

/** The parent's end of api-server-process.ts. */
class ApiServerProcess {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(
    private readonly child: SpawnedProcess,
    readonly kubeConfig: KubeConfig,
  ) {
    child.onMessage((message) => {
      const { id, result } = message as { id: number; result: unknown };
      this.pending.get(id)?.resolve(result);
      this.pending.delete(id);
    });
    // Should it die mid-run, the calls waiting for it fail with its output instead of hanging the bench.
    void child.exited.then((exit) => {
      for (const { reject } of this.pending.values()) reject(new Error(`The apiserver process exited (${exit.code ?? exit.signal}):\n${child.log()}`));
      this.pending.clear();
    });
  }

  static async start(): Promise<ApiServerProcess> {
    // With this process's own Node flags, as fork() would start it.
    const script = fileURLToPath(new URL('./api-server-process.js', import.meta.url));
    const child = new SpawnedProcess(process.execPath, [...process.execArgv, script], { ipc: true, name: 'The apiserver process' });
    const [, url, token] = /^ready (\S+) (\S+)$/.exec(await child.waitForLine(/^ready /))!;
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
      users: [{ name: 'scale', token }],
      contexts: [{ name: 'bench', cluster: 'bench', user: 'scale', namespace: 'default' }],
      currentContext: 'bench',
    });
    return new ApiServerProcess(child, kubeConfig);
  }

  call(op: string, name?: string): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, op, name });
    });
  }

  async openWatches(): Promise<number> {
    return ((await this.call('stats')) as { openWatches: number }).openWatches;
  }

  /** Asks the apiserver to close, then waits for its process to exit. */
  async close(): Promise<void> {
    await this.call('close');
    await this.child.exited;
  }
}
