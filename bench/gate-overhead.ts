import { Injectable, Logger, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Agent, get } from 'node:http';
import { ClusterLeaderService, LeaderElectionModule, LeaderOnly, type LeaderElectionModuleOptions } from '../lib/index.js';
import { Registry } from 'prom-client';
import { SidecarStandIn } from '../test/support/sidecar-stand-in.js';
import { summarize, waitUntil, type Summary } from './stats.js';

/** Registered with the real scheduler, but never due during a run (midnight on January 1st). */
const NEVER = '0 0 1 1 *';

@Injectable()
class GateBenchJob {
  runs = 0;

  @Cron(NEVER, { name: 'bare' })
  bare(): void {
    this.runs++;
  }

  @Cron(NEVER, { name: 'gated' })
  @LeaderOnly()
  gated(): void {
    this.runs++;
  }
}

export interface GateOverheadConfig {
  trials: number;
  /** Calls per trial of the in-memory variants. */
  iterations: number;
  /** Calls per trial of the HTTP-per-tick variants (each is a real request). */
  httpIterations: number;
}

export interface GateOverheadResult {
  config: GateOverheadConfig;
  /** ns per call, over trials. */
  nsPerCall: Record<string, Summary>;
  /** gated minus bare, ns per call (median of per-trial differences). */
  overheadNs: { leader: Summary; follower: Summary };
  ratios: Record<string, number>;
}

type Tick = () => unknown;
type AsyncTick = () => Promise<unknown>;

/**
 * ns per tick of a @LeaderOnly() method against the same method without the gate, on the leader
 * (it runs) and on a follower (skipped), and against the original pattern: one HTTP GET to the
 * sidecar on every tick. The gated method is taken from the provider instance of a real Nest app
 * and called exactly as @nestjs/schedule's explorer calls it (`instance[key].call(instance)`).
 * Variants are interleaved within each trial so drift in CPU speed hits them all alike.
 */
