/** A run-now or backfill request did not end in time. It is not withdrawn: it may still run. */
export class ControlRequestTimeoutError extends Error {
  override readonly name = 'ControlRequestTimeoutError';

  constructor(
    readonly requestId: string,
    readonly job: string,
    readonly timeoutMs: number,
    /** 'waiting' (no leader took it yet) or 'running'. */
    readonly state: string,
  ) {
    super(
      `The request ${requestId} for job "${job}" did not end within ${timeoutMs} ms (it is ${state === 'waiting' ? 'still waiting for a leader to take it' : 'still running'}). ` +
        `It is not withdrawn: it may still run. jobs() shows the job's runs; raise timeoutMs to wait longer.`,
    );
  }
}
