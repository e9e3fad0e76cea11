import { ApiException } from '@kubernetes/client-node';

export type LeaseVerb = 'get' | 'create' | 'update' | 'watch';

/**
 * A failed call to the Lease API, reduced to what the elector decides on: the HTTP status (0 when
 * no answer came: refused, reset, timed out) and the Status `reason` (Conflict, AlreadyExists,
 * Forbidden, ...). Kubernetes' messages vary between versions; codes and reasons do not.
 */
export class LeaseApiError extends Error {
  override readonly name = 'LeaseApiError';

  constructor(
    readonly verb: LeaseVerb,
    readonly status: number,
    readonly reason: string,
    message: string,
    /** 429 Too Many Requests: how long the server asked us to wait (Retry-After), if it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  static from(verb: LeaseVerb, error: unknown, timedOut = false): LeaseApiError {
    if (error instanceof LeaseApiError) return error;
    if (timedOut) return new LeaseApiError(verb, 0, 'Timeout', `${verb} timed out`);
    if (error instanceof ApiException) {
      const status = parseStatus(error.body);
      const retryAfterMs = error.code === 429 ? parseRetryAfter(headerOf(error.headers, 'retry-after'), status.retryAfterSeconds) : undefined;
      return new LeaseApiError(verb, error.code, status.reason ?? `HTTP${error.code}`, status.message ?? `HTTP ${error.code}`, retryAfterMs);
    }
    const cause = error as { code?: string; cause?: { code?: string }; message?: string };
    const code = cause?.code ?? cause?.cause?.code;
    return new LeaseApiError(verb, 0, code ?? 'NetworkError', `${verb} failed: ${code ?? cause?.message ?? String(error)}`);
  }
}

/**
 * `Retry-After` in seconds or as an HTTP date (RFC 9110), else the Status' `retryAfterSeconds`;
 * undefined when neither says anything usable.
 */
export function parseRetryAfter(header: string | undefined, retryAfterSeconds?: number, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (value) {
    if (/^\d+$/.test(value)) return Number(value) * 1000;
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return retryAfterSeconds !== undefined && retryAfterSeconds >= 0 ? retryAfterSeconds * 1000 : undefined;
}

function headerOf(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/** The apiserver's `Status` body, if the answer carried one. */
export function parseStatus(body: unknown): { reason?: string; message?: string; code?: number; retryAfterSeconds?: number } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return {};
    }
  }
  if (parsed === null || typeof parsed !== 'object') return {};
  const { reason, message, code, details } = parsed as { reason?: unknown; message?: unknown; code?: unknown; details?: { retryAfterSeconds?: unknown } };
  const retryAfterSeconds = details !== null && typeof details === 'object' ? details.retryAfterSeconds : undefined;
  return {
    reason: typeof reason === 'string' ? reason : undefined,
    message: typeof message === 'string' ? message : undefined,
    code: typeof code === 'number' ? code : undefined,
    retryAfterSeconds: typeof retryAfterSeconds === 'number' ? retryAfterSeconds : undefined,
  };
}
