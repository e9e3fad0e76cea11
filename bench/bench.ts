import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { measureApiLoad, type ApiLoadConfig } from './api-load.js';
import { measureClaimCost, type ClaimCostConfig } from './claim-cost.js';
import { benchLogger } from './bench-logger.js';
import type { ChurnConfig } from './churn-safety.js';
import { measureChurnWithShards } from './churn-shards.js';
import { measureConnections, type ConnectionsConfig } from './connections.js';
import { measureGateOverhead, type GateOverheadConfig } from './gate-overhead.js';
import { measureJepsen, type JepsenConfig } from './jepsen.js';
import { measureControlCost, type ControlCostConfig } from './control-cost.js';
import { measureLeaseFailover, type LeaseFailoverConfig } from './lease-failover.js';
import { DEFAULT_TIMINGS, SHORT_TIMINGS } from './nest-candidate.js';
import { checkTargets, renderReport, type BenchResults } from './report.js';
import { measureScale, type ScaleConfig } from './scale.js';
import { measureShards, type ShardsConfig } from './shards.js';
import { measureShutdownTime, type ShutdownTimeConfig } from './shutdown-time.js';
import { measureSidecarFailover, type SidecarFailoverConfig } from './sidecar-failover.js';

/**
 * `npm run bench [-- --quick] [-- --out results.json] [-- --only gate,churn]`: every measurement in
 * turn, then a table and, with --out, the JSON of every figure and sample. --quick stays under two
 * minutes on 2 cores; the full run takes about ten.
 */
interface Plan {
  gate: GateOverheadConfig;
  leaseFailover: LeaseFailoverConfig;
  sidecarFailover: SidecarFailoverConfig;
  apiLoad: ApiLoadConfig;
  scale: ScaleConfig;
  churn: ChurnConfig;
  shutdown: ShutdownTimeConfig;
  claimCost: ClaimCostConfig;
  jepsen: JepsenConfig;
  connections: ConnectionsConfig;
  controlCost: ControlCostConfig;
  shards: ShardsConfig;
}

const timings = { default: DEFAULT_TIMINGS, short: SHORT_TIMINGS };

function plan(quick: boolean): Plan {
  return {
    gate: quick ? { trials: 7, iterations: 200_000, httpIterations: 300 } : { trials: 15, iterations: 1_000_000, httpIterations: 2_000 },
    leaseFailover: {
      timings,
      trials: quick
        ? { crash: { default: 2, short: 5 }, graceful: { default: 5, short: 5 }, 'crash-pod': { default: 5 } }
        : { crash: { default: 5, short: 15 }, graceful: { default: 15, short: 15 }, 'crash-pod': { default: 20 } },
      crashConcurrency: quick ? 7 : 10,
    },
    sidecarFailover: { pollIntervalsMs: [1000, 250], trials: quick ? 6 : 30 },
    apiLoad: { timings: DEFAULT_TIMINGS, sizes: [3, 10, 100], bareFrom: 100, windowMs: quick ? 15_000 : 60_000 },
    scale: quick
      ? { candidates: 1000, trials: 1, timings: DEFAULT_TIMINGS, windowMs: 6_000 }
      : { candidates: 1000, trials: 3, timings: DEFAULT_TIMINGS, windowMs: 30_000 },
    churn: { timings: SHORT_TIMINGS, candidates: 3, durationMs: quick ? 50_000 : 360_000, sharded: { shards: 4, jobs: 8 } },
    shutdown: { timings: DEFAULT_TIMINGS, trials: quick ? 1 : 5 },
    claimCost: { timings: DEFAULT_TIMINGS, windowMs: quick ? 20_000 : 180_000 },
    jepsen: { timings: SHORT_TIMINGS, durationMs: quick ? 40_000 : 240_000, offsetsMs: [-150, 0, 150] },
    connections: { timings: DEFAULT_TIMINGS, candidates: 3, windowMs: quick ? 15_000 : 60_000 },
    controlCost: { timings: DEFAULT_TIMINGS, jobs: 20, calls: 200, trials: quick ? 5 : 15 },
    shards: {
      timings: DEFAULT_TIMINGS,
      cases: [
        { shards: 1, pods: 3 }, { shards: 4, pods: 3 }, { shards: 6, pods: 3 }, { shards: 16, pods: 3 },
        { shards: 1, pods: 10 }, { shards: 4, pods: 10 }, { shards: 16, pods: 10 },
      ],
      jobs: 32,
      cron: '*/5 * * * * *',
      trials: quick ? 1 : 3,
      windowMs: quick ? 10_000 : 30_000,
      quietMs: quick ? 2_000 : 3_000,
    },
  };
}

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, only: { type: 'string' } },
});
const chosen = plan(args.quick!);
const only = args.only?.split(',');
const results: BenchResults = {};
const elapsedMs: Record<string, number> = {};
const startedAt = new Date();
// Read before measuring: tsc compiled lib/ just before this process started.
const git = gitRevision();

async function step<K extends keyof Plan>(name: K, run: (config: Plan[K]) => Promise<NonNullable<BenchResults[K]>>): Promise<void> {
  if (only && !only.includes(name)) return;
  process.stderr.write(`bench: ${name}...`);
  const started = performance.now();
  results[name] = await run(chosen[name]);
  elapsedMs[name] = performance.now() - started;
  process.stderr.write(` ${(elapsedMs[name] / 1000).toFixed(1)} s\n`);
}

// First, while Nest's default console logger is in place: the gate is measured as an app that
// logs only errors and warnings runs it. Everything after that logs into the quiet bench logger.
await step('gate', measureGateOverhead);
Logger.overrideLogger(benchLogger);
await step('leaseFailover', measureLeaseFailover);
await step('sidecarFailover', measureSidecarFailover);
await step('apiLoad', measureApiLoad);
await step('scale', measureScale);
await step('churn', measureChurnWithShards);
await step('shutdown', measureShutdownTime);
await step('claimCost', measureClaimCost);
await step('jepsen', measureJepsen);
await step('connections', measureConnections);
await step('controlCost', measureControlCost);
await step('shards', measureShards);

const checks = checkTargets(results);
const cpu = cpus();
const header = [
  `nestjs-cluster-leader bench (${args.quick ? 'quick' : 'full'}), ${startedAt.toISOString()}`,
  `Node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${process.platform}/${process.arch}; lib at ${git}`,
  `Total ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s of measurement`,
].join('\n');
console.log(`${header}\n${renderReport(results, checks)}\n`);

if (args.out) {
  const json = {
    meta: {
      mode: args.quick ? 'quick' : 'full',
      date: startedAt.toISOString(),
      node: process.version,
      git,
      platform: `${process.platform}/${process.arch}`,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model,
      timings,
      plan: chosen,
      elapsedMs,
      logs: { counts: benchLogger.counts, recentWarningsAndErrors: benchLogger.recent },
    },
    results,
    targets: checks,
  };
  await writeFile(args.out, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`JSON written to ${args.out}`);
}

/** The library is measured as it is in the working tree: which commit, and which lib/ files differ. */
function gitRevision(): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['status', '--porcelain', '--', 'lib'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => line.slice(3));
    return changed.length > 0 ? `${commit} + uncommitted ${changed.join(', ')}` : commit;
  } catch {
    return 'unknown';
  }
}
