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

/**
 * The annotation that says which process wrote the record: a random id each process draws at
 * start and writes with every acquire, renew and release. `holderIdentity` stays the pod name,
 * for humans, for client-go and for the sidecar-style answer; the incarnation tells two processes
 * with that one name apart (a StatefulSet pod replaced while the old one still runs, two local
 * processes with one HOSTNAME). Annotations are kept by every writer that does not know them
 * (client-go replaces the spec only), so a foreign holder's record carries whatever incarnation
 * was there before: it is ours only when the holder is our identity AND the incarnation ours.
 */
export const INCARNATION_ANNOTATION = 'nestjs-cluster-leader/incarnation';

/** The incarnation that wrote this Lease's record, if one of ours did. */
export function incarnationOf(lease: V1Lease | null | undefined): string | undefined {
  const value = lease?.metadata?.annotations?.[INCARNATION_ANNOTATION];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Whether two records are the same election record. client-go restarts its expiry clock only
 * when the record changes (it compares the raw record); a label or annotation written by a
 * GitOps tool or a human changes the resourceVersion but not the record, and must not keep a
 * dead holder's Lease alive. The incarnation counts as part of the record: it changes only with
 * a write by one of our processes, which always changes renewTime too.
 */
export function sameRecord(a: LeaderElectionRecord, b: LeaderElectionRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions &&
    a.acquireTime?.getTime() === b.acquireTime?.getTime() &&
    a.renewTime?.getTime() === b.renewTime?.getTime()
  );
}

export interface WriteOptions {
  /** Our process's incarnation, written with every record (see INCARNATION_ANNOTATION). */
  incarnation: string;
  /**
   * Keep `spec.strategy` and `spec.preferredHolder` (coordinated leader election, Kubernetes
   * 1.31+): they are the coordinator's, not the holder's. A renew and a release keep them. A
   * takeover drops them, as client-go's non-coordinated elector does (it writes the spec from its
   * record alone): a preferredHolder copied onto our own takeover would name someone else.
   */
  keepCoordination: boolean;
  /**
   * The container annotation (fast failover) to write with the record, or null to remove one a
   * writer before left (a stale one must never speak for this record). Undefined: left as it is.
   */
  container?: string | null;
}

/** A new Lease carrying the record, as this process creates it. */
export function newLease(record: LeaderElectionRecord, incarnation: string, container: string | null = null): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { annotations: { [INCARNATION_ANNOTATION]: incarnation, ...(container !== null && { [CONTAINER_ANNOTATION]: container }) } },
    spec: leaseSpecFromRecord(record),
  };
}

/**
 * The Lease with a new spec, built from the record (as client-go's LeaseLock does, not spread
 * over the old spec), keeping its metadata (resourceVersion, labels, other annotations).
 */
export function withRecord(lease: V1Lease, record: LeaderElectionRecord, { incarnation, keepCoordination, container }: WriteOptions): V1Lease {
  const { managedFields: _managedFields, ...metadata } = lease.metadata ?? {};
  const spec: V1LeaseSpec = leaseSpecFromRecord(record);
  if (keepCoordination) {
    if (lease.spec?.strategy !== undefined) spec.strategy = lease.spec.strategy;
    if (lease.spec?.preferredHolder !== undefined) spec.preferredHolder = lease.spec.preferredHolder;
  }
  const annotations: Record<string, string> = { ...metadata.annotations, [INCARNATION_ANNOTATION]: incarnation };
  if (container === null) delete annotations[CONTAINER_ANNOTATION];
  else if (container !== undefined) annotations[CONTAINER_ANNOTATION] = container;
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...metadata, annotations },
    spec,
  };
}

/** Fast failover's annotation: which container instance wrote the record (see container-evidence.ts). */
export const CONTAINER_ANNOTATION = 'nestjs-cluster-leader/container';

function toDate(value: Date | string | undefined | null): Date | null {
  if (value === undefined || value === null || value === '') return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
