import type { ApiLoadResult, PerMinute } from './api-load.js';
import type { ChurnResult } from './churn-safety.js';
import type { ClaimCostResult } from './claim-cost.js';
import type { ControlCostResult } from './control-cost.js';
import type { JepsenResult } from './jepsen.js';
import type { ConnectionRates, ConnectionsResult } from './connections.js';
import type { GateOverheadResult } from './gate-overhead.js';
import type { LeaseFailoverResult } from './lease-failover.js';
import type { ScaleResult } from './scale.js';
import type { ShardsResult } from './shards.js';
import type { ShutdownTimeResult } from './shutdown-time.js';
import type { SidecarFailoverResult } from './sidecar-failover.js';
import type { Summary } from './stats.js';

export interface BenchResults {
  gate?: GateOverheadResult;
  leaseFailover?: LeaseFailoverResult;
  sidecarFailover?: SidecarFailoverResult;
  apiLoad?: ApiLoadResult;
  scale?: ScaleResult;
  churn?: ChurnResult;
  shutdown?: ShutdownTimeResult;
  connections?: ConnectionsResult;
  claimCost?: ClaimCostResult;
  controlCost?: ControlCostResult;
  jepsen?: JepsenResult;
  shards?: ShardsResult;
}

export interface TargetCheck {
  target: string;
  measured: string;
  pass: boolean;
}

