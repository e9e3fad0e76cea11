import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../lib/electors/lease/resourcelock/lease-api.error.js';
import { LeaseObservation } from '../lib/electors/lease/lease-observation.js';
import { INCARNATION_ANNOTATION, recordFromLeaseSpec, withRecord } from '../lib/electors/lease/resourcelock/lease-record.js';

/** The rules a candidate judges the Lease by, on its own clock, without any API in between. */

function lease(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): V1Lease {
  return { metadata: { name: 'l', namespace: 'default', resourceVersion: '1', ...metadata }, spec } as V1Lease;
}

function observing(configuredMs = 15_000) {
  let now = 0;
  const observation = new LeaseObservation('pod-a', 'mine', configuredMs, () => now);
  return { observation, advance: (ms: number) => (now += ms) };
}

describe('LeaseObservation', () => {
  it.each([
    ['missing', undefined],
    ['zero', 0],
    ['negative', -3],
    ['not a whole number', 1.5],
  ])('a %s leaseDurationSeconds counts as the configured duration, never as expired', (_case, seconds) => {
    const { observation, advance } = observing(15_000);
    observation.observe(lease({ holderIdentity: 'pod-b', leaseDurationSeconds: seconds, renewTime: '2026-12-01T09:00:00.000000Z' }));
    expect(observation.leaseDurationMs).toBe(15_000);
    advance(14_999);
    expect(observation.isFree()).toBe(false);
    advance(1);
    expect(observation.isFree()).toBe(true);
  });

  it('restarts the expiry clock on a change of the record, not on metadata churn', () => {
    const { observation, advance } = observing();
    const spec = { holderIdentity: 'pod-b', leaseDurationSeconds: 15, renewTime: '2026-12-01T09:00:00.000000Z' };
    observation.observe(lease(spec));
    advance(10_000);
    expect(observation.observe(lease(spec, { resourceVersion: '2', labels: { a: 'b' } }))).toEqual({ ignored: false, versionChanged: true, recordChanged: false });
    advance(5_000);
    expect(observation.isFree()).toBe(true);
    observation.observe(lease({ ...spec, renewTime: '2026-12-01T09:00:15.000000Z' }, { resourceVersion: '3' }));
    expect(observation.isFree()).toBe(false);
  });

  it("is free at once for the record whose writer its pod proved gone (fast failover), and for that record alone", () => {
    const { observation } = observing();
    const spec = { holderIdentity: 'pod-b', leaseDurationSeconds: 15, acquireTime: '2026-12-01T09:00:00.000000Z', renewTime: '2026-12-01T09:00:10.000000Z', leaseTransitions: 3 };
    observation.observe(lease(spec, { annotations: { [INCARNATION_ANNOTATION]: 'b-1' } }));
    const proved = observation.recordKey()!;
    // A renewal by the same writer keeps the key: the proof still holds.
    observation.observe(lease({ ...spec, renewTime: '2026-12-01T09:00:12.000000Z' }, { resourceVersion: '2', annotations: { [INCARNATION_ANNOTATION]: 'b-1' } }));
    expect(observation.recordKey()).toBe(proved);
    observation.markWriterGone(proved);
    expect(observation.isFree()).toBe(true);
    // Someone wrote another record since (the restarted process took it back): not free.
    observation.observe(lease({ ...spec, acquireTime: '2026-12-01T09:00:13.000000Z', leaseTransitions: 4 }, { resourceVersion: '3', annotations: { [INCARNATION_ANNOTATION]: 'b-2' } }));
    expect(observation.recordKey()).not.toBe(proved);
    expect(observation.isFree()).toBe(false);
  });

  it('ignores a late event older than what it knows', () => {
    const { observation } = observing();
    observation.observe(lease({ holderIdentity: 'pod-b' }, { resourceVersion: '7' }));
    expect(observation.observe(lease({ holderIdentity: 'pod-c' }, { resourceVersion: '6' })).ignored).toBe(true);
    expect(observation.holder).toBe('pod-b');
  });

  it('after a deletion, remembers the holder\'s lease as running from the last change it saw', () => {
    const { observation, advance } = observing();
    observation.observe(lease({ holderIdentity: 'pod-b', leaseDurationSeconds: 15, leaseTransitions: 4 }));
    advance(5_000);
    observation.deleted(null);
    expect(observation.lease).toBeNull();
    expect(observation.isFree()).toBe(false);
    advance(10_000);
    expect(observation.isFree()).toBe(true);
    expect(observation.highestTransitions).toBe(4);
  });

  it('a record is ours only with our identity, our incarnation, and our own acquisition', () => {
    const { observation } = observing();
    const acquireTime = '2026-12-01T09:00:00.000000Z';
    const term = { acquireTimeMs: Date.parse(acquireTime), leaseTransitions: 2 };
    const ours = lease({ holderIdentity: 'pod-a', acquireTime, leaseTransitions: 2 }, { annotations: { [INCARNATION_ANNOTATION]: 'mine' } });
    observation.observe(ours);
    expect(observation.isOurs(term)).toBe(true);
    expect(observation.isOurs(null)).toBe(false);
    const twin = lease({ holderIdentity: 'pod-a', acquireTime, leaseTransitions: 2 }, { resourceVersion: '2', annotations: { [INCARNATION_ANNOTATION]: 'theirs' } });
    observation.observe(twin);
    expect(observation.isOurs(term)).toBe(false);
    expect(observation.namesUsFromAnotherProcess()).toBe(true);
    // A writer that keeps our annotation but takes the Lease (client-go keeps metadata) is not us.
    const taken = lease({ holderIdentity: 'pod-a', acquireTime: '2026-12-01T09:01:00.000000Z', leaseTransitions: 3 }, { resourceVersion: '3', annotations: { [INCARNATION_ANNOTATION]: 'mine' } });
    observation.observe(taken);
    expect(observation.isOurs(term)).toBe(false);
  });
});

describe('withRecord', () => {
  const coordinated = lease(
    { holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 1, strategy: 'OldestEmulationVersion', preferredHolder: 'pod-b', someFutureField: 'x' },
    { annotations: { other: 'kept' }, managedFields: [{}] },
  );
  const record = recordFromLeaseSpec(coordinated.spec);

  it('keeps the coordinator\'s fields on a renew or a release, with our incarnation and the other annotations', () => {
    const written = withRecord(coordinated, record, { incarnation: 'mine', keepCoordination: true });
    expect(written.spec).toMatchObject({ strategy: 'OldestEmulationVersion', preferredHolder: 'pod-b' });
    expect(written.metadata?.annotations).toEqual({ other: 'kept', [INCARNATION_ANNOTATION]: 'mine' });
    expect(written.metadata?.managedFields).toBeUndefined();
  });

  it('drops them on a takeover, and builds the spec from the record alone, as client-go does', () => {
    const written = withRecord(coordinated, record, { incarnation: 'mine', keepCoordination: false });
    const present = Object.entries(written.spec!).filter(([, value]) => value !== undefined).map(([key]) => key);
    expect(present.sort()).toEqual(['holderIdentity', 'leaseDurationSeconds', 'leaseTransitions']);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds, an HTTP date, or the Status detail, and nothing else', () => {
    const now = Date.parse('2026-12-01T09:00:00Z');
    expect(parseRetryAfter('3', undefined, now)).toBe(3_000);
    expect(parseRetryAfter('Tue, 01 Dec 2026 09:00:05 GMT', undefined, now)).toBe(5_000);
    expect(parseRetryAfter(undefined, 2, now)).toBe(2_000);
    expect(parseRetryAfter('soon', undefined, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, undefined, now)).toBeUndefined();
  });
});
