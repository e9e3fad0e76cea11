import { V1MicroTime, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';

/**
 * client-go's LeaderElectionRecord: what every Kubernetes leader elector reads from and writes to
 * a Lease's spec. Keeping the same fields, read the same way, is what lets a Lease held by a
 * client-go elector (any Kubernetes controller) be respected by us, and ours by it.
 */
export interface LeaderElectionRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: Date | null;
  renewTime: Date | null;
  leaseTransitions: number;
}

/** client-go's LeaseSpecToLeaderElectionRecord: missing fields read as empty/zero. */
export function recordFromLeaseSpec(spec: V1LeaseSpec | undefined): LeaderElectionRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: toDate(spec?.acquireTime),
    renewTime: toDate(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

/**
 * client-go's LeaderElectionRecordToLeaseSpec. Times become V1MicroTime, which serialises with the
 * six fractional digits a real apiserver requires (a plain Date's three are rejected with 400).
 */
export function leaseSpecFromRecord(record: LeaderElectionRecord): V1LeaseSpec {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: record.acquireTime === null ? undefined : new V1MicroTime(record.acquireTime.getTime()),
    renewTime: record.renewTime === null ? undefined : new V1MicroTime(record.renewTime.getTime()),
    leaseTransitions: record.leaseTransitions,
  };
}

/** A MicroTime as Kubernetes writes it: RFC 3339 in UTC with exactly six fractional digits. */
export function formatMicroTime(date: Date): string {
  return new V1MicroTime(date.getTime()).toISOString();
}

/** The Lease with a new spec, keeping its metadata (resourceVersion, labels, annotations). */
export function withRecord(lease: V1Lease, record: LeaderElectionRecord): V1Lease {
  const { managedFields: _managedFields, ...metadata } = lease.metadata ?? {};
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata,
    spec: { ...lease.spec, ...leaseSpecFromRecord(record) },
  };
}

function toDate(value: Date | string | undefined | null): Date | null {
  if (value === undefined || value === null || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
