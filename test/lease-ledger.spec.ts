import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LeaseLedger } from '../lib/electors/lease/lease-ledger.js';
import { decodeLedger, LEDGER_ANNOTATION, type LedgerEntry } from '../lib/ledger/ledger-record.js';

/**
 * The ledger as one process reads and writes it (issue 18): it only moves forward, every write
 * carries all this process knows, claims are made good only by a confirmed write of their term.
 * Pure: Leases are plain objects, the clock is a number the test moves.
 */

const F = Date.UTC(2026, 11, 1, 9, 0, 0);
const entry = (fireTime: number, state: LedgerEntry['state'], term: number): LedgerEntry => ({ fireTime, state, term });

function lease(jobs: Record<string, unknown[]> | undefined, spec: Partial<V1Lease['spec']> = {}, extra: Record<string, unknown> = {}): V1Lease {
  const annotations: Record<string, string> = jobs === undefined ? {} : { [LEDGER_ANNOTATION]: JSON.stringify({ v: 1, ...extra, j: jobs }) };
  return { metadata: { name: 'l', resourceVersion: '1', annotations }, spec: { holderIdentity: 'pod-a', leaseTransitions: 3, ...spec } };
}

function setUp() {
  let now = 10_000;
  const problems: { problem: string; readOnlyVersion?: number }[] = [];
  const ledger = new LeaseLedger((problem, readOnlyVersion) => problems.push({ problem, readOnlyVersion }), () => now);
  return { ledger, problems, advance: (ms: number) => (now += ms) };
}

const written = (value: string | undefined) => (value === undefined ? undefined : decodeLedger(value).ledger);

