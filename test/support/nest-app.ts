import type { DynamicModule, INestApplication, LoggerService, ModuleMetadata, Provider } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { Test, type TestingModule } from '@nestjs/testing';
import { EventEmitter, once } from 'node:events';
import { vi } from 'vitest';
import { LeaderElectionModule, type LeaderElectionModuleOptions } from '../../lib/index.js';

export type LogLevel = 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';

export interface LogEntry {
  level: LogLevel;
  context: string | undefined;
  message: string;
}

/** A Nest logger that keeps every line, so tests can assert what the library said and how often. */
export class RecordingLogger extends EventEmitter implements LoggerService {
  readonly entries: LogEntry[] = [];

  log(message: unknown, ...params: unknown[]): void {
    this.record('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.record('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.record('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.record('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.record('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.record('fatal', message, params);
  }

  /** The messages logged at `level`, optionally only those containing `text`. */
  messages(level: LogLevel, text = ''): string[] {
    return this.entries
      .filter((entry) => entry.level === level && entry.message.includes(text))
      .map((entry) => entry.message);
  }

  /** Resolves with the first message (already logged or still to come) at `level` matching `text`. */
  async waitFor(level: LogLevel, text: string | RegExp, signal = AbortSignal.timeout(15_000)): Promise<string> {
    const matches = (entry: LogEntry) =>
      entry.level === level && (typeof text === 'string' ? entry.message.includes(text) : text.test(entry.message));
    for (;;) {
      const found = this.entries.find(matches);
      if (found !== undefined) return found.message;
      await once(this, 'entry', { signal });
    }
  }

  private record(level: LogLevel, message: unknown, params: unknown[]): void {
    // Nest's Logger appends the context as the last parameter.
    const context = params.length > 0 ? params[params.length - 1] : undefined;
    this.entries.push({
      level,
      context: typeof context === 'string' ? context : undefined,
      message: message instanceof Error ? message.message : String(message),
    });
    this.emit('entry');
  }
}

export interface AppSpec {
  leaderElection?: LeaderElectionModuleOptions;
  /** Replaces `LeaderElectionModule.forRoot(leaderElection)`, e.g. forRootAsync or nothing at all. */
  leaderElectionModule?: DynamicModule | null;
  providers?: Provider[];
  imports?: ModuleMetadata['imports'];
  /** Import ScheduleModule.forRoot(). @default true */
  scheduleModule?: boolean;
}

/** A real Nest app with the real ScheduleModule and LeaderElectionModule, compiled but not started. */
export async function compileApp(spec: AppSpec = {}): Promise<{ app: INestApplication; logger: RecordingLogger }> {
  const logger = new RecordingLogger();
  const leaderElectionModule =
    spec.leaderElectionModule === undefined
      ? LeaderElectionModule.forRoot(spec.leaderElection ?? { backend: 'standalone', identity: 'pod-a' })
      : spec.leaderElectionModule;
  const moduleRef: TestingModule = await Test.createTestingModule({
    imports: [...(spec.scheduleModule === false ? [] : [ScheduleModule.forRoot()]), ...(leaderElectionModule ? [leaderElectionModule] : []), ...(spec.imports ?? [])],
    providers: spec.providers ?? [],
  })
    .setLogger(logger)
    .compile();
  return { app: moduleRef.createNestApplication(), logger };
}

/** Compiles and initialises the app: schedulers mounted, electors started. */
export async function startApp(spec: AppSpec = {}): Promise<{ app: INestApplication; logger: RecordingLogger }> {
  const started = await compileApp(spec);
  await started.app.init();
  return started;
}

/** Closes every app given, then reports the first that failed to close. */
export async function closeAll(apps: Iterable<INestApplication>): Promise<void> {
  const results = await Promise.allSettled([...apps].map((app) => app.close()));
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
}

/**
 * Fake time for schedulers and leadership deadlines (which read `performance.now()`). setImmediate
 * and nextTick stay real: sockets need them, so real I/O keeps working under fake time.
 */
export function useFakeTime(now = new Date('2026-01-01T00:00:00.000Z')): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
  vi.setSystemTime(now);
}

/** A promise with its resolve exposed, for jobs the test lets finish when it chooses. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

