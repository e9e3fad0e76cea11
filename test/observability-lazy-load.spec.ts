import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/repo-root.js';
import { tsc } from './support/tsc.js';

/**
 * The optional peers stay optional: an app that imports nestjs-cluster-leader and starts the
 * module without the health, metrics or tracing options loads none of @nestjs/terminus,
 * prom-client or @opentelemetry/api. Checked on the compiled library in a plain Node process,
 * with a module-resolution hook that records every module the ESM loader resolves and a look
 * at require.cache for those loaded by require(); the same process with the options on is the
 * proof that the check sees them when they are loaded.
 */

const run = promisify(execFile);
const PEERS = ['@nestjs/terminus', 'prom-client', '@opentelemetry/api'];

let work: string;

beforeAll(async () => {
  // Inside the repository, so that the compiled library resolves the repository's node_modules.
  work = await mkdtemp(join(REPO_ROOT, '.lazy-load-'));
  await tsc(['-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', join(work, 'dist'), '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false']);
  await writeFile(join(work, 'hooks.mjs'), [
    "import { appendFileSync } from 'node:fs';",
    'let log;',
    'export function initialize(data) { log = data.log; }',
    'export async function resolve(specifier, context, next) {',
    '  const result = await next(specifier, context);',
    "  appendFileSync(log, result.url + '\\n');",
    '  return result;',
    '}',
  ].join('\n'));
  await writeFile(join(work, 'register.mjs'), [
    "import { register } from 'node:module';",
    "register('./hooks.mjs', import.meta.url, { data: { log: process.env.RESOLVED_LOG } });",
  ].join('\n'));
  await writeFile(join(work, 'app.mjs'), [
    "import 'reflect-metadata';",
    "import { createRequire } from 'node:module';",
    "const { Module } = await import('@nestjs/common');",
    "const { NestFactory } = await import('@nestjs/core');",
    "const lib = await import('./dist/index.js');",
    "if (process.env.TERMINUS_ENTRY) await import('./dist/terminus/index.js');",
    'class AppModule {}',
    'Module({ imports: [lib.LeaderElectionModule.forRoot(JSON.parse(process.env.OPTIONS))] })(AppModule);',
    'const app = await NestFactory.createApplicationContext(AppModule, { logger: false });',
    'await app.close();',
    "console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));",
  ].join('\n'));
}, 120_000);

afterAll(() => rm(work, { recursive: true, force: true }));

/** Starts and closes the app in a new Node process; returns every module file it loaded. */
async function loadedModules(options: object, env: Record<string, string> = {}): Promise<string[]> {
  const log = join(work, `resolved-${Math.random().toString(36).slice(2)}.log`);
  await writeFile(log, '');
  const { stdout } = await run(process.execPath, ['--import', pathToFileURL(join(work, 'register.mjs')).href, join(work, 'app.mjs')], {
    cwd: work,
    env: { ...process.env, RESOLVED_LOG: log, OPTIONS: JSON.stringify(options), ...env },
  });
  const resolved = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  const required = JSON.parse(stdout.trim().split('\n').pop()!) as string[];
  return [...resolved, ...required.map((path) => pathToFileURL(path).href)];
}

const loadedPeers = (modules: string[]) => PEERS.filter((peer) => modules.some((url) => url.includes(`/node_modules/${peer}/`)));
const loadsClientNode = (modules: string[]) => modules.some((url) => url.includes('/node_modules/@kubernetes/client-node/'));

describe('optional peer dependencies', () => {
  it('an app without the observability options loads none of them', async () => {
    const modules = await loadedModules({ backend: 'standalone', identity: 'pod-a' });
    expect(modules.some((url) => url.includes(`${work.split('/').pop()}/dist/index.js`))).toBe(true);
    expect(loadedPeers(modules)).toEqual([]);
  }, 60_000);

  it('with health options only, none either: health needs no peer until the terminus entry is imported', async () => {
    const modules = await loadedModules({ backend: 'standalone', identity: 'pod-a', health: { toleranceMs: 1000 } });
    expect(loadedPeers(modules)).toEqual([]);
  }, 60_000);

  it('the check sees them when they load: metrics and tracing on, and the terminus entry imported', async () => {
    const modules = await loadedModules({ backend: 'standalone', identity: 'pod-a', metrics: {}, tracing: {} }, { TERMINUS_ENTRY: '1' });
    expect(loadedPeers(modules)).toEqual(PEERS);
  }, 60_000);
});

/**
 * @kubernetes/client-node (about 0.4 s and 55 MB to load on Node 20) is loaded only by an app with
 * an election on the Lease backend: standalone, sidecar and 'auto' outside Kubernetes never load it.
 */
describe('@kubernetes/client-node', () => {
  it.each([
    ['standalone', { backend: 'standalone', identity: 'pod-a' }],
    ['sidecar', { backend: 'sidecar', identity: 'pod-a', sidecar: { url: 'http://127.0.0.1:9' } }],
    ["'auto' outside Kubernetes", { identity: 'pod-a', lease: { name: 'app-leader' } }],
  ])('is not loaded on %s', async (_backend, options) => {
    const modules = await loadedModules(options, { KUBERNETES_SERVICE_HOST: '' });
    expect(modules.some((url) => url.includes('/dist/index.js'))).toBe(true);
    expect(loadsClientNode(modules)).toBe(false);
  }, 60_000);

  it('is loaded when an election uses the Lease (the check sees it)', async () => {
    const kubeconfig = join(work, 'kubeconfig.yaml');
    // A server nothing listens on: the app closes before its first round could matter.
    await writeFile(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'clusters: [{ name: k, cluster: { server: "http://127.0.0.1:9", insecure-skip-tls-verify: true } }]',
      'users: [{ name: u, user: { token: t } }]',
      'contexts: [{ name: c, context: { cluster: k, user: u } }]',
    ].join('\n'));
    const modules = await loadedModules({ backend: 'standalone', identity: 'pod-a', elections: { reports: { backend: 'lease', lease: { name: 'reports-leader' } } } }, { KUBECONFIG: kubeconfig, KUBERNETES_SERVICE_HOST: '' });
    expect(loadsClientNode(modules)).toBe(true);
  }, 60_000);
});
