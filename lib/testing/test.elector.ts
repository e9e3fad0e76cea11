import type { LeaderElector } from '../electors/leader-elector.interface.js';
import type { ElectionState, LeadershipView } from '../leadership/election-state.js';

/**
 * The elector of one election in a test: it publishes exactly what the test decides, to the real
 * ElectionState, so the gate, the service, the callbacks, the AbortSignals and the logs all run
 * as they do with a real backend. What the test decides before the app starts is published when
 * the app starts, as a real backend's first answer would be; after shutdown nothing is.
 */
export class TestElector implements LeaderElector {
  private started = false;
  private stopped = false;

  constructor(
    readonly state: ElectionState,
    private view: LeadershipView,
  ) {}

  /** The view the test last decided (what is, or will be once started, published). */
  get current(): LeadershipView {
    return this.view;
  }

  decide(view: LeadershipView, reason?: string): void {
    this.view = view;
    if (this.started && !this.stopped) this.state.publish({ leadingBecause: TEST_LEADS, ...view }, reason);
  }

  start(): void {
    this.started = true;
    if (!this.stopped) this.state.publish({ leadingBecause: TEST_LEADS, ...this.view });
  }

  /** Leadership in a test changes only when the test says so. */
  stopCampaigning(): void {}

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

/** The reason in the "is now the leader" line of a test. */
const TEST_LEADS = 'the test made it lead';
