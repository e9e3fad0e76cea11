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
      import * as testing from 'nestjs-cluster-leader/testing';
      import pkg from 'nestjs-cluster-leader/package.json' with { type: 'json' };
      console.log(JSON.stringify({ name: pkg.name, exports: Object.keys(lib).sort(), testing: Object.keys(testing).sort() }));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    const { name, exports, testing } = JSON.parse(stdout) as { name: string; exports: string[]; testing: string[] };
    expect(testing).toEqual(['LeaderElectionTestingModule', 'TestLeadership']);
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
    const testingDeclarations = await readFile(new URL('../dist/testing/index.d.ts', import.meta.url), 'utf8');
    expect(testingDeclarations).toContain('TestLeadership');
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    const [{ files }] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const paths = files.map((file) => file.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/testing/index.d.ts']));
    expect(paths.filter((path) => !path.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(path))).toEqual([]);
  });
});
