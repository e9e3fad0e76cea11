import type { LoggerService } from '@nestjs/common';

/**
 * The Nest logger for the Lease benchmarks: the candidates log every leadership change and every
 * API fault the benchmark injects on purpose, which would bury the results table. It keeps a count
 * per level and the last warnings and errors (they go into the JSON), and prints nothing unless
 * BENCH_VERBOSE=1.
 */
export class BenchLogger implements LoggerService {
  readonly counts = { log: 0, warn: 0, error: 0 };
  readonly recent: string[] = [];
  private readonly printing = process.env.BENCH_VERBOSE === '1';
  private readonly listeners = new Set<(level: 'log' | 'warn' | 'error', message: string) => void>();

  /** Hears every line from now on (the shard benches count handovers and requests); returns the unsubscribe. */
  listen(listener: (level: 'log' | 'warn' | 'error', message: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  log(message: unknown, ...params: unknown[]): void {
    this.record('log', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.record('warn', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.record('error', message, params);
  }
  debug(): void {}
  verbose(): void {}
  fatal(message: unknown, ...params: unknown[]): void {
    this.record('error', message, params);
  }

  private record(level: 'log' | 'warn' | 'error', message: unknown, params: unknown[]): void {
    this.counts[level]++;
    for (const listener of this.listeners) listener(level, String(message));
    const context = params.at(-1);
    const line = `${level} [${typeof context === 'string' ? context : '-'}] ${String(message)}`;
    if (level !== 'log') {
      this.recent.push(line);
      if (this.recent.length > 20) this.recent.shift();
    }
    if (this.printing) process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  }
}

export const benchLogger = new BenchLogger();
