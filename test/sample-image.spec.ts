import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerProcess } from './packaging/consumer-app.js';
import { REPO_ROOT } from './support/repo-root.js';
import { tsc } from './support/tsc.js';

const run = promisify(execFile);

interface Lockfile {
  packages: Record<string, { version?: string; dev?: boolean }>;
}
const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(join(REPO_ROOT, path), 'utf8')) as T;

/**
 * What sample/Dockerfile's final stage holds, built without Docker: sample/package.json and its
 * lockfile installed with `npm ci --omit=dev`, the compiled sample next to them, started with plain
 * `node` as the image's CMD does. If the sample imported a package that sample/package.json does not
 * list (a dev dependency of the repository), it would fail to start here as in the image.
 */
describe('the sample image', () => {
  let image: string;

  beforeAll(async () => {
    image = await mkdtemp(join(tmpdir(), 'nestjs-cluster-leader-sample-image-'));
    const install = async () => {
      await cp(join(REPO_ROOT, 'sample/package.json'), join(image, 'package.json'));
      await cp(join(REPO_ROOT, 'sample/package-lock.json'), join(image, 'package-lock.json'));
      // The same versions as the repository's lockfile (checked below) are in npm's cache after
      // `npm ci`, so this needs no network.
      await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: image });
    };
    // Compiled as `npm run build:sample` does (tsc, then sample/link-library.mjs), straight into the
    // image folder, so this file never touches the dist-sample/ that other test files run.
    const build = (async () => {
      await tsc(['-p', 'tsconfig.sample.json', '--outDir', join(image, 'dist-sample')]);
      await run(process.execPath, ['sample/link-library.mjs', join(image, 'dist-sample')], { cwd: REPO_ROOT });
    })();
    await Promise.all([install(), build]);
  }, 120_000);

  afterAll(async () => {
    if (image !== undefined) await rm(image, { recursive: true, force: true });
  });

  it('locks the sample to the versions the repository tests with', async () => {
    const sample = await readJson<Lockfile>('sample/package-lock.json');
    const repository = await readJson<Lockfile>('package-lock.json');
    const differences = Object.entries(sample.packages)
      .filter(([path]) => path !== '')
      .filter(([path, { version }]) => repository.packages[path]?.version !== version)
      .map(([path, { version }]) => `${path}: ${version} here, ${repository.packages[path]?.version ?? 'absent'} in package-lock.json`);
    // To update: copy package-lock.json next to sample/package.json in an empty folder, run
    // `npm install --package-lock-only --offline` there, and copy the lockfile back.
    expect(differences).toEqual([]);
  });

  it('holds production dependencies only', async () => {
    const installed = await readdir(join(image, 'node_modules'));
    // The repository's build and test tooling. (@types/* are there: @kubernetes/client-node 1.4
    // lists them as its dependencies.)
    for (const tool of ['typescript', 'vitest', 'vite', 'yaml']) expect(installed).not.toContain(tool);
    expect(await readdir(join(image, 'node_modules/@nestjs'))).not.toContain('testing');
    const lock = await readJson<Lockfile>('sample/package-lock.json');
    expect(Object.entries(lock.packages).filter(([, entry]) => entry.dev).map(([path]) => path)).toEqual([]);
  });

  it('starts as the image does, serves /status, runs its job, and exits 0 on SIGTERM', async () => {
    const sample = new ConsumerProcess(process.execPath, image, { PORT: '0', SAMPLE_JOB_CRON: '* * * * * *' }, 'dist-sample/sample/src/main.js');
    try {
      const listening = await sample.waitForLine(/Listening on port (\d+)/);
      const port = /Listening on port (\d+)/.exec(listening)![1];
      await sample.waitForLine(/Run 1: wrote the report/);
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as { isLeader: boolean; runs: number };
      expect(status.isLeader).toBe(true);
      expect(status.runs).toBeGreaterThanOrEqual(1);
      expect(await sample.stop()).toEqual({ code: 0, signal: null });
    } finally {
      await sample.kill();
    }
  });

  it('imports the library by its package name only, so its sources copy into an app as they are', async () => {
    const folder = join(REPO_ROOT, 'sample/src');
    const specifiers: string[] = [];
    for (const file of (await readdir(folder)).filter((name) => name.endsWith('.ts'))) {
      const text = await readFile(join(folder, file), 'utf8');
      for (const [, specifier] of text.matchAll(/\bfrom '([^']+)'/g)) specifiers.push(specifier!);
    }
    // Relative imports stay inside sample/src; the library comes by name, and the image above holds
    // no lib/ source: it ran with only what `npm run build:sample` wrote.
    expect(specifiers.filter((specifier) => specifier.startsWith('.') && !specifier.startsWith('./'))).toEqual([]);
    expect(specifiers).toContain('nestjs-cluster-leader');
    expect(specifiers).toContain('nestjs-cluster-leader/terminus');
    expect(specifiers).toContain('nestjs-cluster-leader/control');
    expect(JSON.parse(await readFile(join(image, 'dist-sample/package.json'), 'utf8'))).toMatchObject({
      name: 'nestjs-cluster-leader',
      type: 'module',
      exports: { '.': { default: './lib/index.js' }, './terminus': { default: './lib/terminus/index.js' }, './control': { default: './lib/control-http/index.js' } },
    });
  });

  it('is built by a Dockerfile whose final stage installs exactly that, and no build output but the sample', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'sample/Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages).toHaveLength(2);
    const final = stages[1];
    expect(final).toMatch(/^COPY sample\/package\.json sample\/package-lock\.json \.\/$/m);
    expect(final).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(final.match(/^COPY --from=build .*$/gm)).toEqual(['COPY --from=build /app/dist-sample ./dist-sample']);
    // The build stage builds as this file does: build:sample, which npm follows with postbuild:sample.
    const { scripts } = await readJson<{ scripts: Record<string, string> }>('package.json');
    expect(scripts['postbuild:sample']).toBe('node sample/link-library.mjs dist-sample');
    expect(stages[0]).toMatch(/^COPY sample\/link-library\.mjs \.\/sample\/$/m);
    expect(stages[0]).toMatch(/^RUN npm run build:sample$/m);
  });
});