/** The brief's targets, each judged on the strictest figure that applies (p95 or worst case). */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  if (r.gate) {
    for (const role of ['leader', 'follower'] as const) {
      const overhead = r.gate.overheadNs[role];
      checks.push({ target: `gate overhead < 1 µs per tick (${role}, p95)`, measured: ns(overhead.p95), pass: overhead.p95 < 1000 });
    }
  }
  for (const f of r.leaseFailover?.figures ?? []) {
    const label = `${f.timingName} ${timingsLabel(f.timings)}`;
    if (f.kind === 'graceful') {
      checks.push({ target: `graceful failover median < 250 ms (${label})`, measured: ms(f.summary.median), pass: f.summary.median < 250 });
    } else if (f.kind === 'crash-pod') {
      checks.push({ target: `crash failover with the pod signal < 2 s (${label}, worst)`, measured: ms(f.summary.max), pass: f.summary.max < 2_000 });
    } else {
      const limit = f.timings.leaseDurationMs + 500;
      checks.push({ target: `crash failover <= leaseDuration + 500 ms = ${ms(limit)} (${label}, worst)`, measured: ms(f.summary.max), pass: f.summary.max <= limit });
    }
  }
  for (const f of r.apiLoad?.figures ?? []) {
    // Counted with the watch re-opens that fall outside a short window, amortized.
    const follower = (f.follower.total ?? 0) + r.apiLoad!.amortizedWatchesPerFollowerPerMinute;
    const ratio = follower / (f.clientGo.follower.total ?? 1);
    checks.push({
      target: `follower API load <= 1/10 of client-go (${f.candidates} candidates)`,
      measured: `${rate(f.follower.total)}/min + ${rate(r.apiLoad!.amortizedWatchesPerFollowerPerMinute)} watch/min amortized vs ${rate(f.clientGo.follower.total)}/min (x${ratio.toFixed(3)})`,
      pass: ratio <= 0.1,
    });
    const updates = f.leaderRequests.update ?? 0;
    const reads = (f.leaderRequests.get ?? 0) + (f.leaderRequests.list ?? 0);
    checks.push({
      target: `one write per renew, no reads (leader, ${f.candidates} candidates)`,
      measured: `${updates} PUT, ${reads} GET for ${f.renewalsDue.toFixed(1)} renewals due`,
      pass: reads === 0 && updates >= Math.floor(f.renewalsDue) && updates <= Math.ceil(f.renewalsDue) && !f.leaderChanged,
    });
  }
  if (r.jepsen) {
    const j = r.jepsen;
    checks.push({ target: 'separate processes, offset clocks: no tick run twice', measured: String(j.ticksRunTwice), pass: j.ticksRunTwice === 0 });
    // An interrupted claim (its leader killed or paused between the claim and the record of its
    // end) is not run again with interruptedRun 'skip': at most once, as documented, and logged.
    const lost = j.missedSeconds.filter((second) => !j.interruptedSeconds.includes(second)).length;
    checks.push({ target: 'separate processes, offset clocks: no tick run by nobody (runEach), but reported interrupted ones', measured: `${lost} (+${j.ticksRunByNobody - lost} interrupted)`, pass: lost === 0 });
  }
  if (r.claimCost) {
    // Claims made ahead: one write claims the fire times up to past the next renewal, whatever the job's frequency.
    for (const f of r.claimCost.figures) {
      const extra = f.writesPerMinute.unclaimed === 0 ? Infinity : f.extraWritesPerMinute / f.writesPerMinute.unclaimed;
      checks.push({ target: `claims cost <= +10% Lease writes over the renewals alone (a job ${f.period})`, measured: `${(extra * 100).toFixed(1)}%`, pass: extra <= 0.1 });
    }
  }
  if (r.shutdown) {
    const bound = r.shutdown.requestTimeoutMs + 500;
    const worst = Math.max(...r.shutdown.figures.map((f) => f.closeMs.max));
    checks.push({ target: `shutdown after the drain <= one request timeout (+500 ms), any API state`, measured: ms(worst), pass: worst <= bound });
  }
  if (r.churn) {
    const c = r.churn;
    checks.push({ target: 'zero double runs under churn (seconds run by two candidates)', measured: String(c.doubleRunSeconds), pass: c.doubleRunSeconds === 0 });
    checks.push({ target: 'zero overlapping leadership intervals under churn', measured: String(c.overlaps), pass: c.overlaps === 0 });
    checks.push({ target: 'claimed ticks: none run twice under churn', measured: String(c.claimed.ticksRunTwice), pass: c.claimed.ticksRunTwice === 0 });
    // A window claimed ahead whose leader was killed is reported and, with interruptedRun 'skip',
    // not run again (at most once): accounted for, like the sharded and jepsen checks.
    const lost = c.claimed.missedSeconds.filter((second) => !c.claimed.interruptedSeconds.includes(second)).length;
    checks.push({ target: 'claimed ticks with runEach: none run by nobody under churn, but reported interrupted ones', measured: `${lost} (+${c.claimed.ticksRunByNobody - lost} interrupted)`, pass: lost === 0 });
    if (c.sharded) {
      const s = c.sharded;
      const twice = s.jobs.reduce((sum, job) => sum + job.ticksRunTwice, 0);
      const nobody = s.jobs.reduce((sum, job) => sum + job.ticksRunByNobody, 0);
      const interrupted = s.jobs.reduce((sum, job) => sum + job.reportedInterrupted, 0);
      const overlaps = s.shards.reduce((sum, shard) => sum + shard.overlaps, 0);
      const label = `${s.config.shards} shards, ${s.config.jobs} jobs`;
      checks.push({ target: `sharded churn (${label}): no fire time of any job run twice`, measured: String(twice), pass: twice === 0 });
      checks.push({ target: `sharded churn (${label}): no fire time run by nobody (runEach), but reported interrupted ones`, measured: `${nobody - interrupted} (+${interrupted} interrupted)`, pass: nobody - interrupted === 0 });
      checks.push({ target: `sharded churn (${label}): zero overlapping leadership intervals on any shard`, measured: String(overlaps), pass: overlaps === 0 });
    }
  }
  if (r.shards) {
    const { timings } = r.shards.config;
    const six = r.shards.figures.find((f) => f.shards === 6 && f.pods === 3);
    if (six) {
      const even = six.balance.shards.most === 2 && six.balance.shards.fewest === 2;
      checks.push({ target: 'shards: 3 pods and 6 shards settle at 2 each within 10 s (from the last start)', measured: `${ms(six.settleMs)}, ${six.balance.shards.fewest}-${six.balance.shards.most} each`, pass: even && six.settleMs < 10_000 });
    }
    const limit = timings.leaseDurationMs + timings.retryPeriodMs;
    for (const f of r.shards.figures) {
      const label = `${f.shards} shards, ${f.pods} pods`;
      checks.push({ target: `shards: a killed pod's shards move within leaseDuration + retryPeriod = ${ms(limit)} (${label}, worst)`, measured: ms(f.killMs.max), pass: f.killMs.max <= limit });
      checks.push({ target: `shards: a joining pod takes its share within 5 s (${label}, worst)`, measured: ms(f.joinMs.max), pass: f.joinMs.max < 5_000 });
      const afterSettling = f.moves.steady.handovers + f.moves.steady.requests + f.moves.quiet.handovers + f.moves.quiet.requests;
      checks.push({
        target: `shards: no handover or request once settled, no tick twice, no overlap (${label})`,
        measured: `${afterSettling} moves, ${f.ticksRunTwice} twice, ${f.overlaps} overlaps`,
        pass: afterSettling === 0 && f.ticksRunTwice === 0 && f.overlaps === 0,
      });
    }
  }
  const after = r.connections?.figures.find((f) => f.mode === 'after');
  const before = r.connections?.figures.find((f) => f.mode === 'before');
  if (after && before) {
    checks.push({
      target: 'kept-alive Lease client: no new connection for the leader in steady state',
      measured: `${rate(after.leader.connections)} connections, ${rate(after.leader.tlsHandshakes)} TLS handshakes/min (before: ${rate(before.leader.connections)}, ${rate(before.leader.tlsHandshakes)})`,
      pass: after.leader.connections === 0 && !after.leaderChanged,
    });
  }
  return checks;
}

