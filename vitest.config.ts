import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nest's dependency injection reads the constructor types that TypeScript's legacy
  // decorators emit as metadata; without it, injected services arrive as `undefined`.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  test: {
    include: ['test/**/*.spec.ts'],
    setupFiles: ['reflect-metadata'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    restoreMocks: true,
  },
});
