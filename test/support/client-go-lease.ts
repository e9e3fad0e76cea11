import type { ResolvedLease } from '../../lib/options/resolve-options.js';

/**
 * A Lease election as the elector gets it after resolution, with client-go's default timings
 * (15 s lease, 10 s renew deadline, 2 s retry) and a 5 s request timeout. Written out rather than
 * taken from the library's defaults: the algorithm specs' expectations (a 15 s lease, an expiry
 * after 15 000 ms) are about these numbers, and must not move with the defaults.
 */
export function clientGoLease(namespace: string, name: string): ResolvedLease {
  return {
    name,
    namespace,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    requestTimeoutMs: 5_000,
    releaseOnShutdown: true,
  };
}
