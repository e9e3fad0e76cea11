import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SpawnedProcess } from '../support/child-process.js';

const run = promisify(execFile);

/** How a consumer's compiled code is loaded: `require()` (CommonJS) or `import` (ES modules). */
export type ModuleFormat = 'commonjs' | 'module';

/**
 * A user's Nest app, the same source for both formats: ScheduleModule, the library in `standalone`
 * mode, a `@LeaderOnly()` `@Interval` job that writes a line when it runs, and shutdown hooks. It
 * imports the library by its name, so it gets exactly what the tarball's `exports` map gives.
 *
 * With SHUTDOWN=process-exit it calls `enableShutdownHooks([], { useProcessExit: true })` (exit 0
 * after SIGTERM), otherwise plain `enableShutdownHooks()` (Nest re-raises SIGTERM: exit 143).
 * It is a string, not a file under test/, so the repository's own typecheck does not try to resolve
 * `nestjs-cluster-leader` before it is built; the consumer's own tsc run checks it.
 */
const CONSUMER_MAIN = `
import 'reflect-metadata';
import { Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import {
  ClusterLeaderService,
  currentLeaderJob,
  LeaderElectionModule,
  LeaderOnly,
  type LeaderElectionModuleOptions,
} from 'nestjs-cluster-leader';

const options: LeaderElectionModuleOptions = {
  backend: 'standalone',
  onStoppedLeading: () => console.log('stopped leading'),
};

@Injectable()
class HeartbeatJob implements OnApplicationShutdown {
  @Interval(20)
  @LeaderOnly()
  beat(): void {
    const election: string = currentLeaderJob()!.election;
    console.log('gated job ran in election ' + election);
  }

  onApplicationShutdown(signal?: string): void {
    console.log('shut down on ' + signal);
  }
}

@Module({
  imports: [ScheduleModule.forRoot(), LeaderElectionModule.forRoot(options)],
  providers: [HeartbeatJob],
})
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  if (process.env.SHUTDOWN === 'process-exit') app.enableShutdownHooks([], { useProcessExit: true });
  else app.enableShutdownHooks();
  const leads: boolean = app.get(ClusterLeaderService).isLeader();
  // typeof require is 'function' only in a CommonJS module.
  console.log('started as ' + (typeof require === 'function' ? 'commonjs' : 'module') + ', leader ' + leads);
}

void main();
`;

/**
 * An HTTP app with the dashboard of `nestjs-cluster-leader/control` (on Nest's Express platform):
 * it GETs the page and the API from itself, prints what it got as one JSON line, and closes. The
 * consumer's strict tsc compiles it, so the entry point's declarations must resolve too.
 */
const CONTROL_MAIN = `
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import type { AddressInfo } from 'node:net';
import { LeaderElectionModule } from 'nestjs-cluster-leader';
import { LeaderElectionControlModule, type ControlElectionsAnswer } from 'nestjs-cluster-leader/control';

@Module({
  imports: [
    ScheduleModule.forRoot(),
    LeaderElectionModule.forRoot({ backend: 'standalone' }),
    LeaderElectionControlModule.forRoot({ path: 'leader' }),
  ],
})
class AppModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const page = await fetch('http://127.0.0.1:' + port + '/leader');
  const html = await page.text();
  const answer = (await (await fetch('http://127.0.0.1:' + port + '/leader/api/elections')).json()) as ControlElectionsAnswer;
  console.log(JSON.stringify({
    status: page.status,
    contentType: page.headers.get('content-type'),
    title: html.split('<title>')[1]?.split('<')[0],
    mutations: answer.mutations,
    elections: answer.elections.map((election) => election.election),
  }));
  await app.close();
}

void main();
`;

/**
 * The README's own files, as a new user pastes them: the Usage app module and job (README.md), the
 * store they use, and the two tests of docs/testing.md. test/readme/readme-examples.spec.ts proves
 * that these files are what the pages show, verbatim.
 */
export const README_FILES = ['app.module.ts', 'billing.jobs.ts', 'invoice.service.ts', 'billing.jobs.spec.ts', 'billing.app.spec.ts'];

/**
 * Starts the README's AppModule as a user's main.ts would (an application context: the consumer
 * has no HTTP platform), with shutdown hooks, and says when it is up.
 */
const USAGE_MAIN = `
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule);
  app.enableShutdownHooks();
  console.log('usage app started');
}

void bootstrap();
`;

/** Vitest for the README's tests: Nest's DI needs the legacy decorators and their metadata. */
const VITEST_CONFIG = `
import { defineConfig } from 'vitest/config';

export default defineConfig({
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  test: { include: ['src/**/*.spec.ts'], setupFiles: ['reflect-metadata'] },
});
`;

