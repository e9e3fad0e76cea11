/** Every message a user may have to act on, in one place, each saying what to do. */

/**
 * A value as a message shows it: strings quoted (`quote`), a function as such, anything else as
 * JSON; `missing` for undefined. Module options quote with ", job options (TypeScript literals) with '.
 */
export function describeValue(value: unknown, { quote = '"', missing = 'missing' }: { quote?: string; missing?: string } = {}): string {
  if (value === undefined) return missing;
  if (typeof value === 'string') return `${quote}${value}${quote}`;
  if (typeof value === 'function') return 'a function';
  try {
    return String(JSON.stringify(value));
  } catch {
    return String(value);
  }
}

export const MODULE_NOT_IMPORTED = (job: string) =>
  `${job} is decorated with @LeaderOnly(), but LeaderElectionModule is not imported, so the job ` +
  `could never run. Import LeaderElectionModule.forRoot(...) (or forRootAsync) in the app module.`;

export const DETACHED_CALL = (job: string) =>
  `${job} is decorated with @LeaderOnly() and was called without its instance (\`this\` is ` +
  `undefined), so it cannot tell which app's election to ask. Call it as a method ` +
  `(instance.method()) or bind it first.`;

export const UNKNOWN_ELECTION = (job: string, election: string, known: string[]) =>
  `${job} is decorated with @LeaderOnly({ election: '${election}' }), but no election of that name ` +
  `is configured (configured: ${known.map((name) => `'${name}'`).join(', ')}). Add it to the ` +
  `\`elections\` option of LeaderElectionModule.forRoot(), or fix the name.`;

export const SHARD_PIN_INVALID = (job: string, election: string, shard: unknown, shards: number) =>
  `${job} is decorated with @LeaderOnly({ shard: ${JSON.stringify(shard) ?? String(shard)} }), but election '${election}' ` +
  (shards === 1
    ? `is not split into shards (its \`shards\` option is 1). Remove the \`shard\` option, or set \`shards\` on the election.`
    : `has ${shards} shards, numbered 0 to ${shards - 1}. Use one of those, or leave \`shard\` out to place the job by its key.`);

export const SHARDED_ELECTION_ASKED = (election: string, shards: readonly string[]) =>
  `Election '${election}' is split into ${shards.length} shards, each with its own leader: ask about one of them ` +
  `(${shards.slice(0, 3).map((name) => `'${name}'`).join(', ')}${shards.length > 3 ? ', ...' : ''}), or use ` +
  `ClusterLeaderService.shards('${election}') for the shards this pod leads.`;

export const SHARDS_NOT_IN_FORCE = (election: string, shards: number, backend: string, autoReason: string | undefined) =>
  `Election '${election}': shards: ${shards} is not in force on the ${backend} backend${autoReason ? ` (backend 'auto' chose it: ${autoReason})` : ''}; ` +
  `this process runs every job of the election, as without shards. Shards spread the jobs over the pods with the lease backend.`;

export const UNKNOWN_ELECTION_REQUESTED = (election: string, configured: readonly string[]) =>
  `No election named '${election}' is configured (configured: ${configured.map((name) => `'${name}'`).join(', ')}). ` +
  `Use one of those names, or add '${election}' to the \`elections\` option of LeaderElectionModule.forRoot().`;

export const SCHEDULE_MODULE_MISSING = (jobs: string[]) =>
  `${jobs.join(', ')} ${jobs.length === 1 ? 'is' : 'are'} scheduled with @Cron, @Interval or @Timeout ` +
  `and decorated with @LeaderOnly(), but ScheduleModule is not imported, so ${jobs.length === 1 ? 'it' : 'they'} ` +
  `would never run. Import ScheduleModule.forRoot() from @nestjs/schedule in the app module.`;

/**
 * Outside Kubernetes, `auto` makes every process lead: right for one process on a laptop or in CI,
 * wrong for several replicas, which would all run every job. A warning, so that it is seen.
 */
export const AUTO_CHOSE_STANDALONE = (election: string, why: string) =>
  `Election '${election}': backend 'auto' chose 'standalone' because ${why}, so this process leads ` +
  `alone, without asking anyone: several replicas started outside Kubernetes all lead, and all run ` +
  `every job. Fine for one process on a laptop or in CI. To run several replicas outside ` +
  `Kubernetes, use backend 'lease' with a kubeconfig (KUBECONFIG or lease.kubeConfig).`;

/** One line per Lease election at start: which Lease, as whom, with which timings. */
export const LEASE_ELECTION_STARTING = (
  election: string,
  lease: { namespace: string; name: string; leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number },
  identity: string,
  autoReason: string | undefined,
) =>
  `Election '${election}': campaigning for the Lease ${lease.namespace}/${lease.name} as ${identity} ` +
  `(leaseDurationMs ${lease.leaseDurationMs}, renewDeadlineMs ${lease.renewDeadlineMs}, retryPeriodMs ${lease.retryPeriodMs})` +
  (autoReason === undefined ? '' : `; backend 'auto' chose 'lease' because ${autoReason}`) + `.`;

