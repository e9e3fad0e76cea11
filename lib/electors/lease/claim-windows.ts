import { isLaterEntry, settledUpTo, type LedgerEntry } from '../../ledger/ledger-record.js';
import type { ClaimAhead } from '../../ledger/tick-ledger.interface.js';

/** One job's claims of this process's latest term. */
interface JobWindow {
  readonly term: number;
  ahead: ClaimAhead | undefined;
  /** The end of the window a confirmed write of the term carried: fire times up to it are claimed. */
  durableEnd: number;
  /** The term's latest fact about the job: its last claim, or how that run ended. */
  own: LedgerEntry;
  /** Claimed fire times whose runs have not ended. */
  readonly running: Set<number>;
}

/**
 * Claims made ahead (issue 15): every write of the leader's term (the renewals it makes anyway)
 * claims, for each job that claimed in the term, the fire times up to `horizonMs` ahead, so a
 * tick inside that window runs without a write of its own. The ledger entry is then a window,
 * [end, "c", term, [after, term]]: the term claims every fire time in (after, end], and all up to
 * `after` are settled. `after` moves on as runs end (a run in progress keeps it below its fire
 * time), so whoever reads the window later knows:
 * - the term released the Lease (its runs drained first): the fire times after `after` never
 *   started, and are missed, to catch up by the job's policy;
 * - its leader died: those fire times may or may not have started, and the interrupted-run rules
 *   decide (`interruptedRun: 'skip'` reports them, `'rerun'` runs them again).
 * The price of a cheap claim is that uncertainty: after a crash, up to a window of fire times
 * (the horizon plus a retry period) counts as interrupted, where a claim per tick leaves one.
 *
 * A window of an earlier term that the new term's plan has taken on (catch-up, reruns) is covered
 * by the new term's own window, which always reaches at least as far: the Lease's entry is then
 * the new term's, later than the old one in the ledger's order (see isLaterEntry).
 */
export class ClaimWindows {
  private readonly jobs = new Map<string, JobWindow>();
  /** The term whose claims are being made; undefined once it ended (windows are frozen, not extended). */
  private liveTerm: number | undefined;
  /** Window ends a successful write carried, made good once its term is confirmed still running. */
  private written: Map<string, number> | undefined;

  constructor(
    private readonly horizonMs: number,
    private readonly wallNow: () => number = Date.now,
  ) {}

  /** A tick inside the job's confirmed window of this very term: claimed without a write. */
  covers(key: string, entry: LedgerEntry): boolean {
    const job = this.jobs.get(key);
    return job !== undefined && this.liveTerm === entry.term && job.term === entry.term && entry.fireTime <= job.durableEnd;
  }

  /** A claim of the term was made good (by a write, or inside the window): its run starts. */
  claimed(key: string, entry: LedgerEntry, ahead: ClaimAhead | undefined): void {
    let job = this.jobs.get(key);
    if (job === undefined || job.term < entry.term) {
      job = { term: entry.term, ahead, durableEnd: Number.NEGATIVE_INFINITY, own: entry, running: new Set() };
      this.jobs.set(key, job);
      this.liveTerm = entry.term;
    } else if (job.term > entry.term) {
      return;
    }
    job.ahead = ahead ?? job.ahead;
    job.running.add(entry.fireTime);
    if (isLaterEntry(entry, job.own)) job.own = entry;
  }

  /** How a claimed run ended. */
  ended(key: string, entry: LedgerEntry): void {
    const job = this.jobs.get(key);
    if (job === undefined || job.term !== entry.term) return;
    job.running.delete(entry.fireTime);
    if (isLaterEntry(entry, job.own)) job.own = entry;
  }

  /** The job's latest own entry in the live term: what the gate plans from while it leads. */
  ownEntry(key: string): LedgerEntry | undefined {
    const job = this.jobs.get(key);
    return job !== undefined && job.term === this.liveTerm ? job.own : undefined;
  }

  /**
   * The window entry to write for each job, for a write sent now: reaching `horizonMs` ahead
   * while the term runs (frozen once it ended: only `after` moves on), at least as far as the
   * entry stored of an earlier term or of its own (`stored`), its start before every claim still
   * running or unwritten.
   */
  entries(
    stored: (key: string) => LedgerEntry | undefined,
    unwritten: (key: string) => readonly LedgerEntry[],
    unwrittenKeys: Iterable<string> = [],
  ): Map<string, LedgerEntry> {
    const windows = new Map<string, LedgerEntry>();
    const until = this.wallNow() + this.horizonMs;
    for (const [key, job] of this.jobs) {
      const pending = unwritten(key).filter((claim) => claim.term === job.term);
      let latest = job.own;
      for (const claim of pending) if (isLaterEntry(claim, latest)) latest = claim;
      let end = Math.max(job.durableEnd, latest.fireTime);
      // An earlier term's entry this term took on, or this term's own window that a write whose
      // answer was lost put there: never written back shorter, which would leave the stored one,
      // its start behind runs that have ended since (read as never started after a release).
      const other = stored(key);
      if (other !== undefined && other.term <= job.term) end = Math.max(end, other.fireTime);
      if (job.term === this.liveTerm) end = Math.max(end, job.ahead?.(until) ?? end);
      if (end <= latest.fireTime) continue;
      const open = [...job.running, ...pending.map((claim) => claim.fireTime)];
      const after = open.length > 0 ? Math.min(...open) - 1 : settledUpTo(latest);
      windows.set(key, { fireTime: end, state: 'claimed', term: job.term, claimedAfter: after });
    }
    for (const key of unwrittenKeys) {
      if (windows.has(key)) continue;
      const adopted = this.adoption(stored(key), unwritten(key), this.jobs.get(key)?.term);
      if (adopted !== undefined) windows.set(key, adopted);
    }
    return windows;
  }

  /**
   * The first claims of a term, not yet made good, below the end of an earlier term's window (a
   * released window's open fire times are free again): as a plain claim they would not be later
   * than that window, so they go as a window of their own term reaching as far.
   */
  private adoption(other: LedgerEntry | undefined, pending: readonly LedgerEntry[], windowTerm: number | undefined): LedgerEntry | undefined {
    if (other === undefined || pending.length === 0) return undefined;
    const term = Math.max(...pending.map((claim) => claim.term));
    if ((windowTerm !== undefined && windowTerm >= term) || other.term >= term) return undefined;
    const fireTimes = pending.filter((claim) => claim.term === term).map((claim) => claim.fireTime);
    if (other.fireTime <= Math.max(...fireTimes)) return undefined;
    return { fireTime: other.fireTime, state: 'claimed', term, claimedAfter: Math.min(...fireTimes) - 1 };
  }

  /** A write carrying these windows succeeded. */
  sent(windows: ReadonlyMap<string, LedgerEntry>): void {
    if (windows.size === 0) return;
    this.written ??= new Map();
    for (const [key, window] of windows) this.written.set(key, window.fireTime);
  }

  /**
   * The write is confirmed within the live term: the fire times up to each window's end are
   * claimed (covers() then settles the claims waiting for a write that it covers).
   */
  confirm(): void {
    const written = this.written;
    this.written = undefined;
    if (written === undefined || this.liveTerm === undefined) return;
    for (const [key, end] of written) {
      const job = this.jobs.get(key);
      if (job !== undefined && job.term === this.liveTerm) job.durableEnd = Math.max(job.durableEnd, end);
    }
  }

  /** The term ended: no window covers a claim any more, nor grows; their starts still move on. */
  endTerm(): void {
    this.liveTerm = undefined;
    this.written = undefined;
  }
}
