import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeApiServer } from '../test/support/kube-apiserver/index.js';
import type { RbacRule } from '../test/support/kube-apiserver/types.js';

/**
 * `npm run local-cluster`: a Kubernetes API server on this machine (the project's test apiserver,
 * which answers the Lease API as a real one does), a kubeconfig for each of three replicas, and the
 * commands that start them: run each in its own terminal, watch /status with curl, stop one, and
 * see another take over. Ctrl-C stops the API server and removes the kubeconfigs.
 *
 *   --ports=3001,3002,3003   the replicas' HTTP ports (PORT), one per replica
 *   --api-port=0             the API server's port (0: any free one, printed)
 *   --sample-dir=dist-sample where the sample was compiled (npm run build:sample), from the
 *                            current folder (npm runs scripts from the repository root)
 *
 * What it prints is the interface: test/local-cluster.spec.ts runs the printed commands.
 */

const COMMAND = 'npm run local-cluster';
const NAMESPACE = 'default';
/** The sample's Lease (LEADER_ELECTION_LEASE_NAME's default), as in sample/k8s/lease. */
const LEASE = 'sample-leader';
/** Short timings, so that a crash hands over in seconds; the sample reads them from these variables. */
const TIMINGS = { LEASE_DURATION_MS: 4_000, RENEW_DEADLINE_MS: 3_000, RETRY_PERIOD_MS: 1_000 };
/** The sample's Role (sample/k8s/lease/rbac.yaml): each replica may do only what a pod may. */
const SAMPLE_ROLE: RbacRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEASE], verbs: ['get', 'update', 'watch'], namespaces: [NAMESPACE] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'], namespaces: [NAMESPACE] },
];

class UsageError extends Error {}

interface Settings {
  ports: number[];
  apiPort: number;
  sampleMain: string;
}

