import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nest's dependency injection reads the constructor types that TypeScript's legacy
  // decorators emit as metadata; without it, injected services arrive as `undefined`.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  // The README's examples import the package by name; tests run them against the source.
  resolve: {
    alias: [
      { find: /^nestjs-cluster-leader\/terminus$/, replacement: fileURLToPath(new URL('./lib/terminus/index.ts', import.meta.url)) },
      { find: /^nestjs-cluster-leader\/control$/, replacement: fileURLToPath(new URL('./lib/control-http/index.ts', import.meta.url)) },
      { find: /^nestjs-cluster-leader\/testing$/, replacement: fileURLToPath(new URL('./lib/testing/index.ts', import.meta.url)) },
      { find: /^nestjs-cluster-leader$/, replacement: fileURLToPath(new URL('./lib/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.spec.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 20_000,
    hookTimeout: 60_000, // hooks start real processes and servers; on 2 busy cores that can take a while
    pool: 'forks',
    // Vitest's default on 2 cores is one worker; most tests wait on real time (leases, processes),
    // so two files side by side halve the wall time (457 s -> 252 s measured) without flakes.
    maxWorkers: 2,
    restoreMocks: true,
    // A poll returns as soon as its condition holds; the bound only matters on a loaded
    // machine (a child process starting on 2 busy cores), where vitest's 1 s default flaked.
    expect: { poll: { timeout: 10_000 } },
  },
});
