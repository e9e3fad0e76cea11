/** What a running `@LeaderOnly()` job can learn about the leadership it runs under. */
export interface LeaderJobContext {
  /** The election the job belongs to. */
  election: string;
  /**
   * The fencing token: the term the job started in (the Lease's `leaseTransitions`). Pass it to
   * the systems the job writes to, so they can reject a write from an older term.
   */
  term: number | null;
  /** Aborted as soon as this pod stops leading: stop work and do not write anything more. */
  signal: AbortSignal;
}
