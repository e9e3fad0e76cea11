import type { V1LeaseSpec } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  formatMicroTime,
  leaseSpecFromRecord,
  recordFromLeaseSpec,
  type LeaderElectionRecord,
} from '../lib/electors/lease/resourcelock/lease-record.js';

/**
 * The Lease spec <-> client-go's LeaderElectionRecord converters: the contract that lets a Lease
 * written by any Kubernetes component be read here, and ours be read by client-go.
 */

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/kube-apiserver/${name}`, import.meta.url), 'utf8'));

/**
 * The spec as JSON. (That client-node sends it this way through a real request is shown by the
 * algorithm tests: the test apiserver rejects anything but six-digit MicroTime with 400.)
 */
const onTheWire = (spec: V1LeaseSpec) => JSON.parse(JSON.stringify(spec));

describe('Lease record converters', () => {
  const record: LeaderElectionRecord = {
    holderIdentity: 'pod-a',
    leaseDurationSeconds: 15,
    acquireTime: new Date('2026-11-24T09:38:18.674Z'),
    renewTime: new Date('2026-11-24T09:38:19.160Z'),
    leaseTransitions: 4,
  };

  it('round-trips a record through the Lease spec as sent over the wire', () => {
    const wire = onTheWire(leaseSpecFromRecord(record));
    expect(wire).toEqual({
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 15,
      acquireTime: '2026-11-24T09:38:18.674000Z',
      renewTime: '2026-11-24T09:38:19.160000Z',
      leaseTransitions: 4,
    });
    expect(recordFromLeaseSpec(wire)).toEqual(record);
  });

  it('writes MicroTime with exactly six fractional digits, as the apiserver requires (fixture 07)', () => {
    expect(formatMicroTime(new Date('2026-11-24T09:00:00.123Z'))).toBe('2026-11-24T09:00:00.123000Z');
    expect(fixture('07-update-millis-microtime.json').response.status).toBe(400);
  });

  it('reads a Lease written by a real apiserver and client-go (fixture 02)', () => {
    const { spec } = fixture('02-create.json').response.body;
    expect(recordFromLeaseSpec(spec)).toEqual({
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 15,
      acquireTime: new Date('2026-11-24T09:38:18.674Z'),
      renewTime: new Date('2026-11-24T09:38:18.674Z'),
      leaseTransitions: 0,
    });
  });

  it('reads missing fields as client-go does: empty holder, zero duration and transitions', () => {
    expect(recordFromLeaseSpec({})).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 0,
      acquireTime: null,
      renewTime: null,
      leaseTransitions: 0,
    });
    expect(recordFromLeaseSpec(undefined).holderIdentity).toBe('');
  });

  it('reads a released Lease (fixture 11) as free', () => {
    const { spec } = fixture('11-release-empty-holder.json').response.body;
    expect(recordFromLeaseSpec(spec)).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });
});