function readSettings(args: string[]): Settings {
  let values: { ports?: string; 'api-port'?: string; 'sample-dir'?: string };
  try {
    ({ values } = parseArgs({ args, options: { ports: { type: 'string' }, 'api-port': { type: 'string' }, 'sample-dir': { type: 'string' } } }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}. Options: --ports=3001,3002,3003, --api-port=0, --sample-dir=dist-sample.`);
  }
  const portsText = values.ports ?? '3001,3002,3003';
  const ports = portsText.split(',').map((port) => Number(port.trim()));
  if (ports.length < 2 || ports.some((port) => !Number.isInteger(port) || port < 1 || port > 65_535) || new Set(ports).size !== ports.length) {
    throw new UsageError(`--ports=${portsText}: give two or more distinct port numbers, comma-separated, e.g. --ports=3001,3002,3003.`);
  }
  const apiPortText = values['api-port'] ?? '0';
  const apiPort = Number(apiPortText);
  if (!/^\d+$/.test(apiPortText) || apiPort > 65_535) {
    throw new UsageError(`--api-port=${apiPortText}: give a port number, e.g. --api-port=6443, or 0 for any free port.`);
  }
  const sampleDir = resolve(values['sample-dir'] ?? 'dist-sample');
  const sampleMain = join(sampleDir, 'sample/src/main.js');
  if (!existsSync(sampleMain)) {
    throw new UsageError(`--sample-dir=${values['sample-dir'] ?? 'dist-sample'}: ${sampleMain} does not exist. Build the sample first: npm run build:sample (${COMMAND} does).`);
  }
  if (!existsSync(join(sampleDir, 'package.json'))) {
    throw new UsageError(`--sample-dir=${values['sample-dir'] ?? 'dist-sample'}: it has no package.json, so the sample cannot import nestjs-cluster-leader. Run: node sample/link-library.mjs ${sampleDir}`);
  }
  return { ports, apiPort, sampleMain };
}

/** A word the shell passes as it is, quoted only when it has to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Resolves false when something already listens on the port (the replica would fail to start). */
function isFree(port: number): Promise<boolean> {
  return new Promise((settle) => {
    const probe = createServer();
    probe.once('error', () => settle(false));
    probe.listen(port, () => probe.close(() => settle(true)));
  });
}

const startedAt = performance.now();
const stamp = () => `[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)} s]`;

async function main(): Promise<void> {
  let settings: Settings;
  try {
    settings = readSettings(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`local-cluster: ${error.message}`);
    process.exitCode = 2;
    return;
  }

  const server = await KubeApiServer.start({ port: settings.apiPort });
  const directory = await mkdtemp(join(tmpdir(), 'nestjs-cluster-leader-local-'));
  const names = settings.ports.map((_, index) => `replica-${index + 1}`);
  const commands: string[] = [];
  for (const [index, name] of names.entries()) {
    server.addUser(name, { rules: SAMPLE_ROLE });
    const kubeconfig = join(directory, `${name}.kubeconfig`);
    await writeFile(kubeconfig, server.kubeConfig(name).exportConfig());
    const env = {
      PORT: settings.ports[index]!,
      MY_POD_NAME: name,
      KUBECONFIG: kubeconfig,
      LEADER_ELECTION_BACKEND: 'lease',
      LEADER_ELECTION_NAMESPACE: NAMESPACE,
      ...TIMINGS,
    };
    const assignments = Object.entries(env).map(([variable, value]) => `${variable}=${shellWord(String(value))}`);
    commands.push(['env', ...assignments, 'node', shellWord(settings.sampleMain)].join(' '));
  }

  const busy = (await Promise.all(settings.ports.map(async (port) => ((await isFree(port)) ? [] : [port])))).flat();
  const ports = settings.ports.join(' ');
  console.log(`Kubernetes API server: ${server.url} (the Lease API, in memory; every replica has its own user and the sample's Role)
Kubeconfigs: ${directory}

Start each replica in a terminal of its own:
${commands.map((command) => `  ${command}`).join('\n')}
${busy.length > 0 ? `\nWARNING: port ${busy.join(', ')} is in use already; pick others with ${COMMAND} -- --ports=4001,4002,4003\n` : ''}
Watch who leads (isLeader, leader, term, runs), once or every second:
  curl -s localhost:${settings.ports[0]}/status
  while sleep 1; do for port in ${ports}; do curl -s localhost:$port/status; echo; done; echo; done

Fail over:
  Ctrl-C in the leader's terminal   shuts it down gracefully: it releases the Lease, another replica takes over at once
  kill -9 <pid>                     a crash (the pid is on each of its log lines): another takes over once the lease
                                    runs out, ${TIMINGS.LEASE_DURATION_MS / 1000} s after the last renewal
  then start it again with its command: it comes back as a follower.

Ctrl-C here stops the API server (stop the replicas first) and removes the kubeconfigs.

The Lease ${NAMESPACE}/${LEASE}, as the API server stores it:`);

  // Every change of holder, as the API server wrote it; and each replica's first request.
  let holder: string | undefined;
  const seen = new Set<string>();
  server.on('request', ({ user, verb, status }) => {
    if (user !== null && !seen.has(user)) {
      seen.add(user);
      console.log(`${stamp()} ${user} connected`);
    }
    if ((verb !== 'update' && verb !== 'create') || status >= 300) return;
    const spec = server.getLease(NAMESPACE, LEASE)?.spec;
    const current = spec?.holderIdentity ?? '';
    if (current === holder) return;
    holder = current;
    console.log(current ? `${stamp()} held by ${current} (term ${spec?.leaseTransitions ?? 0})` : `${stamp()} released: no holder`);
  });

  const signal = await new Promise<NodeJS.Signals>((settle) => {
    for (const name of ['SIGINT', 'SIGTERM'] as const) process.once(name, () => settle(name));
  });
  console.log(`${stamp()} ${signal}: stopping the API server`);
  await server.close();
  await rm(directory, { recursive: true, force: true });
  console.log(`${stamp()} stopped; ${directory} removed`);
}

await main();