export const SHARDED_ELECTION_STARTING = (
  election: string,
  shards: number,
  lease: { namespace: string; name: string; leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number },
  identity: string,
  autoReason: string | undefined,
) =>
  `Election '${election}': split into ${shards} shards, campaigning for the Leases ${lease.namespace}/${lease.name.replace(/-shard-0$/, '')}-shard-0 to -${shards - 1} as ${identity}, ` +
  `leading at most its share of them (leaseDurationMs ${lease.leaseDurationMs}, renewDeadlineMs ${lease.renewDeadlineMs}, retryPeriodMs ${lease.retryPeriodMs})` +
  (autoReason === undefined ? '' : `; backend 'auto' chose 'lease' because ${autoReason}`) + `.`;

export const STANDALONE_IN_KUBERNETES = (election: string) =>
  `Election '${election}' uses backend 'standalone' inside Kubernetes (KUBERNETES_SERVICE_HOST is ` +
  `set): every replica leads and runs every job. Use backend 'lease' (or 'auto') unless this ` +
  `Deployment has exactly one replica.`;

export const STARTED_LEADING = (election: string, identity: string, term: number | null, reason: string) =>
  `Election '${election}': this pod (${identity}) is now the leader` +
  (term === null ? '' : ` (term ${term})`) + `: ${reason}.`;

export const STOPPED_LEADING = (election: string, identity: string, term: number | null, reason: string) =>
  `Election '${election}': this pod (${identity}) stopped leading` +
  (term === null ? '' : ` (term ${term})`) + `: ${reason}.`;

export const NEW_LEADER = (election: string, leader: string | null) =>
  leader === null
    ? `Election '${election}': no leader is known.`
    : `Election '${election}': the leader is ${leader}.`;

export const JOB_FAILED = (job: string) => `Leader-only job ${job} failed`;

/** One line per change of leadership instead of one per skipped tick (see SkippedTicksSummary). */
export const TICKS_SKIPPED_SUMMARY = (election: string, skipped: ReadonlyMap<string, number>) => {
  const total = [...skipped.values()].reduce((sum, count) => sum + count, 0);
  return `Election '${election}': ${total} tick${total === 1 ? '' : 's'} of leader-only jobs skipped here ` +
    `since the last change of leadership (` +
    [...skipped].map(([job, count]) => `${job}: ${count}`).join(', ') + `).`;
};

export const JOB_RUN_CANCELLED = (job: string) =>
  `A newer tick of ${job} replaced this run (overlap: 'cancelOther'): stop now; the new tick runs once this one has ended.`;

export const JOB_PAUSED_ITSELF = (job: string, failures: number, error: string) =>
  `${job} failed ${failures} times in a row and paused itself on every pod (pauseAfterFailures: ${failures}); ` +
  `the last error: ${error}. Fix the cause, then resume it (ClusterLeaderService.resume(), or remove its ` +
  `pause annotation from the Lease).`;

export const JOB_OVERLAP_SKIPPED = (job: string) =>
  `Skipped a tick of ${job}: its previous run is still running on this pod (overlap: 'skip', the ` +
  `default). Further ticks are skipped while it runs; set @LeaderOnly({ overlap: 'allow' }) to run them side by side.`;

const DROP_REASONS: Record<string, string> = {
  missedRunsSkip: "missedRuns is 'skip' (the default)",
  startingDeadline: 'they are older than startingDeadlineMs',
  maxMissedRuns: 'they are beyond the maxMissedRuns most recent',
};

export const TICKS_DROPPED = (job: string, reason: string, fireTimes: Date[], more: boolean) =>
  `${job}: ${fireTimes.length}${more ? '+' : ''} fire time(s) that nobody ran will not run, because ` +
  `${DROP_REASONS[reason] ?? reason}: ${fireTimes.map((t) => t.toISOString()).join(', ')}${more ? ', ...' : ''}.`;

export const TICK_INTERRUPTED = (job: string, fireTime: Date, term: number, action: string) =>
  `${job}: the tick of ${fireTime.toISOString()} was claimed in term ${term}, whose leader stopped ` +
  `before recording that it finished; ` +
  (action === 'rerun'
    ? `running it again (interruptedRun: 'rerun', at least once).`
    : action === 'dropped'
      ? `not running it again: it is older than startingDeadlineMs.`
      : `not running it again (interruptedRun: 'skip', at most once, the default).`);

