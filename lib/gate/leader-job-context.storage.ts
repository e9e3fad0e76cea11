import { AsyncLocalStorage } from 'node:async_hooks';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';

/** Carries the term and AbortSignal of a running @LeaderOnly() job through its async calls. */
export const leaderJobContextStorage = new AsyncLocalStorage<LeaderJobContext>();

/**
 * The leadership context of the @LeaderOnly() job that is running in the current async call
 * chain: its election, term, fencing token, fire time and an AbortSignal that fires when
 * leadership ends.
 * Undefined outside a leader-only job.
 */
export function currentLeaderJob(): LeaderJobContext | undefined {
  return leaderJobContextStorage.getStore();
}
