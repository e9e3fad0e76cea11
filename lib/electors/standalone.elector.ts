import type { ElectionState } from '../leadership/election-state.js';
import type { LeaderElector } from './leader-elector.interface.js';

/** This process always leads: for local development and single-replica deployments. */
export class StandaloneElector implements LeaderElector {
  constructor(private readonly state: ElectionState) {}

  start(): void {
    this.state.publish({ leader: this.state.identity, term: null, leadingUntil: Number.POSITIVE_INFINITY, leadingBecause: "backend 'standalone' always leads" });
  }

  /** Nothing to acquire: this process leads from start() until the state is closed. */
  stopCampaigning(): void {}

  async stop(): Promise<void> {}
}
