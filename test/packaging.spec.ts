import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

/**
 * Builds the package as it is published and imports it the way users do: by its name, through the
 * `exports` map, from a plain Node process with no test tooling in between.
 */
describe('the published package', () => {
  beforeAll(async () => {
    await run('npm', ['run', 'build'], { cwd: root });
  }, 120_000);

  it('imports by name from plain Node and exposes the public API', async () => {
    const script = `
      import 'reflect-metadata';
      import * as lib from 'nestjs-cluster-leader';
      import pkg from 'nestjs-cluster-leader/package.json' with { type: 'json' };
      console.log(JSON.stringify({ name: pkg.name, exports: Object.keys(lib).sort() }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    const { name, exports } = JSON.parse(stdout) as { name: string; exports: string[] };
    expect(name).toBe('nestjs-cluster-leader');
    expect(exports).toEqual(
      expect.arrayContaining([
        'ClusterLeaderService',
        'LeaderElectionConfigError',
        'LeaderElectionModule',
        'LeaderOnly',
        'LeaderOnlySetupError',
        'currentLeaderJob',
      ]),
    );
  });

  it('ships type declarations for the entry point and nothing outside dist', async () => {
    const declarations = await readFile(new URL('../dist/index.d.ts', import.meta.url), 'utf8');
    expect(declarations).toContain('LeaderElectionModule');
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    const [{ files }] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const paths = files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts']));
    expect(paths.filter((path) => !path.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(path))).toEqual([]);
  });

  it('ships the leader-elector command as a bin that runs from plain Node', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ 'nestjs-cluster-leader-elector': './dist/cli/leader-elector.cli.js' });
    const bin = new URL(`../${pkg.bin['nestjs-cluster-leader-elector']}`, import.meta.url).pathname;
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const { stdout } = await run(process.execPath, [bin, '--help'], { cwd: root });
    expect(stdout).toContain('Usage: nestjs-cluster-leader-elector --election=<lease name> [flags]');
  });
});
