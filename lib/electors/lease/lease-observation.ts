import type { V1Lease } from '@kubernetes/client-node';
import { incarnationOf, recordFromLeaseSpec, sameRecord, type LeaderElectionRecord } from './resourcelock/lease-record.js';

/** What taking in one Lease changed in this candidate's view. */
export interface ObservedChange {
  /** Older than the version already known (a late watch event): nothing was taken in. */
  ignored: boolean;
  /** A resourceVersion not seen before: the cached object is current again. */
  versionChanged: boolean;
  /** The election record itself changed: the expiry clock restarted. */
  recordChanged: boolean;
}

/** The acquisition this process made, which every record it may renew must still carry. */
export interface OwnTerm {
  acquireTimeMs: number;
  leaseTransitions: number;
}

/**
 * What one candidate knows of the Lease, and the rules that judge it on the candidate's own
 * monotonic clock (client-go's observedRecord and observedTime, with three differences, each
 * closing a way to two leaders or to none):
 *
 * - Only a change of the election record restarts the expiry clock, as client-go compares the
 *   record and not the object: labels or annotations written by a GitOps tool or a human change
 *   the resourceVersion, and must not keep a dead holder's Lease alive for ever.
 * - A deletion does not free the Lease at once. The holder may be cut off from the API and still
 *   act until its renew deadline, so a candidate that saw it hold treats its lease as running
 *   until leaseDuration after the last change it observed; only a candidate that never saw a
 *   holder (or this process, when the holder was itself) may create it at once.
 * - A missing, zero or negative `leaseDurationSeconds` (`kubectl edit`) counts as this
 *   candidate's own configured lease duration, never as "expired now" (client-go reads it as 0).
 */
export class LeaseObservation {
  /** The Lease as last read, written or watched; null when missing or not yet seen. */
  lease: V1Lease | null = null;
  /** Its election record; after a deletion, the last record seen, whose lease still runs. */
  record: LeaderElectionRecord | null = null;
  /** When (monotonic ms) the record was last seen to change. */
  observedTime = 0;
  /**
   * The highest leaseTransitions seen, kept across a deletion: a Lease this candidate re-creates
   * continues the count, so its terms keep growing for everyone who saw the old one.
   */
  highestTransitions: number | null = null;
  /** The record whose writer its pod proved gone (fast failover): free as soon as proved. */
  private deadRecord: string | undefined;

  constructor(
    private readonly identity: string,
    private readonly incarnation: string,
    private readonly configuredLeaseDurationMs: number,
    private readonly now: () => number,
  ) {}

  /** Takes in a Lease read, written or watched. */
  observe(lease: V1Lease): ObservedChange {
    const version = lease.metadata?.resourceVersion;
    const known = this.lease?.metadata?.resourceVersion;
    if (this.lease !== null && isOlder(version, known)) return { ignored: true, versionChanged: false, recordChanged: false };
    const record = recordFromLeaseSpec(lease.spec);
    const recordChanged =
      this.record === null || !sameRecord(record, this.record) || incarnationOf(lease) !== incarnationOf(this.lease ?? undefined);
    const versionChanged = this.lease === null || version !== known;
    if (recordChanged) this.observedTime = this.now();
    this.lease = lease;
    this.record = record;
    this.highestTransitions = Math.max(this.highestTransitions ?? 0, record.leaseTransitions);
    return { ignored: false, versionChanged, recordChanged };
  }

  /**
   * The Lease is gone (a DELETED event, or 404). The holder's lease is remembered, running from
   * the last change observed, unless it was this process's own (it has stepped down already).
   */
  deleted(ownTerm: OwnTerm | null): void {
    const wasOurs = this.isOurs(ownTerm);
    this.lease = null;
    if (wasOurs || this.record?.holderIdentity === '') this.record = null;
  }

  /** The holder this candidate sees, or null (none, released, or never seen). */
  get holder(): string | null {
    return this.record?.holderIdentity ? this.record.holderIdentity : null;
  }

  /**
   * The record is one this process wrote in its current term: our identity, our incarnation, and
   * the acquireTime and leaseTransitions of our own acquisition. Anything else, even naming our
   * identity, is someone else's (an earlier process, or a second live one with the same name).
   */
  isOurs(ownTerm: OwnTerm | null, lease: V1Lease | null = this.lease): boolean {
    if (lease === null || ownTerm === null) return false;
    const record = lease === this.lease && this.record !== null ? this.record : recordFromLeaseSpec(lease.spec);
    return (
      record.holderIdentity === this.identity &&
      incarnationOf(lease) === this.incarnation &&
      record.acquireTime?.getTime() === ownTerm.acquireTimeMs &&
      record.leaseTransitions === ownTerm.leaseTransitions
    );
  }

  /** The record names this identity, but another process wrote it. */
  namesUsFromAnotherProcess(): boolean {
    return this.record?.holderIdentity === this.identity && incarnationOf(this.lease) !== this.incarnation;
  }

  /** The holder's lease duration; a missing or invalid one counts as our own configured one. */
  get leaseDurationMs(): number {
    const seconds = this.record?.leaseDurationSeconds ?? 0;
    return Number.isSafeInteger(seconds) && seconds > 0 ? seconds * 1000 : this.configuredLeaseDurationMs;
  }

  /** When (monotonic) the holder's lease runs out by this candidate's observation. */
  get expiresAt(): number {
    return this.observedTime + this.leaseDurationMs;
  }

  /**
   * Free to take: never held, released, unchanged for the holder's whole lease duration, or its
   * writer proved gone by its pod (fast failover) for this very record.
   */
  isFree(): boolean {
    if (this.holder === null) return true;
    if (this.deadRecord !== undefined && this.deadRecord === this.recordKey()) return true;
    return this.now() >= this.expiresAt;
  }

  /** Identifies the record seen: holder, acquireTime, leaseTransitions and the writing incarnation. */
  recordKey(): string | undefined {
    const record = this.record;
    if (record === null || this.lease === null) return undefined;
    return `${record.holderIdentity}|${record.acquireTime?.getTime() ?? ''}|${record.leaseTransitions}|${incarnationOf(this.lease) ?? ''}`;
  }

  /** The pod of the writer of `record` proved it gone (see HolderPodWatch). */
  markWriterGone(record: string): void {
    this.deadRecord = record;
  }

  /** Kubernetes 1.31+ coordinated leader election: a coordinator, not the candidates, picks the holder. */
  get strategy(): string | undefined {
    return this.lease?.spec?.strategy || undefined;
  }

  /** Coordinated election's "end of term": the holder should hand over to this identity. */
  get preferredHolder(): string | undefined {
    return this.lease?.spec?.preferredHolder || undefined;
  }

  get resourceVersion(): string | undefined {
    return this.lease?.metadata?.resourceVersion;
  }
}

/**
 * resourceVersions are opaque to clients by contract, but every apiserver issues etcd revisions:
 * decimal integers that grow. Compare them only when both look like that.
 */
export function isOlder(version: string | undefined, than: string | undefined): boolean {
  if (version === undefined || than === undefined) return false;
  if (!/^\d+$/.test(version) || !/^\d+$/.test(than)) return false;
  return BigInt(version) < BigInt(than);
}
