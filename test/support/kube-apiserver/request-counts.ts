import { VERBS, type Verb } from './types.js';

const zero = (): Record<Verb, number> => Object.fromEntries(VERBS.map((v) => [v, 0])) as Record<Verb, number>;

/**
 * Requests received, per user and verb. A request is counted when it arrives, before any fault,
 * authentication or authorization decides its fate: a request refused by an outage, failNext,
 * a 401 or a 403 still counts, and so does one held by `hang` or `partition`. That is what a
 * benchmark needs (the load a client puts on the apiserver), not what succeeded.
 */
export class RequestCounts {
  private readonly byUser = new Map<string | null, Record<Verb, number>>();
  private readonly totalByUser = new Map<string | null, number>();
  private readonly everyone = zero();
  private total = 0;

  /** `'other'` requests (no Lease verb: unknown paths, other methods) only count in the totals. */
  record(user: string | null, verb: Verb | 'other'): void {
    this.total++;
    this.totalByUser.set(user, (this.totalByUser.get(user) ?? 0) + 1);
    if (verb === 'other') return;
    this.everyone[verb]++;
    let counts = this.byUser.get(user);
    if (!counts) this.byUser.set(user, (counts = zero()));
    counts[verb]++;
  }

  /** Per verb, for one user (unauthenticated requests are `null`) or, without an argument, for all. */
  counts(user?: string | null): Record<Verb, number> {
    const counts = user === undefined ? this.everyone : this.byUser.get(user);
    return { ...(counts ?? zero()) };
  }

  totalRequests(user?: string | null): number {
    return user === undefined ? this.total : (this.totalByUser.get(user) ?? 0);
  }

  reset(): void {
    this.byUser.clear();
    this.totalByUser.clear();
    for (const verb of VERBS) this.everyone[verb] = 0;
    this.total = 0;
  }
}