/**
 * What a Nest CLI app's tsconfig had before NodeNext: CommonJS with TypeScript's classic
 * `moduleResolution: node`, which ignores the `exports` map; the package's `typesVersions` is what
 * leads it to `/testing`, `/terminus` and `/control`. Checked with TypeScript 5.9.
 */
const CLASSIC_RESOLUTION_CHECK = `
import { LeaderElectionTestingModule, TestLeadership } from 'nestjs-cluster-leader/testing';
import { LeaderElectionHealthIndicator } from 'nestjs-cluster-leader/terminus';
import { LeaderElectionControlModule } from 'nestjs-cluster-leader/control';
import { LeaderElectionModule } from 'nestjs-cluster-leader';

export const used = [LeaderElectionTestingModule, TestLeadership, LeaderElectionHealthIndicator, LeaderElectionControlModule, LeaderElectionModule];
`;

/**
 * Writes a consumer app into `folder` and installs the packed library into its node_modules the
 * way npm lays it out: the tarball unpacked as `node_modules/nestjs-cluster-leader`, and every
 * package the packed package.json names as a dependency or peer (plus `@types/node` for the
 * consumer's tsc) linked from the repository's node_modules, so the consumer runs the real peers
 * and no network is needed. A package the library imports without declaring it is not linked, so
 * the consumer fails to load it.
 *
 * Measured alternatives: `npm install --offline` fails (ERESOLVE, "Found: @nestjs/common@undefined":
 * `npm ci` caches tarballs, not the registry metadata a range needs), and `file:` links to the
 * repository's node_modules crash npm 11 ("Cannot read properties of null (reading 'matches')").
 */
export async function createConsumer(
  folder: string,
  { format, tarball, repoNodeModules, readme }: { format: ModuleFormat; tarball: string; repoNodeModules: string; readme: string },
): Promise<void> {
  const library = join(folder, 'node_modules', 'nestjs-cluster-leader');
  await mkdir(library, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', library, '--strip-components=1']);
  const packed = JSON.parse(await readFile(join(library, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  // And what the README's tests need: @nestjs/testing and vitest (docs/testing.md: Jest too).
  // And the HTTP platform the control app runs on, a dependency of the app (as in every Nest HTTP app).
  const linked = [...Object.keys(packed.dependencies ?? {}), ...Object.keys(packed.peerDependencies ?? {}), '@types/node', '@nestjs/testing', 'vitest', '@nestjs/platform-express'];
  for (const name of linked) {
    const target = join(folder, 'node_modules', name);
    await mkdir(join(target, '..'), { recursive: true });
    await symlink(join(repoNodeModules, name), target, 'dir');
  }

  // No "type" field is a CommonJS package, as the Nest CLI's CommonJS template generates it.
  const manifest = { name: `consumer-${format}`, private: true, ...(format === 'module' && { type: 'module' }) };
  await writeFile(join(folder, 'package.json'), JSON.stringify(manifest, null, 2));
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      types: ['node'],
      rootDir: 'src',
      outDir: 'dist',
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      // As the Nest CLI's templates set it. With false, tsc also checks @kubernetes/client-node's
      // declarations, which import 'ws' without depending on @types/ws (TS7016), in any app.
      skipLibCheck: true,
    },
    include: ['src'],
  };
  await writeFile(join(folder, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  await mkdir(join(folder, 'src'));
  await writeFile(join(folder, 'src', 'main.ts'), CONSUMER_MAIN);
  await writeFile(join(folder, 'src', 'control.ts'), CONTROL_MAIN);
  for (const file of README_FILES) await copyFile(join(readme, file), join(folder, 'src', file));
  await writeFile(join(folder, 'src', 'usage.ts'), USAGE_MAIN);
  await writeFile(join(folder, 'vitest.config.mjs'), VITEST_CONFIG);
  await mkdir(join(folder, 'classic'));
  await writeFile(join(folder, 'classic', 'entry-points.ts'), CLASSIC_RESOLUTION_CHECK);
  const classic = {
    compilerOptions: {
      target: 'ES2022', module: 'commonjs', moduleResolution: 'node', types: ['node'], strict: true,
      experimentalDecorators: true, emitDecoratorMetadata: true, skipLibCheck: true, noEmit: true,
    },
    files: ['classic/entry-points.ts'],
  };
  await writeFile(join(folder, 'tsconfig.classic.json'), JSON.stringify(classic, null, 2));
}

/** A consumer app's process (`node <script>` in its folder), with nothing of this environment but PATH. */
export class ConsumerProcess extends SpawnedProcess {
  constructor(node: string, folder: string, env: Record<string, string> = {}, script = 'dist/main.js') {
    super(node, [script], { cwd: folder, env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env }, name: `node ${script}` });
  }
}
