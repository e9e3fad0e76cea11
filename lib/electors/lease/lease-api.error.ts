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
  ) {
    super(message);
  }

  static from(verb: LeaseVerb, error: unknown, timedOut = false): LeaseApiError {
    if (error instanceof LeaseApiError) return error;
    if (timedOut) return new LeaseApiError(verb, 0, 'Timeout', `${verb} timed out`);
    if (error instanceof ApiException) {
      const status = parseStatus(error.body);
      return new LeaseApiError(verb, error.code, status.reason ?? `HTTP${error.code}`, status.message ?? `HTTP ${error.code}`);
    }
    const cause = error as { code?: string; cause?: { code?: string }; message?: string };
    const code = cause?.code ?? cause?.cause?.code;
    return new LeaseApiError(verb, 0, code ?? 'NetworkError', `${verb} failed: ${code ?? cause?.message ?? String(error)}`);
  }
}

/** The apiserver's `Status` body, if the answer carried one. */
export function parseStatus(body: unknown): { reason?: string; message?: string; code?: number } {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return {};
    }
  }
  if (parsed === null || typeof parsed !== 'object') return {};
  const { reason, message, code } = parsed as { reason?: unknown; message?: unknown; code?: unknown };
  return {
    reason: typeof reason === 'string' ? reason : undefined,
    message: typeof message === 'string' ? message : undefined,
    code: typeof code === 'number' ? code : undefined,
  };
}