export const WINDOW_INTERRUPTED = (job: string, fireTimes: readonly Date[], truncated: boolean, term: number, action: string) => {
  const one = fireTimes.length === 1 && !truncated;
  const [them, they] = one ? ['it', 'it is'] : ['them', 'they are'];
  return (
    `${job}: the tick${one ? '' : 's'} of ${fireTimes.map((time) => time.toISOString()).join(', ')}${truncated ? ' and more' : ''} ` +
    `${one ? 'was' : 'were'} claimed ahead in term ${term}, whose leader stopped before recording whether ${one ? 'it' : 'they'} ran; ` +
    (action === 'rerun'
      ? `running ${them} again (interruptedRun: 'rerun', at least once).`
      : action === 'dropped'
        ? `not running ${them} again: ${they} older than startingDeadlineMs.`
        : `not running ${them} again (interruptedRun: 'skip', at most once, the default).`)
  );
};

export const DRAIN_TIMED_OUT = (running: Record<string, number>, timeoutMs: number) =>
  `Shutdown: leader-only job(s) still running after ${timeoutMs} ms (` +
  Object.entries(running).map(([election, count]) => `${count} in election '${election}'`).join(', ') +
  `). Their Leases are not released: other pods take over when they expire, so that no other ` +
  `pod starts the same job while these still run. Make long jobs stop when their AbortSignal ` +
  `fires, or raise drainTimeoutMs (and the pod's terminationGracePeriodSeconds).`;

export const SIDECAR_UNHEALTHY = (url: string, problem: string) =>
  `The leader-elector sidecar at ${url} gave no usable answer (${problem}); failing closed: this ` +
  `pod does not lead until it answers again. Check that the sidecar container runs with ` +
  `--http=localhost:4040 and that \`sidecar.url\` points at it.`;

export const SIDECAR_HEALTHY = (url: string) =>
  `The leader-elector sidecar at ${url} answers again.`;

export const LEASE_API_PROBLEM = (
  election: string,
  lease: string,
  error: { verb: string; status: number; reason: string; message: string },
) => {
  const [namespace, name] = lease.split('/');
  const where = `Election '${election}', Lease ${lease}`;
  if (error.status === 401) {
    return `${where}: the Kubernetes API did not accept this pod's credentials (401 Unauthorized), ` +
      `so it can never lead. Check the ServiceAccount token is mounted (automountServiceAccountToken) ` +
      `or the kubeconfig's user. Retrying slowly.`;
  }
  if (error.status === 403) {
    return `${where}: this pod may not ${error.verb} the Lease (403 Forbidden), so it can never lead. ` +
      `Grant its ServiceAccount a Role in namespace "${namespace}" with the rules ` +
      `{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["${name}"], ` +
      `verbs: ["get", "update", "watch"] } and { apiGroups: ["coordination.k8s.io"], ` +
      `resources: ["leases"], verbs: ["create"] }, bound with a RoleBinding. ` +
      `The server said: ${error.message}. Retrying slowly.`;
  }
  if (error.status === 400 || error.status === 422) {
    return `${where}: the Kubernetes API rejected a ${error.verb} as invalid (${error.status} ` +
      `${error.reason}). This is a bug in nestjs-cluster-leader; please report it with this ` +
      `message: ${error.message}`;
  }
  return `${where}: ${error.verb} failed (${error.status === 0 ? error.reason : `${error.status} ${error.reason}`}): ` +
    `${error.message}. Not leading while this lasts; retrying.`;
};

export const LEASE_API_RECOVERED = (election: string, lease: string) =>
  `Election '${election}', Lease ${lease}: the Kubernetes API answers again.`;

export const LEASE_RELEASED = (election: string, lease: string) =>
  `Election '${election}': released the Lease ${lease} so another pod can take over at once.`;

export const LEASE_NOT_RELEASED = (election: string, lease: string, leaseDurationMs: number) =>
  `Election '${election}': not releasing the Lease ${lease} because its jobs are still running; ` +
  `it is not renewed any more (a last write records the runs that finished) and expires ` +
  `${leaseDurationMs} ms after the others last saw it renewed.`;

export const LEASE_NOT_OURS_TO_RELEASE = (election: string, lease: string, holder: string | null) =>
  `Election '${election}': did not release the Lease ${lease}: it is no longer this process's ` +
  `(${holder === null ? 'nobody holds it' : `held by ${holder}`}).`;

export const EARLIER_PROCESS_HOLDS = (election: string, lease: string, identity: string, fastFailover: boolean) =>
  `Election '${election}': the Lease ${lease} names this pod's identity (${identity}) but was ` +
  `written by another process (an earlier one, if this pod restarted). Treating it as someone ` +
  `else's: this process takes it over only once it expires` +
  (fastFailover ? ` or this pod's status proves that process's container gone (fast failover)` : '') +
  `, as a new term.`;

