import type { V1Lease } from '@kubernetes/client-node';
import {
  CURRENT_DOCUMENT,
  decodeLedger,
  encodeLedger,
  isLaterEntry,
  LEDGER_ANNOTATION,
  type DecodedLedger,
  type LedgerDocument,
  type LedgerEntry,
} from '../../ledger/ledger-record.js';
import type { ClaimAhead } from '../../ledger/tick-ledger.interface.js';
import { ClaimWindows } from './claim-windows.js';
import { INCARNATION_ANNOTATION } from './resourcelock/lease-record.js';

/** How many released terms are remembered: enough for every handover a pod may still plan around. */
const MAX_RELEASED_TERMS = 16;

/** What a write of the ledger carries, to be settled once the write's outcome is known. */
export interface LedgerWrite {
  /** The annotation value to write, or undefined to leave the annotation as it is. */
  value: string | undefined;
  /** The claims this write carries: written once it succeeds. */
  claims: readonly PendingClaim[];
  /** The windows claimed ahead it carries (see claim-windows.ts). */
  windows: ReadonlyMap<string, LedgerEntry>;
}

/** An entry and when (monotonic ms, by this process's clock) the claim it records was made. */
interface Known {
  entry: LedgerEntry;
  claimedAt: number;
}

/** A claim of this process, waiting for a write of its term to carry it. */
export interface PendingClaim {
  readonly key: string;
  readonly entry: LedgerEntry;
  /** Monotonic ms when the claim was made. */
  readonly claimedAt: number;
  /** Wall-clock ms after which a claim never sent is given up (its starting deadline). */
  readonly notAfterMs: number;
  /** A write carrying it was sent: it may be in the Lease, whatever that write's answer. */
  sent: boolean;
  /** A write carrying it succeeded; it counts once its term is confirmed still running. */
  written: boolean;
  settle(claimed: boolean): void;
}

/**
 * The job ledger kept in the election's Lease (the `nestjs-cluster-leader/ledger` annotation),
 * from the elector's side. Every entry only moves forward (see isLaterEntry), so this process
 * keeps, per job, the latest entry it has ever known: seen in any Lease it read, written or
 * watched, recorded by its own runs, or claimed by it. Every write of the elector (acquire,
 * renew, claim, release, create) carries that whole ledger merged with the Lease's, built on the
 * Lease it is conditional on, so:
 * - the ledger is as linearizable as the Lease itself: a write based on an outdated ledger is a
 *   409, never a lost claim;
 * - an annotation stripped or edited back (`kubectl annotate`, a GitOps tool replacing the
 *   object), or a Lease deleted and re-created, is repaired by the next write of whoever leads:
 *   no job's entry is lost while one process still knows it;
 * - how a run of ours ended is written by a later write, even one of a later term of ours, but
 *   only over its own claim: an entry that moved on since (a later claim, a rerun) wins.
 */
export class LeaseLedger {
  /** The latest entry of each job this process knows. */
  private readonly known = new Map<string, Known>();
  /** This process's claims whose write has not succeeded yet. */
  private readonly claims = new Map<string, PendingClaim[]>();
  /** Problems of the last decoded value, kept to report each once. */
  private lastProblems = '';
  /** The last value decoded: the gate asks on every tick, the Lease changes every renew. */
  private decoded: { value: string | undefined; result: DecodedLedger } | undefined;
  /** The version marks and unknown fields of the last value seen, to write back. */
  private document: LedgerDocument = CURRENT_DOCUMENT;
  /** Terms seen to end with our release (holder "", 1 s, our annotation): their open claims never ran. */
  private readonly releasedTerms = new Set<number>();
  /** This process's windows claimed ahead. */
  private readonly windows: ClaimWindows;

  constructor(
    /** `readOnlyVersion`: the newer format that forbids this version to write (an error, not a warning). */
    private readonly onProblem: (problem: string, readOnlyVersion?: number) => void,
    private readonly now: () => number,
    /** How far ahead each write of the leader claims the fire times of its jobs (0: no window). */
    claimAheadMs = 0,
    wallNow: () => number = Date.now,
  ) {
    this.windows = new ClaimWindows(claimAheadMs, wallNow);
  }

  /**
   * The job's latest entry as this process knows it, its own unwritten claims included. While
   * this process leads and the job claimed in its term: the term's own claims, whatever window
   * the Lease shows (its own, or an earlier term's that this term's plan took on).
   */
  entry(key: string): LedgerEntry | undefined {
    const own = this.windows.ownEntry(key);
    if (own === undefined) return this.latest(key)?.entry;
    let latest = own;
    for (const claim of this.claims.get(key) ?? []) if (isLaterEntry(claim.entry, latest)) latest = claim.entry;
    return latest;
  }

  /**
   * Monotonic ms since the claim of the job's latest entry was made, as this process can tell
   * without reading another machine's clock (@Interval cadence): never more than the truth.
   */
  sinceClaimMs(key: string): number | undefined {
    const latest = this.latest(key);
    return latest === undefined ? undefined : Math.max(0, this.now() - latest.claimedAt);
  }

