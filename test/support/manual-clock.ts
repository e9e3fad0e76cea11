import type { ElectorClock } from '../../lib/electors/lease/lease.elector.js';

/** The elector's two clocks, moved only by the test: monotonic ms, and a wall clock that follows it. */
export class ManualClock implements ElectorClock {
  private monotonicMs = 1_000;

  constructor(private readonly epochMs: number) {}

  now = () => this.monotonicMs;
  wallNow = () => new Date(this.epochMs + this.monotonicMs);
  advance(ms: number): void {
    this.monotonicMs += ms;
  }
}
