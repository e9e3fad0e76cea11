import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerProcess, createConsumer, type ModuleFormat } from './packaging/consumer-app.js';
import { KubeApiServer } from './support/kube-apiserver/index.js';
import { REPO_ROOT } from './support/repo-root.js';
import { tsc } from './support/tsc.js';

const run = promisify(execFile);
/** TypeScript 5.9 (an aliased devDependency), for apps still on `moduleResolution: node`. */
const tsc59 = join(REPO_ROOT, 'node_modules/typescript-5.9/bin/tsc');
const vitest = join(REPO_ROOT, 'node_modules/vitest/vitest.mjs');
const readme = join(REPO_ROOT, 'test/readme');

/**
 * The Node binaries the consumer apps run on, comma-separated: a path, or `node@<version>`, fetched
 * from the npm registry with `npx -y -p node@<version>` (about 10 s the first time, then cached).
 * Default: this machine's Node, 22 and 24. `PACKAGING_NODES=$(which node)` runs on one only.
 */
const NODES = (process.env.PACKAGING_NODES ?? `${process.execPath},node@22,node@24`)
  .split(',')
  .map((node) => node.trim())
  .filter(Boolean);

const nodeBinaries = new Map<string, Promise<string>>();
function nodeBinary(spec: string): Promise<string> {
  if (!spec.startsWith('node@')) return Promise.resolve(spec);
  if (!nodeBinaries.has(spec)) {
    const found = run('npx', ['-y', '-p', spec, '--', 'node', '-p', 'process.execPath'], { cwd: tmpdir() })
      .then(({ stdout }) => stdout.trim())
      .catch((error: Error) => {
        throw new Error(`Could not fetch ${spec} from the npm registry (${error.message}). Run offline with PACKAGING_NODES=${process.execPath}.`);
      });
    nodeBinaries.set(spec, found);
  }
  return nodeBinaries.get(spec)!;
}

let work: string;
let tarball: string;
let packedFiles: string[];

const FORMATS: ModuleFormat[] = ['commonjs', 'module'];
/** Each format runs with one of Nest's two shutdown modes, so both exit codes are checked. */
const SHUTDOWN = { commonjs: 'hooks', module: 'process-exit' } as const;

/** Installs the tarball into a consumer app and compiles it with its own tsc (strict). */
async function installConsumer(folder: string, format: ModuleFormat): Promise<void> {
  await createConsumer(folder, { format, tarball, repoNodeModules: join(REPO_ROOT, 'node_modules'), readme });
  // The shipped declarations must resolve for this format, or the consumer's strict tsc fails.
  await tsc(['-p', 'tsconfig.json'], folder).catch((error: { stdout: string }) => {
    throw new Error(`tsc failed in the ${format} consumer:\n${error.stdout}`);
  });
}

/** The public API, by name: what both consumers must get through `import` and `require()`. */
const PUBLIC_API = [
  'ClusterLeaderService',
  'LeaderElectionConfigError',
  'LeaderElectionModule',
  'LeaderOnly',
  'LeaderOnlySetupError',
  'currentLeaderJob',
];

/**
 * The package as users get it: `npm pack` (which builds it through the `prepack` script), the
 * tarball's contents, and two Nest apps that install the tarball and run a gated job: one compiled
 * to CommonJS, which loads the library with `require()`, and one ES module app, each on every Node
 * in NODES.
 */