  claimNeverRan(key: string): boolean {
    const entry = this.entry(key);
    return entry?.state === 'claimed' && this.releasedTerms.has(entry.term);
  }

  /** Whether this process may write the ledger of this Lease (false: a newer format forbids it). */
  writable(lease: V1Lease | null): boolean {
    return lease === null || !this.decode(lease).readOnly;
  }

  /** Takes in every Lease the elector sees: what it says is known from now on. */
  seen(lease: V1Lease): void {
    this.noteRelease(lease);
    const decoded = this.decode(lease);
    if (decoded.readOnly) return;
    this.document = decoded.document;
    if (decoded.ledger.size === 0) return;
    const observedAt = this.now();
    const record = lease.spec;
    const renewTime = record?.renewTime === undefined ? undefined : new Date(record.renewTime as unknown as string).getTime();
    for (const [key, entry] of decoded.ledger) {
      const known = this.known.get(key);
      if (known !== undefined && !isLaterEntry(entry, known.entry)) continue;
      // When the claim was made, on our clock: if the writer of this record is the writer of the
      // claim (same term), the record's renewTime and the fire time are on one clock, and their
      // difference is how long before the record's write the claim was made. Otherwise, the
      // moment we saw it: later than the truth, so an interval is never judged to have passed early.
      let claimedAt = observedAt;
      if (known !== undefined && known.entry.fireTime === entry.fireTime) claimedAt = known.claimedAt;
      else if (record?.leaseTransitions === entry.term && renewTime !== undefined && Number.isFinite(renewTime)) {
        claimedAt = observedAt - Math.max(0, renewTime - entry.fireTime);
      }
      this.known.set(key, { entry: this.withExtra(entry, known?.entry), claimedAt });
    }
  }

  /**
   * Records a fact this process learned itself: how a run ended, or a run it made without a
   * claim (`claim: false`). Written with the next write, never over a later entry.
   */
  record(key: string, entry: LedgerEntry, claimedAt?: number): void {
    const known = this.known.get(key);
    if (known !== undefined && !isLaterEntry(entry, known.entry)) return;
    const at = claimedAt ?? (known?.entry.fireTime === entry.fireTime ? known.claimedAt : this.now());
    this.known.set(key, { entry: this.withExtra(entry, known?.entry), claimedAt: at });
  }

  /**
   * A claim inside the job's window, which a confirmed write of this very term carried: made at
   * once, without a write. False when no window covers it (claim() then waits for a write).
   */
  claimInWindow(key: string, entry: LedgerEntry, ahead: ClaimAhead | undefined): boolean {
    if (!this.windows.covers(key, entry)) return false;
    this.windows.claimed(key, entry, ahead);
    this.record(key, entry);
    return true;
  }