describe('LeaseLedger', () => {
  it('writes back every entry it knows when the annotation was stripped or edited back', () => {
    const { ledger } = setUp();
    ledger.seen(lease({ 'A.a': [F, 's', 3], 'B.b': [F + 1_000, 'c', 3] }));
    expect(ledger.prepare(lease({ 'A.a': [F, 's', 3], 'B.b': [F + 1_000, 'c', 3] })).value).toBeUndefined();
    const stripped = written(ledger.prepare(lease(undefined)).value);
    expect(stripped).toEqual(new Map([['A.a', entry(F, 'succeeded', 3)], ['B.b', entry(F + 1_000, 'claimed', 3)]]));
    const editedBack = written(ledger.prepare(lease({ 'A.a': [F - 60_000, 's', 3] })).value);
    expect(editedBack?.get('A.a')).toEqual(entry(F, 'succeeded', 3));
    // An edit forward is the operator's to make: it stays.
    expect(ledger.prepare(lease({ 'A.a': [F + 60_000, 's', 3], 'B.b': [F + 1_000, 'c', 3] })).value).toBeUndefined();
  });

  it('writes a completion only over its own claim: never over a later claim, nor over a rerun of a later term', () => {
    const { ledger } = setUp();
    ledger.record('J', entry(F, 'succeeded', 3));
    expect(written(ledger.prepare(lease({ J: [F, 'c', 3] })).value)?.get('J')).toEqual(entry(F, 'succeeded', 3));
    const laterClaim = setUp().ledger;
    laterClaim.record('J', entry(F, 'succeeded', 3));
    expect(laterClaim.prepare(lease({ J: [F + 1_000, 'c', 3] })).value).toBeUndefined();
    const rerun = setUp().ledger;
    rerun.record('J', entry(F, 'succeeded', 3));
    expect(rerun.prepare(lease({ J: [F, 'c', 4] })).value).toBeUndefined();
  });

  it("under overlap: 'allow', a completion never replaces a newer claim still waiting for its write, even after a 409 re-read", async () => {
    const { ledger } = setUp();
    ledger.seen(lease({ J: [F, 'c', 3] }));
    const second = ledger.claim('J', entry(F + 1_000, 'claimed', 3), Number.POSITIVE_INFINITY);
    ledger.record('J', entry(F, 'succeeded', 3)); // the first run ends while the second's claim waits
    expect(ledger.entry('J')).toEqual(entry(F + 1_000, 'claimed', 3));
    // The write is conditional on a Lease re-read after a 409: still the first claim.
    const write = ledger.prepare(lease({ J: [F, 'c', 3] }));
    expect(written(write.value)?.get('J')).toEqual(entry(F + 1_000, 'claimed', 3));
    ledger.written(write);
    ledger.confirm();
    expect(await second).toBe(true);
  });

  it('makes a claim good only once a write that carried it is confirmed; a term that ends first leaves it unclaimed', async () => {
    const { ledger } = setUp();
    const claimed = ledger.claim('J', entry(F, 'claimed', 3), Number.POSITIVE_INFINITY);
    ledger.confirm(); // no write carried it yet
    const write = ledger.prepare(lease({}));
    ledger.endTerm(); // the term ended while the write was out
    ledger.written(write);
    ledger.confirm();
    expect(await claimed).toBe(false);
    expect(ledger.hasClaims).toBe(false);
  });

  it('gives up a claim never sent once its starting deadline passed; one already sent stays (it may be in the Lease)', async () => {
    const { ledger } = setUp();
    const unsent = ledger.claim('A', entry(F, 'claimed', 3), Date.now() - 1);
    ledger.prepare(lease({})); // the next write gives it up before sending
    expect(await unsent).toBe(false);
    const sent = ledger.claim('B', entry(F, 'claimed', 3), Date.now() + 60_000);
    ledger.prepare(lease({})); // sent, answer lost
    let outcome: boolean | undefined;
    void sent.then((result) => (outcome = result));
    await Promise.resolve();
    expect(outcome).toBeUndefined();
    expect(ledger.hasClaims).toBe(true);
  });

  describe('sinceClaimMs: when the last claim was made, on this process\'s own clock (@Interval)', () => {
    it('from the holder\'s own renewTime when the claim is of the record\'s term (one writer, one clock)', () => {
      const { ledger, advance } = setUp();
      // Written by a pod whose clock is 60 s ahead: the claim 700 ms before its last renew.
      const theirs = F + 60_000;
      ledger.seen(lease({ J: [theirs, 's', 3] }, { leaseTransitions: 3, renewTime: new Date(theirs + 700) as never }));
      expect(ledger.sinceClaimMs('J')).toBe(700);
      advance(300);
      expect(ledger.sinceClaimMs('J')).toBe(1_000);
    });

    it('from the moment it was seen when another term wrote the record: never more than the truth', () => {
      const { ledger, advance } = setUp();
      ledger.seen(lease({ J: [F - 60_000, 's', 2] }, { leaseTransitions: 3, renewTime: new Date(F) as never }));
      expect(ledger.sinceClaimMs('J')).toBe(0);
      advance(500);
      expect(ledger.sinceClaimMs('J')).toBe(500);
    });

    it('from the claim itself for this process\'s own claims', async () => {
      const { ledger, advance } = setUp();
      const claimed = ledger.claim('J', entry(F, 'claimed', 3), Number.POSITIVE_INFINITY);
      advance(250);
      const write = ledger.prepare(lease({}));
      ledger.written(write);
      ledger.confirm();
      expect(await claimed).toBe(true);
      expect(ledger.sinceClaimMs('J')).toBe(250);
    });
  });

  it('neither claims in nor writes a newer format that forbids it, and says so as such', () => {
    const { ledger, problems } = setUp();
    const newer = { metadata: { annotations: { [LEDGER_ANNOTATION]: '{"v":9,"j":{}}' } }, spec: {} } as V1Lease;
    ledger.record('J', entry(F, 'succeeded', 3));
    expect(ledger.writable(newer)).toBe(false);
    expect(ledger.prepare(newer).value).toBeUndefined();
    expect(problems).toEqual([{ problem: expect.stringContaining('format v9'), readOnlyVersion: 9 }]);
  });

  it('keeps a newer format\'s fields when it writes, and an entry\'s extra members when it replaces the entry', () => {
    const { ledger } = setUp();
    const stored = lease({ J: [F, 's', 3, { history: 1 }], K: [F, 's', 3] }, {}, { h: true });
    ledger.record('J', entry(F + 1_000, 'claimed', 3));
    const value = JSON.parse(ledger.prepare(stored).value!) as Record<string, unknown>;
    expect(value).toEqual({ v: 1, h: true, j: { J: [F + 1_000, 'c', 3, { history: 1 }], K: [F, 's', 3] } });
  });
});