describe('the published package', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'nestjs-cluster-leader-packaging-'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT });
    // `prepack` (the build) writes its own output to stdout before npm's JSON.
    const [{ filename, files }] = JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, filename);
    packedFiles = files.map((file) => file.path);
    // Both consumers at once, and each Node binary fetched meanwhile: this is most of the file's time.
    await Promise.all([...FORMATS.map((format) => installConsumer(join(work, format), format)), ...NODES.map(nodeBinary)]);
  }, 120_000);

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('ships the build, the sources its maps point to, README and LICENSE, and nothing else', () => {
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'lib/index.ts', 'dist/testing/index.js', 'dist/testing/index.d.ts',
        // The dashboard page is a module of its own: nothing to copy beside the build.
        'dist/control-http/index.js', 'dist/control-http/index.d.ts', 'dist/control-http/dashboard.page.js',
      ]),
    );
    const unexpected = packedFiles.filter(
      (path) => !/^(dist|lib)\//.test(path) && !['package.json', 'README.md', 'LICENSE'].includes(path),
    );
    expect(unexpected).toEqual([]);
    expect(packedFiles.filter((path) => path.startsWith('lib/') && !path.endsWith('.ts'))).toEqual([]);
  });

  it('ships source and declaration maps whose every source is in the tarball', async () => {
    const maps = packedFiles.filter((path) => path.endsWith('.map'));
    expect(maps).toEqual(expect.arrayContaining(['dist/index.js.map', 'dist/index.d.ts.map']));
    const unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(await readFile(join(unpacked, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const path = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source));
        if (!packedFiles.includes(path)) missing.push(`${map} -> ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('has a LICENSE for the license package.json names', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
    const license = await readFile(join(REPO_ROOT, 'LICENSE'), 'utf8');
    expect(pkg.license).toBe('MIT');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} nestjs-cluster-leader contributors\n/);
    expect(license).toContain('Permission is hereby granted, free of charge');
  });

  it(`installs on Node ${process.versions.node} with no engine warning but file-type's, which NestJS 12.5 brings`, async () => {
    // What `npm ci` prints on a fresh machine, from the lockfile alone (a dry run: nothing installed).
    const folder = join(work, 'engines');
    await mkdir(folder);
    await Promise.all(['package.json', 'package-lock.json'].map((file) => copyFile(join(REPO_ROOT, file), join(folder, file))));
    const { stderr } = await run('npm', ['ci', '--dry-run', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: folder });
    const warned = [...stderr.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map(([, name]) => name);
    // file-type 22 (engines: node >= 22) is a dependency of @nestjs/common 12.5 itself, loaded only
    // by its FileTypeValidator; every NestJS 12.5 app on Node 20 gets this warning. (The Nest CLI's
    // warnings are gone with the CLI: the sample builds with tsc.)
    expect(warned.filter((name) => !name.startsWith('file-type@'))).toEqual([]);
  });

  describe.each(FORMATS.map((format) => ({ format, shutdown: SHUTDOWN[format] })))('a Nest app compiled as $format', ({ format, shutdown }) => {
    const folder = () => join(work, format);

    it(`loads the library with ${format === 'commonjs' ? 'require()' : 'import'} and gets the public API`, async () => {
      const compiled = await readFile(join(folder(), 'dist/main.js'), 'utf8');
      expect(compiled).toContain(format === 'commonjs' ? 'require("nestjs-cluster-leader")' : "from 'nestjs-cluster-leader'");
      const script =
        format === 'commonjs'
          ? `console.log(JSON.stringify(Object.keys(require('nestjs-cluster-leader'))))`
          : `import('nestjs-cluster-leader').then((lib) => console.log(JSON.stringify(Object.keys(lib))))`;
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: folder() });
      expect(JSON.parse(stdout)).toEqual(expect.arrayContaining(PUBLIC_API));
    });

    it(`loads the testing entry point, nestjs-cluster-leader/testing, with ${format === 'commonjs' ? 'require()' : 'import'}`, async () => {
      const script =
        format === 'commonjs'
          ? `console.log(JSON.stringify(Object.keys(require('nestjs-cluster-leader/testing'))))`
          : `import('nestjs-cluster-leader/testing').then((lib) => console.log(JSON.stringify(Object.keys(lib))))`;
      const { stdout } = await run(process.execPath, ['-e', script], { cwd: folder() });
      expect(JSON.parse(stdout)).toEqual(expect.arrayContaining(['LeaderElectionTestingModule', 'TestLeadership']));
    });

    it(`loads nestjs-cluster-leader/control with ${format === 'commonjs' ? 'require()' : 'import'} and serves its dashboard and API over HTTP`, async () => {
      const compiled = await readFile(join(folder(), 'dist/control.js'), 'utf8');
      expect(compiled).toContain(format === 'commonjs' ? 'require("nestjs-cluster-leader/control")' : "from 'nestjs-cluster-leader/control'");
      const app = new ConsumerProcess(process.execPath, folder(), {}, 'dist/control.js');
      try {
        expect(await app.exited).toEqual({ code: 0, signal: null });
        expect(app.stderr).toEqual([]);
        expect(JSON.parse(app.output.at(-1)!)).toEqual({
          status: 200,
          contentType: 'text/html; charset=utf-8',
          title: 'Cluster leader: elections and jobs',
          mutations: false,
          elections: ['default'],
        });
      } finally {
        await app.kill();
      }
    });

    it("starts the README's Usage app (its app module and job, verbatim) with no cluster, warning once per fact", async () => {
      const app = new ConsumerProcess(process.execPath, folder(), {}, 'dist/usage.js');
      try {
        await app.waitForLine(/^usage app started$/);
        await app.waitForLine(/Election 'default': this pod \(\S+\) is now the leader: backend 'standalone' always leads\./);
        expect(app.output.filter((line) => / WARN /.test(line))).toEqual([
          expect.stringContaining("Election 'default': backend 'auto' chose 'standalone' because KUBERNETES_SERVICE_HOST is not set"),
          expect.stringContaining("this @LeaderOnly() option is not in force here: BillingJobs.closeHourlyInvoices (missedRuns: 'runOnce')"),
        ]);
        expect(await app.stop()).toEqual({ code: null, signal: 'SIGTERM' });
        expect(app.stderr).toEqual([]);
      } finally {
        await app.kill();
      }
    });

    it("passes the README's two tests (docs/testing.md, verbatim) with vitest, against the packed package", async () => {
      const { stdout } = await run(process.execPath, [vitest, 'run', '--reporter=verbose'], { cwd: folder(), env: { ...process.env, NO_COLOR: '1', CI: '1' } }).catch(
        (error: { stdout: string; stderr: string }) => {
          throw new Error(`vitest failed in the ${format} consumer:\n${error.stdout}\n${error.stderr}`);
        },
      );
      expect(stdout).toMatch(/Test Files {2}2 passed \(2\)/);
      expect(stdout).toMatch(/Tests {2}3 passed \(3\)/);
    }, 60_000);

    it.concurrent.each(NODES)(
      `runs the gated job on %s and shuts down on SIGTERM with ${shutdown === 'hooks' ? 'exit 143 (enableShutdownHooks())' : 'exit 0 (useProcessExit)'}`,
      async (spec) => {
        const app = new ConsumerProcess(await nodeBinary(spec), folder(), shutdown === 'process-exit' ? { SHUTDOWN: 'process-exit' } : {});
        try {
          // Bounded within the test's own timeout, so that a failure shows the app's output.
          await app.waitForLine(new RegExp(`^started as ${format}, leader true$`), { timeoutMs: 45_000 });
          await app.waitForLine(/^gated job ran in election default$/);
          const exit = await app.stop();
          // Plain enableShutdownHooks() re-raises the signal after closing the app (a shell shows
          // 128 + 15 = 143); useProcessExit exits with 0. Either way the app closed first.
          expect(exit).toEqual(shutdown === 'hooks' ? { code: null, signal: 'SIGTERM' } : { code: 0, signal: null });
          expect(app.output).toEqual(expect.arrayContaining(['stopped leading', 'shut down on SIGTERM']));
          expect(app.stderr).toEqual([]);
        } finally {
          await app.kill();
        }
      },
      60_000,
    );
  });

  it("lets TypeScript 5.9 with classic moduleResolution 'node' find /testing, /terminus and /control (typesVersions)", async () => {
    const { stdout } = await run(process.execPath, [tsc59, '-v']);
    expect(stdout.trim()).toMatch(/^Version 5\.9\./);
    await run(process.execPath, [tsc59, '-p', 'tsconfig.classic.json'], { cwd: join(work, 'commonjs') }).catch((error: { stdout: string }) => {
      throw new Error(`TypeScript 5.9 (moduleResolution node) failed:\n${error.stdout}`);
    });
  });

  it('ships the leader-elector command as a bin that runs from plain Node', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ 'nestjs-cluster-leader-elector': './dist/cli/leader-elector.cli.js', 'kubectl-leader': './dist/cli/kubectl-leader.cli.js' });
    const bin = new URL(`../${pkg.bin['nestjs-cluster-leader-elector']}`, import.meta.url).pathname;
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const { stdout } = await run(process.execPath, [bin, '--help'], { cwd: REPO_ROOT });
    expect(stdout).toContain('Usage: nestjs-cluster-leader-elector --election=<lease name> [flags]');
  });

  it('ships kubectl-leader as a bin that runs from plain Node in the installed package, with its dependencies and no peer (npm install -g --legacy-peer-deps)', async () => {
    // The package as a global install without peers lays it out: the tarball, and its dependencies.
    const library = join(work, 'plugin/node_modules/nestjs-cluster-leader');
    await mkdir(library, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', library, '--strip-components=1']);
    const pkg = JSON.parse(await readFile(join(library, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
    for (const name of Object.keys(pkg.dependencies)) {
      await mkdir(join(work, 'plugin/node_modules', name, '..'), { recursive: true });
      await symlink(join(REPO_ROOT, 'node_modules', name), join(work, 'plugin/node_modules', name), 'dir');
    }
    const bin = join(library, pkg.bin['kubectl-leader']!);
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    // A Lease a leader left behind, read with a user's kubeconfig: every module of the command loads.
    const server = await KubeApiServer.start();
    try {
      server.putLease('default', {
        metadata: { name: 'billing', namespace: 'default', annotations: { 'nestjs-cluster-leader/ledger': '{"v":1,"j":{"closeHourly":[1772323200000,"s",4]}}' } },
        spec: { holderIdentity: 'billing-7d9f-abcde', leaseDurationSeconds: 15, leaseTransitions: 4 },
      });
      server.addUser('alice');
      const kubeconfig = join(work, 'alice.kubeconfig');
      await writeFile(kubeconfig, server.kubeConfig('alice').exportConfig());
      const { stdout } = await run(process.execPath, [bin, 'jobs', 'list', '--lease', 'billing', '--kubeconfig', kubeconfig], { cwd: join(work, 'plugin'), env: { PATH: process.env.PATH } });
      expect(stdout).toBe(
        'Lease default/billing: held by billing-7d9f-abcde (term 4).\n\n' +
          'JOB           PAUSED   LAST RUN               POD      OUTCOME     RUNNING ON\n' +
          'closeHourly   False    2026-03-01T00:00:00Z   <none>   succeeded   <none>\n',
      );
    } finally {
      await server.close();
    }
  });
});