export function renderReport(r: BenchResults, checks: TargetCheck[]): string {
  const out: string[] = [];
  if (r.gate) {
    const g = r.gate;
    const bare = g.nsPerCall.bare.median;
    const row = (label: string, s: Summary) => [label, ns(s.median), ns(s.p95), `x${(s.median / bare).toFixed(1)}`, String(s.n)];
    out.push(
      table(`1. Gate overhead: ns per tick (${g.config.iterations.toLocaleString('en')} calls x ${g.config.trials} trials; HTTP: ${g.config.httpIterations} calls x ${g.config.trials})`,
        ['variant', 'median', 'p95', 'vs bare', 'n'],
        [
          row('bare method (no gate)', g.nsPerCall.bare),
          row('@LeaderOnly, leader (runs)', g.nsPerCall.gatedLeader),
          row('@LeaderOnly, follower (skipped)', g.nsPerCall.gatedFollower),
          row('@LeaderOnly, leader, with metrics and tracing on (no SDK)', g.nsPerCall.gatedLeaderObserved),
          row('@LeaderOnly, follower, with metrics and tracing on (no SDK)', g.nsPerCall.gatedFollowerObserved),
          row('HTTP GET per tick, leader (runs)', g.nsPerCall.httpLeader),
          row('HTTP GET per tick, follower (skips)', g.nsPerCall.httpFollower),
          ['gate overhead, leader (gated - bare)', ns(g.overheadNs.leader.median), ns(g.overheadNs.leader.p95), '', String(g.overheadNs.leader.n)],
          ['gate overhead, follower (gated - bare)', ns(g.overheadNs.follower.median), ns(g.overheadNs.follower.p95), '', String(g.overheadNs.follower.n)],
        ],
        [`HTTP per tick is x${g.ratios.httpLeaderOverGatedLeader.toFixed(0)} the gate on the leader, x${g.ratios.httpFollowerOverGatedFollower.toFixed(0)} on a follower.`],
      ),
    );
  }
  if (r.leaseFailover) {
    const l = r.leaseFailover;
    out.push(
      table(`2. Failover, Lease backend (${l.candidates} Nest-app candidates; crash = ${l.crashModel}; crash-pod = the same with lease.fastFailover, and ${l.kubeletModel})`,
        ['kind', 'timings (lease/renew/retry)', 'median', 'p95', 'worst', 'n', 'overlaps', 'after the report (median / worst)'],
        l.figures.map((f) => [
          f.kind, `${f.timingName} ${timingsLabel(f.timings)}`, ms(f.summary.median), ms(f.summary.p95), ms(f.summary.max), String(f.summary.n), String(f.overlaps),
          f.afterReport ? `${ms(f.afterReport.median)} / ${ms(f.afterReport.max)}` : '',
        ]),
      ),
    );
  }
  if (r.sidecarFailover) {
    const s = r.sidecarFailover;
    out.push(
      table(`3. Failover, sidecar backend (${s.candidates} Nest apps, one stand-in; answer changed -> new leads AND old stopped)`,
        ['poll interval', 'median', 'p95', 'worst', 'n', 'two leaders (trials)', 'two leaders p95'],
        s.figures.map((f) => [`${f.pollIntervalMs} ms`, ms(f.switchMs.median), ms(f.switchMs.p95), ms(f.switchMs.max), String(f.switchMs.n), `${f.dualLeaderTrials}/${f.switchMs.n}`, ms(f.dualLeaderMs.p95)]),
      ),
    );
  }
  if (r.apiLoad) {
    const a = r.apiLoad;
    out.push(
      table(`4. API load, steady state, requests per minute (timings ${timingsLabel(a.timings)}; window ${ms(a.figures[0]?.windowMs ?? 0)})`,
        ['candidates', 'leader', 'follower (mean)', 'follower p95', 'all', 'client-go leader', 'client-go follower', 'client-go all', 'follower ratio'],
        a.figures.map((f) => [
          `${f.candidates} (${f.kind})`,
          verbs(f.leader),
          verbs(f.follower),
          rate(f.followerTotals.p95),
          rate(f.all),
          verbs(f.clientGo.leader),
          verbs(f.clientGo.follower),
          rate(f.clientGo.all),
          `x${f.ratio.follower.toFixed(3)}`,
        ]),
        [`A follower re-opens its watch when the server ends it (timeoutSeconds 300-600 s): about ${a.amortizedWatchesPerFollowerPerMinute.toFixed(2)} watch/min amortized, rarely inside one window.`],
      ),
    );
  }
  if (r.scale) {
    const s = r.scale.summary;
    const n = r.scale.config.candidates;
    out.push(
      table(`5. Scale: ${n} bare LeaseElectors on one Lease (${r.scale.credentials}; ${r.scale.apiServer}; window ${ms(r.scale.config.windowMs)})`,
        ['figure', 'median', 'p95', 'n'],
        [
          ['start -> first leader', ms(s.firstLeaderMs.median), ms(s.firstLeaderMs.p95), String(s.firstLeaderMs.n)],
          [`start -> exactly one leads, all ${n} agree`, ms(s.allAgreeMs.median), ms(s.allAgreeMs.p95), String(s.allAgreeMs.n)],
          ['requests/s, steady state', rate(s.requestsPerSecond.median), rate(s.requestsPerSecond.p95), String(s.requestsPerSecond.n)],
          ['  client-go polling, same timings', rate(r.scale.clientGoRequestsPerSecond), '', ''],
          ['heap per candidate (after GC)', kib(s.heapBytesPerCandidate.median), kib(s.heapBytesPerCandidate.p95), String(s.heapBytesPerCandidate.n)],
          ['RSS per candidate', kib(s.rssBytesPerCandidate.median), kib(s.rssBytesPerCandidate.p95), String(s.rssBytesPerCandidate.n)],
          [`stop all ${n} (leader releases)`, ms(s.stopMs.median), ms(s.stopMs.p95), String(s.stopMs.n)],
        ],
        [`Released on stop: ${r.scale.trials.map((t) => (t.releasedOnStop ? 'yes' : 'NO')).join(', ')}.`],
      ),
    );
  }
  if (r.churn) {
    const c = r.churn;
    out.push(
      table(`6. Safety under churn (${c.config.candidates} Nest apps, timings ${timingsLabel(c.config.timings)}, ${ms(c.config.durationMs)} of churn)`,
        ['figure', 'value'],
        [
          ['faults forced (each kind below, in turn)', String(Object.values(c.actions).reduce((sum, n) => sum + n, 0))],
          ['leadership changes seen', String(c.failovers)],
          ['seconds observed', String(c.seconds)],
          ['claim: false (any leader election): runs', String(c.runs)],
          ['claim: false: seconds run by two candidates', String(c.doubleRunSeconds)],
          ['claim: false: seconds run by nobody', String(c.idleSeconds)],
          ["claimed, missedRuns 'runEach': runs (of which catch-ups)", `${c.claimed.runs} (${c.claimed.catchUpRuns})`],
          ['claimed: ticks run twice', String(c.claimed.ticksRunTwice)],
          ['claimed: ticks run by nobody', String(c.claimed.ticksRunByNobody)],
          ["claimed: of which reported interrupted (at most once: interruptedRun 'skip')", String(c.claimed.missedSeconds.filter((second) => c.claimed.interruptedSeconds.includes(second)).length)],
          ['fenced writes accepted / stale rejected', `${c.fencedWrites.accepted} / ${c.fencedWrites.staleRejected}`],
          ['overlapping leadership intervals', String(c.overlaps)],
          ['term (fencing token) regressions', String(c.termRegressions)],
          ...Object.entries(c.recoveryMs).filter(([, s]) => s.n > 0).map(([k, s]) => [
            `recovery after ${k}: median / p95`,
            `${ms(s.median)} / ${ms(s.p95)} (n=${s.n})`,
          ]),
        ],
      ),
    );
  }
  if (r.churn?.sharded) {
    const s = r.churn.sharded;
    const faults = Object.values(s.actions).reduce((sum, n) => sum + n, 0);
    out.push(
      table(`6b. Safety under churn, sharded (${s.config.candidates} Nest apps, ${s.config.shards} shards, ${s.config.jobs} per-second jobs claimed with runEach; timings ${timingsLabel(s.config.timings)}, ${ms(s.config.durationMs)} of churn, ${faults} faults; ${s.seconds} seconds observed)`,
        ['job', 'shard', 'runs (catch-ups)', 'ticks run twice', 'ticks run by nobody', 'of which reported interrupted'],
        s.jobs.map((job) => [job.job, job.shard, `${job.runs} (${job.catchUpRuns})`, String(job.ticksRunTwice), String(job.ticksRunByNobody), String(job.reportedInterrupted)]),
        [
          `Per shard, leadership changes / overlapping intervals: ${s.shards.map((shard) => `${shard.shard.replace('default-', '')} ${shard.failovers}/${shard.overlaps}`).join(', ')}.`,
          `Balancing over the run: ${s.handovers} handovers, ${s.requests} requests.`,
          `Recovery (until every shard of the victim led again), median: ${Object.entries(s.recoveryMs).filter(([, x]) => x.n > 0).map(([k, x]) => `${k} ${ms(x.median)}`).join(', ')}.`,
        ],
      ),
    );
  }
  if (r.shutdown) {
    const d = r.shutdown;
    out.push(
      table(`7. Shutdown time of a leader, no job running (timings ${timingsLabel(d.timings)}, request timeout ${ms(d.requestTimeoutMs)})`,
        ['API during shutdown', 'median', 'p95', 'worst', 'n', 'released'],
        d.figures.map((f) => [f.condition, ms(f.closeMs.median), ms(f.closeMs.p95), ms(f.closeMs.max), String(f.closeMs.n), `${f.released}/${f.closeMs.n}`]),
      ),
    );
  }
  if (r.connections) {
    const c = r.connections;
    const row = (mode: string, role: string, x: ConnectionRates) => [mode, role, rate(x.requests), rate(x.connections), rate(x.tlsFull), rate(x.tlsResumed)];
    out.push(
      table(`8. Connections, steady state, per minute (timings ${timingsLabel(c.timings)}; ${c.candidates} bare electors; ${c.transport}; window ${ms(c.figures[0]?.windowMs ?? 0)})`,
        ['mode', 'candidate', 'requests', 'TCP connections', 'TLS full handshakes', 'TLS resumed'],
        c.figures.flatMap((f) => [row(f.mode, 'leader', f.leader), row(f.mode, 'follower (mean)', f.follower)]),
        [
          'before: client-node 1.4 alone, a new agent per request (reuseConnections: false); after: one kept-alive agent per LeaseLock.',
          `Leader connections open at the end: ${c.figures.map((f) => `${f.mode} ${f.leaderOpenAtEnd}`).join(', ')}.`,
        ],
      ),
    );
  }
  if (r.claimCost) {
    const k = r.claimCost;
    out.push(
      table(`9. What claims cost: Lease writes per minute by a lone leader (timings ${timingsLabel(k.timings)}, window ${ms(k.windowMs)})`,
        ['job', 'claim: false', 'claimed', 'extra'],
        k.figures.map((f) => [f.period, f.writesPerMinute.unclaimed.toFixed(1), f.writesPerMinute.claimed.toFixed(1), f.extraWritesPerMinute.toFixed(1)]),
        ['A claim renews the Lease too, and the next renew comes a retry period after it.'],
      ),
    );
  }
  if (r.controlCost) {
    const k = r.controlCost;
    out.push(
      table(`11. What steering jobs costs (3 Nest apps, timings ${timingsLabel(k.config.timings)}; asked from a follower)`,
        ['action', 'writes: asker / leader / other', 'reads: asker / leader / other', 'call took'],
        k.actions.map((a) => [a.action, `${a.writes.asker} / ${a.writes.leader} / ${a.writes.other}`, `${a.reads.asker} / ${a.reads.leader} / ${a.reads.other}`, ms(a.ms)]),
        [`jobs() with ${k.config.jobs} jobs, on a follower: ${k.jobsCall.microseconds.median.toFixed(1)} µs median (p95 ${k.jobsCall.microseconds.p95.toFixed(1)}), ${Math.round(k.jobsCall.bytes.median)} bytes allocated per call (${k.config.trials} trials of ${k.config.calls} calls).`],
      ),
    );
  }
  if (r.jepsen) {
    const j = r.jepsen;
    out.push(
      table(`10. Each tick once, separate processes (clocks ${j.config.offsetsMs.join(' / ')} ms; timings ${timingsLabel(j.config.timings)}; ${ms(j.config.durationMs)} of faults)`,
        ['figure', 'value'],
        [
          ['faults (graceful/pause/crash/partition/slow API/429 Retry-After)', `${j.faults.graceful}/${j.faults.pause}/${j.faults.crash}/${j.faults.partition}/${j.faults['slow-api']}/${j.faults['retry-after']}`],
          ['seconds observed', String(j.seconds)],
          ['writes to the fenced store (of which catch-ups)', `${j.writes} (${j.catchUpWrites})`],
          ['ticks run twice', String(j.ticksRunTwice)],
          ['ticks run by nobody', String(j.ticksRunByNobody)],
          ['of which reported interrupted (at most once: interruptedRun \'skip\')', String(j.missedSeconds.filter((second) => j.interruptedSeconds.includes(second)).length)],
          ['stale writes refused by the store', String(j.staleWritesRefused)],
        ],
      ),
    );
  }
  if (r.shards) {
    const k = r.shards.config;
    const moves = (m: { handovers: number; requests: number }) => `${m.handovers}/${m.requests}`;
    out.push(
      table(`12. Shards: settle, spread and writes (Nest apps with ${k.jobs} @Cron jobs '${k.cron}' each, claimed; timings ${timingsLabel(k.timings)}; window ${ms(k.windowMs)})`,
        ['shards', 'pods', 'settle (last start / first)', 'writes/min all', 'per shard (median, min-max)', 'renewals alone', 'reads/min', 'shards per pod', 'jobs per pod', 'jobs run per pod'],
        r.shards.figures.map((f) => [
          String(f.shards), String(f.pods), `${ms(f.settleMs)} / ${ms(f.rolloutMs)}`, f.writesPerMinute.total.toFixed(1),
          `${f.writesPerMinute.perShard.median.toFixed(1)} (${f.writesPerMinute.perShard.min.toFixed(1)}-${f.writesPerMinute.perShard.max.toFixed(1)})`,
          f.renewalsPerMinute.toFixed(0), f.readsPerMinute.toFixed(1),
          `${f.balance.shards.fewest}-${f.balance.shards.most}`, `${f.balance.jobs.fewest}-${f.balance.jobs.most}`, `${f.jobsRun.fewest}-${f.jobsRun.most}`,
        ]),
        ['Settled: every shard led by one pod, each pod leading floor or ceil of shards / pods, as the pods say. Jobs per pod: by the shards each leads; jobs run: distinct jobs each pod ran in the window.'],
      ),
      table(`12b. Shards: rebalancing (${k.trials} trial(s) each: the pod leading the most killed, its Leases left to expire; then a new pod joins), and handovers/requests logged`,
        ['shards', 'pods', 'kill: median / worst', 'join: median / worst', 'rollout', 'kill', 'join', 'steady + quiet', 'ticks twice', 'overlaps'],
        r.shards.figures.map((f) => [
          String(f.shards), String(f.pods), `${ms(f.killMs.median)} / ${ms(f.killMs.max)}`, `${ms(f.joinMs.median)} / ${ms(f.joinMs.max)}`,
          moves(f.moves.rollout), moves(f.moves.kill), moves(f.moves.join), moves({ handovers: f.moves.steady.handovers + f.moves.quiet.handovers, requests: f.moves.steady.requests + f.moves.quiet.requests }),
          String(f.ticksRunTwice), String(f.overlaps),
        ]),
        [`Kill: from the kill until the rest hold floor/ceil (the killed pod led ${r.shards.figures.map((f) => f.killedLed.join('/')).join(', ')} shards). Join: from the new pod's start. Moves as handovers/requests.`],
      ),
    );
  }
  out.push(table('Targets', ['target', 'measured', 'result'], checks.map((c) => [c.target, c.measured, c.pass ? 'PASS' : 'MISS'])));
  return out.join('\n');
}

function table(title: string, headers: string[], rows: string[][], notes: string[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [``, title, line(headers), rule, ...rows.map(line), ...notes.map((n) => `  ${n}`)].join('\n');
}

const timingsLabel = (t: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number }) =>
  `${t.leaseDurationMs}/${t.renewDeadlineMs}/${t.retryPeriodMs}`;

function ns(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return Math.abs(value) >= 10_000 ? `${(value / 1000).toFixed(1)} µs` : `${value.toFixed(0)} ns`;
}

function ms(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 10_000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(0)} ms`;
}

const rate = (value: number | undefined) => (value ?? 0).toFixed(2);
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** `PUT 30.00 GET 0.00`: the verbs used, GET/PUT named as HTTP methods, the rest as verbs. */
function verbs(perMinute: PerMinute): string {
  const names: Record<string, string> = { get: 'GET', update: 'PUT', create: 'POST', watch: 'watch', list: 'list', patch: 'PATCH', delete: 'DELETE' };
  const parts = Object.entries(perMinute)
    .filter(([verb]) => verb !== 'total')
    .map(([verb, value]) => `${names[verb] ?? verb} ${rate(value)}`);
  return parts.length > 0 ? parts.join(' ') : 'none';
}
