/**
 * The elector's writes, one at a time: rounds, claims and the release each write conditionally
 * on the resourceVersion the one before left, so two of them side by side would only make one
 * of them lose a race with its own process.
 */
export class WriteLane {
  private tail: Promise<unknown> = Promise.resolve();
  /** When the work now running began (monotonic); null while the lane is idle. */
  busySince: number | null = null;

  constructor(private readonly now: () => number) {}

  /** Runs `work` after everything queued before it has finished (or failed), never beside it. */
  run<T>(work: () => Promise<T>): Promise<T> {
    const timed = async () => {
      this.busySince = this.now();
      try {
        return await work();
      } finally {
        this.busySince = null;
      }
    };
    const run = this.tail.then(timed, timed);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once everything queued so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