export const SAME_IDENTITY_PROCESS = (election: string, lease: string, identity: string) =>
  `Election '${election}': another live process with this pod's identity (${identity}) is ` +
  `renewing the Lease ${lease}. Two processes share one identity (a StatefulSet pod replaced ` +
  `while the old one still runs, or two local processes with one HOSTNAME). This process does ` +
  `not lead while the other holds the Lease. Give every process its own identity (MY_POD_NAME ` +
  `from the downward API, or the \`identity\` option).`;

export const LEASE_COORDINATED = (election: string, lease: string, strategy: string) =>
  `Election '${election}': the Lease ${lease} uses coordinated leader election (strategy ` +
  `"${strategy}"), where a coordinator picks the holder. This library does not take part as a ` +
  `candidate: it follows the Lease and never takes it by expiry. Remove spec.strategy from the ` +
  `Lease, or use a Lease of its own for this app.`;

export const HANDING_OVER = (election: string, lease: string, preferred: string) =>
  `Election '${election}': the Lease ${lease} names ${preferred} as its preferred holder; ` +
  `stepping down, and releasing the Lease once this election's running jobs have finished.`;

export const HANDING_OVER_SHARD = (election: string, lease: string, why: string) =>
  `Election '${election}': ${why}; stepping down, and releasing the Lease ${lease} once this shard's running jobs have finished.`;

export const SHARD_REQUESTED = (election: string, index: number, from: string, leading: number, shards: number) =>
  `Election '${election}': this pod leads ${leading} of ${shards} shards and ${from} leads at least two more; asking ${from} for shard ${index}.`;

export const FAST_FAILOVER_PROVED = (election: string, lease: string, holder: string, why: string) =>
  `Election '${election}', Lease ${lease}: taking over from ${holder} at once (fast failover): ${why}, so the process ` +
  `that held the Lease is gone.`;

export const FAST_FAILOVER_READY = (election: string, namespace: string, pod: string, container: string, containerId: string, restartCount: number) =>
  `Election '${election}': fast failover is on: this process is container ${container} of pod ${namespace}/${pod} ` +
  `(${containerId}, restartCount ${restartCount}); its records say so, and if it crashes, others take over as soon as the kubelet reports it.`;

export const FAST_FAILOVER_CANNOT_TELL = (election: string, holder: string, why: string) =>
  `Election '${election}': fast failover cannot take over from ${holder} early: ${why}. Waiting for its lease to expire, as without fast failover.`;

export const FAST_FAILOVER_OWN_CONTAINER_UNKNOWN = (election: string, pod: string, namespace: string, problem: string) =>
  `Election '${election}': fast failover is on, but this process cannot tell which container of pod ${namespace}/${pod} it ` +
  `runs in (${problem}); until it can, others wait for its lease to expire if it crashes. Its identity must be its ` +
  `pod's name (MY_POD_NAME from the downward API), the pod in the Lease's namespace, and its ServiceAccount needs ` +
  `{ apiGroups: [""], resources: ["pods"], verbs: ["get", "watch"] }. Retrying.`;

export const LEDGER_PROBLEM = (election: string, lease: string, problem: string) =>
  `Election '${election}', Lease ${lease}: job ledger: ${problem}.`;

export const LEDGER_NEWER_FORMAT = (election: string, lease: string, version: number, ownVersion: number) => {
  const [namespace, name] = lease.split('/');
  return `Election '${election}', Lease ${lease}: the job ledger was written in format v${version} by a newer ` +
    `version of nestjs-cluster-leader, which this version (format v${ownVersion}) may not write. No tick of a ` +
    `claiming job is claimed here, so none runs on this pod, and the ledger is left as it is. Roll the ` +
    `deployment forward. To go back to this version for good, once no newer pod runs, delete the ledger: ` +
    `kubectl annotate lease ${name} nestjs-cluster-leader/ledger- -n ${namespace} ` +
    `(each claiming job then starts again at its next fire time; missed ones are not caught up).`;
};

export const LEASE_RELEASE_FAILED = (election: string, lease: string, problem: string) =>
  `Election '${election}': could not release the Lease ${lease} (${problem}); other pods take ` +
  `over when it expires.`;

export const SIDECAR_API_SERVING = (election: string, address: { address: string; port: number }) =>
  `Answering as the leader-elector sidecar did, for election '${election}', on ` +
  `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port} (any path).`;

export const SIDECAR_API_LISTEN_FAILED = (host: string, port: number, code: string) => {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return `Another process already listens on ${where} (EADDRINUSE). If the pod still runs the ` +
        `leader-elector sidecar container, remove it: this app now answers in its place. Otherwise ` +
        `choose a free port.`;
    case 'EACCES':
      return `This process may not listen on ${where} (EACCES): ports below 1024 need privileges. ` +
        `Use 4040, as the sidecar did.`;
    default:
      return `No interface of this machine has the address ${host} (${code}). Use '127.0.0.1' ` +
        `(this pod's containers only) or '0.0.0.0' (every interface).`;
  }
};