  /** A claim, visible to entry() at once, that resolves when a write of its term carries it. */
  claim(key: string, entry: LedgerEntry, notAfterMs: number, ahead?: ClaimAhead): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const claim: PendingClaim = {
        key, entry, notAfterMs,
        claimedAt: this.now(),
        sent: false,
        written: false,
        settle: (claimed) => {
          this.dropClaim(claim);
          if (claimed) {
            this.record(key, entry, claim.claimedAt);
            this.windows.claimed(key, entry, ahead);
          }
          resolve(claimed);
        },
      };
      const queue = this.claims.get(key);
      if (queue === undefined) this.claims.set(key, [claim]);
      else queue.push(claim);
    });
  }

  /** Whether a claim is waiting for a write. */
  get hasClaims(): boolean {
    return this.claims.size > 0;
  }

  /**
   * The claims a write confirmed: the write succeeded and this process still holds its term.
   * They count as claimed from now on.
   */
  confirm(): void {
    this.windows.confirm();
    for (const claim of this.allClaims()) if (claim.written) claim.settle(true);
    // Made since the write was prepared, inside the window it carried: claimed by it too.
    for (const claim of this.allClaims()) if (this.windows.covers(claim.key, claim.entry)) claim.settle(true);
  }

  /** How a claimed run ended (or the fire time a resume skips to): written with the next write, and its window's start moves on. */
  complete(key: string, entry: LedgerEntry): void {
    this.record(key, entry);
    this.windows.ended(key, entry);
  }

  /** The term ended (or shutdown began): every claim still waiting is not claimed. */
  endTerm(): void {
    this.windows.endTerm();
    for (const claim of this.allClaims()) claim.settle(false);
  }

  /**
   * The annotation for a write conditional on `lease` (null: creating it): the Lease's ledger
   * with every later entry this process knows or claims. Claims never sent whose starting
   * deadline passed are given up first (a claim sent once may be in the Lease: it is kept).
   */
  prepare(lease: V1Lease | null): LedgerWrite {
    const decoded = lease === null ? undefined : this.decode(lease);
    if (decoded?.readOnly) return { value: undefined, claims: [], windows: new Map() };
    const wallNow = Date.now();
    for (const claim of this.allClaims()) if (!claim.sent && wallNow > claim.notAfterMs) claim.settle(false);
    const { merged, changed, windows } = this.merge(decoded);
    // A claim already in the Lease (an earlier write carried it) is settled by this write too; one
    // the written ledger does not hold (an entry of another term reaches past it) never is.
    const claims = this.allClaims().filter((claim) => holds(merged.get(claim.key), claim.entry));
    for (const claim of claims) claim.sent = true;
    if ((!changed && lease !== null) || merged.size === 0) return { value: undefined, claims, windows };
    const { value, evicted } = encodeLedger(merged, undefined, decoded?.document ?? this.document);
    if (evicted.length > 0) {
      for (const key of evicted) this.known.delete(key);
      this.onProblem(`the ledger is full; dropped the entries of ${evicted.join(', ')}`);
    }
    return { value, claims, windows };
  }

  /** Whether a write conditional on `lease` would change its ledger (something of ours is not in it). */
  hasNewsFor(lease: V1Lease): boolean {
    const decoded = this.decode(lease);
    return !decoded.readOnly && this.merge(decoded).changed;
  }

  /** The Lease's ledger with every later entry this process knows or claims, and whether any was. */
  private merge(decoded: DecodedLedger | undefined): { merged: Map<string, LedgerEntry>; changed: boolean; windows: Map<string, LedgerEntry> } {
    const stored = decoded?.ledger ?? new Map<string, LedgerEntry>();
    const merged = new Map(stored);
    let changed = false;
    const windows = this.windows.entries(
      (key) => {
        const known = this.known.get(key)?.entry;
        const theirs = stored.get(key);
        return known === undefined || (theirs !== undefined && isLaterEntry(theirs, known)) ? theirs : known;
      },
      (key) => (this.claims.get(key) ?? []).map((claim) => claim.entry),
      this.claims.keys(),
    );
    for (const key of new Set([...this.known.keys(), ...this.claims.keys(), ...windows.keys()])) {
      let ours = this.latest(key)?.entry;
      const window = windows.get(key);
      if (window !== undefined && (ours === undefined || isLaterEntry(window, ours))) ours = window;
      if (ours === undefined) continue;
      const theirs = stored.get(key);
      if (theirs !== undefined && !isLaterEntry(ours, theirs)) continue;
      merged.set(key, this.withExtra(ours, theirs));
      changed = true;
    }
    return { merged, changed, windows };
  }

  /** The write succeeded: what it carried is in the Lease (confirm() settles the claims). */
  written({ claims, windows }: LedgerWrite): void {
    for (const claim of claims) claim.written = true;
    this.windows.sent(windows);
  }

  /**
   * A release by one of our processes (client-go's tryRelease, as LeaseRelease writes it) comes
   * only after that term's jobs drained and the release carried how each ended: a claim of that
   * term still open then was given up before it ran.
   */
  private noteRelease(lease: V1Lease): void {
    const spec = lease.spec;
    const ours = lease.metadata?.annotations?.[INCARNATION_ANNOTATION] !== undefined;
    if (!ours || spec?.holderIdentity || spec?.leaseDurationSeconds !== 1 || typeof spec.leaseTransitions !== 'number') return;
    if (this.releasedTerms.size >= MAX_RELEASED_TERMS) this.releasedTerms.delete(this.releasedTerms.values().next().value!);
    this.releasedTerms.add(spec.leaseTransitions);
  }

  /** The latest of what this process knows and claims of one job. */
  private latest(key: string): Known | undefined {
    let latest = this.known.get(key);
    for (const claim of this.claims.get(key) ?? []) {
      if (latest === undefined || isLaterEntry(claim.entry, latest.entry)) latest = { entry: claim.entry, claimedAt: claim.claimedAt };
    }
    return latest;
  }

  /** A newer format's extra tuple members stay with the job's entry when ours replaces it. */
  private withExtra(entry: LedgerEntry, previous: LedgerEntry | undefined): LedgerEntry {
    if (entry.extra !== undefined || previous?.extra === undefined) return entry;
    return { ...entry, extra: previous.extra };
  }

  private allClaims(): PendingClaim[] {
    return [...this.claims.values()].flat();
  }

  private dropClaim(claim: PendingClaim): void {
    const queue = this.claims.get(claim.key);
    if (queue === undefined) return;
    const index = queue.indexOf(claim);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.claims.delete(claim.key);
  }

  private decode(lease: V1Lease): DecodedLedger {
    const value = lease.metadata?.annotations?.[LEDGER_ANNOTATION];
    if (this.decoded !== undefined && this.decoded.value === value) return this.decoded.result;
    const decoded = decodeLedger(value);
    this.decoded = { value, result: decoded };
    const problems = decoded.problems.join('; ');
    if (problems !== '' && problems !== this.lastProblems) this.onProblem(problems, decoded.readOnly ? decoded.newerVersion : undefined);
    this.lastProblems = problems;
    return decoded;
  }
}

/** Whether a ledger entry claims `claim`: the same term, at or after its fire time. */
function holds(entry: LedgerEntry | undefined, claim: LedgerEntry): boolean {
  return entry !== undefined && entry.term === claim.term && entry.fireTime >= claim.fireTime;
}