export async function measureGateOverhead(config: GateOverheadConfig): Promise<GateOverheadResult> {
  const stopping: (() => Promise<unknown>)[] = [];
  try {
    // The leader: backend 'standalone' always leads. The follower: a sidecar that names another pod.
    const leaderApp = await startGateApp({ identity: 'pod-a', backend: 'standalone' });
    stopping.push(() => leaderApp.close());
    const followerSidecar = await SidecarStandIn.start('pod-b');
    stopping.push(() => followerSidecar.close());
    const followerApp = await startGateApp({ identity: 'pod-a', backend: 'sidecar', sidecar: { url: followerSidecar.url } });
    stopping.push(() => followerApp.close());
    const followerLeader = followerApp.get(ClusterLeaderService);
    await waitUntil(() => followerLeader.leader() === 'pod-b', 5_000, 'the follower to learn its leader');
    if (!leaderApp.get(ClusterLeaderService).isLeader() || followerLeader.isLeader()) throw new Error('gate bench: wrong roles');
    if (Logger.isLevelEnabled('debug')) throw new Error('gate bench: debug logging must be filtered out');
    // The same two roles with prom-client metrics and OpenTelemetry spans on (the API without an
    // SDK: a no-op tracer, as in an app that installed the API but registered no SDK).
    const observed = { metrics: { registry: new Registry() }, tracing: {} };
    const observedLeaderApp = await startGateApp({ identity: 'pod-a', backend: 'standalone', ...observed });
    stopping.push(() => observedLeaderApp.close());
    const observedFollowerApp = await startGateApp({ identity: 'pod-a', backend: 'sidecar', sidecar: { url: followerSidecar.url }, ...observed });
    stopping.push(() => observedFollowerApp.close());
    const observedFollowerLeader = observedFollowerApp.get(ClusterLeaderService);
    await waitUntil(() => observedFollowerLeader.leader() === 'pod-b', 5_000, 'the observed follower to learn its leader');

    // The original pattern's two sidecars: one names this pod (leader), one another pod (follower).
    const leaderSidecar = await SidecarStandIn.start('pod-a');
    stopping.push(() => leaderSidecar.close());
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    stopping.push(async () => agent.destroy());

    const leaderJob = leaderApp.get(GateBenchJob);
    const followerJob = followerApp.get(GateBenchJob);
    const sync: Record<string, Tick> = {
      bare: schedulerCall(leaderApp, leaderJob, 'bare'),
      gatedLeader: schedulerCall(leaderApp, leaderJob, 'gated'),
      gatedFollower: schedulerCall(followerApp, followerJob, 'gated'),
      gatedLeaderObserved: schedulerCall(observedLeaderApp, observedLeaderApp.get(GateBenchJob), 'gated'),
      gatedFollowerObserved: schedulerCall(observedFollowerApp, observedFollowerApp.get(GateBenchJob), 'gated'),
    };
    const http: Record<string, AsyncTick> = {
      httpLeader: springTick(leaderSidecar.url, agent, 'pod-a', leaderJob),
      httpFollower: springTick(followerSidecar.url, agent, 'pod-a', followerJob),
    };

    // Warm-up: let V8 optimise every path before anything is timed.
    for (const tick of Object.values(sync)) timeSync(tick, Math.max(50_000, config.iterations / 2));
    for (const tick of Object.values(http)) await timeAsync(tick, 100);

    const samples: Record<string, number[]> = Object.fromEntries([...Object.keys(sync), ...Object.keys(http)].map((k) => [k, []]));
    const overheadLeader: number[] = [];
    const overheadFollower: number[] = [];
    for (let trial = 0; trial < config.trials; trial++) {
      globalThis.gc?.();
      const ns: Record<string, number> = {};
      for (const [name, tick] of Object.entries(sync)) ns[name] = timeSync(tick, config.iterations);
      for (const [name, tick] of Object.entries(http)) ns[name] = await timeAsync(tick, config.httpIterations);
      for (const [name, value] of Object.entries(ns)) samples[name].push(value);
      overheadLeader.push(ns.gatedLeader - ns.bare);
      overheadFollower.push(ns.gatedFollower - ns.bare);
    }
    if (followerJob.runs !== 0) throw new Error('gate bench: the follower ran the gated job');

    const nsPerCall = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
    const m = (k: string) => nsPerCall[k].median;
    return {
      config,
      nsPerCall,
      overheadNs: { leader: summarize(overheadLeader), follower: summarize(overheadFollower) },
      ratios: {
        gatedLeaderOverBare: m('gatedLeader') / m('bare'),
        gatedFollowerOverBare: m('gatedFollower') / m('bare'),
        httpLeaderOverGatedLeader: m('httpLeader') / m('gatedLeader'),
        httpFollowerOverGatedFollower: m('httpFollower') / m('gatedFollower'),
      },
    };
  } finally {
    for (const stop of stopping.reverse()) await stop();
  }
}

async function startGateApp(options: LeaderElectionModuleOptions): Promise<INestApplicationContext> {
  class GateBenchModule {}
  Module({ imports: [ScheduleModule.forRoot(), LeaderElectionModule.forRoot(options)], providers: [GateBenchJob] })(GateBenchModule);
  // Only errors and warnings, as a production app would run (the gate logs no line per skipped
  // tick at any level: it counts them, and summarises them once per change of leadership).
  return NestFactory.createApplicationContext(GateBenchModule, { logger: ['error', 'warn'], abortOnError: false });
}

/** The method exactly as the scheduler holds it: looked up on the instance, called with it as `this`. */
function schedulerCall(app: INestApplicationContext, instance: GateBenchJob, key: 'bare' | 'gated'): Tick {
  // The cron must really be registered: proof that @LeaderOnly() kept @Cron's metadata.
  app.get(SchedulerRegistry).getCronJob(key);
  const methodRef = instance[key] as () => void;
  return () => methodRef.call(instance);
}

/** The original pattern: ask the sidecar on every tick, run the job if it names this pod. */
function springTick(url: string, agent: Agent, identity: string, job: GateBenchJob): AsyncTick {
  const ask = () =>
    new Promise<string>((resolve, reject) => {
      get(url, { agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      }).on('error', reject);
    });
  return async () => {
    // A kept-alive socket the server closed while idle (its keepAliveTimeout, between trials)
    // can be reused at the moment it closes: the usual keep-alive race. Ask again, as clients do.
    const body = await ask().catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') return ask();
      throw error;
    });
    if ((JSON.parse(body) as { name: string }).name === identity) job.bare();
  };
}

function timeSync(tick: Tick, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) tick();
  return Number(process.hrtime.bigint() - start) / iterations;
}

async function timeAsync(tick: AsyncTick, iterations: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await tick();
  return Number(process.hrtime.bigint() - start) / iterations;
}
