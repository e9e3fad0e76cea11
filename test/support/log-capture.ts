import { Logger, type LoggerService } from '@nestjs/common';
import { EventEmitter, once } from 'node:events';

export interface CapturedLog {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: string;
  context?: string;
}

/**
 * Collects what the library logs, through Nest's own logger override, so tests assert on log
 * lines (and their count: once per change of state) without printing them.
 */
export class LogCapture extends EventEmitter implements LoggerService {
  readonly lines: CapturedLog[] = [];

  static install(): LogCapture {
    const capture = new LogCapture();
    Logger.overrideLogger(capture);
    return capture;
  }

  static uninstall(): void {
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
  }

  matching(level: CapturedLog['level'], pattern: RegExp | string): CapturedLog[] {
    return this.lines.filter(
      (line) => line.level === level && (typeof pattern === 'string' ? line.message.includes(pattern) : pattern.test(line.message)),
    );
  }

  /** Resolves with the first line (already logged or still to come) at that level matching the pattern. */
  async waitFor(level: CapturedLog['level'], pattern: RegExp | string, signal = AbortSignal.timeout(15_000)): Promise<CapturedLog> {
    for (;;) {
      const [line] = this.matching(level, pattern);
      if (line !== undefined) return line;
      await once(this, 'line', { signal });
    }
  }

  log(message: unknown, context?: string) { this.push('log', message, context); }
  error(message: unknown, ...rest: unknown[]) { this.push('error', message, rest.at(-1) as string | undefined); }
  warn(message: unknown, context?: string) { this.push('warn', message, context); }
  debug(message: unknown, context?: string) { this.push('debug', message, context); }
  verbose(message: unknown, context?: string) { this.push('verbose', message, context); }
  fatal(message: unknown, context?: string) { this.push('fatal', message, context); }

  private push(level: CapturedLog['level'], message: unknown, context?: string) {
    this.lines.push({ level, message: String(message), context });
    this.emit('line');
  }
}
