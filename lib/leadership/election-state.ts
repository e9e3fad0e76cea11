import { Logger } from '@nestjs/common';
import { BehaviorSubject, type Observable } from 'rxjs';
import type { LeaderElectionCallbacks } from '../interfaces/leader-election-options.interface.js';
import type { LeaderJobContext } from '../interfaces/leader-job-context.interface.js';
import type { LeadershipState } from '../interfaces/leadership-state.interface.js';
import { NEW_LEADER, STARTED_LEADING, STOPPED_LEADING } from '../leader-election.messages.js';
import { ElectionEvents } from './election-events.js';
import { monotonicNow } from './monotonic-clock.js';
import { clampDelay } from './timers.js';
import type { TickLedger } from '../ledger/tick-ledger.interface.js';
import type { JobControl } from '../control/job-control.interface.js';

/** What an elector knows after each step; electors publish it, ElectionState does the rest. */
export interface LeadershipView {
  /** The identity the elector observes as leader, or null when none is known. */
  leader: string | null;
  /** The term of that leadership (the Lease's leaseTransitions), or null when the backend has none. */
  term: number | null;
  /**
   * This pod's fencing token while it leads: a value that grows with every new term and never
   * repeats (the Lease backend: the resourceVersion of the acquiring write). Null otherwise.
   */
  fencingToken?: string | null;
  /**
   * Until when (monotonic ms, see monotonicNow) this pod may act as leader if `leader` is this pod.
   * The elector derives it from what it can prove: e.g. the send time of the last successful renew
   * plus the renew deadline. Ignored when `leader` is someone else.
   */
  leadingUntil: number;
  /** Why this pod leads, said once when it starts to (e.g. "it acquired the Lease"). */
  leadingBecause?: string;
}

/** Said when an elector gives no reason of its own. */
const DEFAULT_START_REASON = 'its elector names it as the leader';
const DEFAULT_STOP_REASON = 'another pod leads';

/**
 * The leadership of one election as this pod sees it: the single source of truth that the
 * service, the gate and the callbacks read. Electors only publish views; this class decides what
 * changed, logs each change once, aborts the term's signal when leadership ends, and steps down by
 * itself when the elector's promised deadline passes without news (a stalled renew loop or event
 * loop cannot extend leadership).
 */
export class ElectionState {
  private readonly logger = new Logger('LeaderElection');
  private readonly subject: BehaviorSubject<LeadershipState>;
  private leading = false;
  private leadingUntil = 0;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Shared by every job started during the current term; aborted when the term ends. */
  private termContext: LeaderJobContext | undefined;
  private termController: AbortController | undefined;
  private closed = false;
  private tickLedger: TickLedger | undefined;
  private jobControl: JobControl | undefined;
  /** The library's own listeners for a new term (the gate's catch-up), called before the callbacks. */
  private readonly termListeners: ((context: LeaderJobContext) => void)[] = [];

  constructor(
    readonly name: string,
    readonly identity: string,
    private readonly callbacks: LeaderElectionCallbacks = {},
    private readonly now: () => number = monotonicNow,
    /** Where leadership changes are reported to metrics, traces and the skipped-ticks summary. */
    readonly events: ElectionEvents = new ElectionEvents(),
  ) {
    this.subject = new BehaviorSubject<LeadershipState>({
      election: name,
      identity,
      isLeader: false,
      leader: null,
      term: null,
    });
  }

  /** Set by a backend that keeps a job ledger (the Lease backend); undefined for the others. */
  get ledger(): TickLedger | undefined {
    return this.tickLedger;
  }

  useLedger(ledger: TickLedger): void {
    this.tickLedger = ledger;
  }

  /** Set by a backend that keeps the jobs' control state (the Lease backend); undefined for the others. */
  get control(): JobControl | undefined {
    return this.jobControl;
  }

  useControl(control: JobControl): void {
    this.jobControl = control;
  }

  /** Calls `listener` whenever this pod begins a term, once the new state is out. */
  onTermStarted(listener: (context: LeaderJobContext) => void): () => void {
    this.termListeners.push(listener);
    return () => this.termListeners.splice(this.termListeners.indexOf(listener), 1);
  }

  /** The hot path of every gated tick: two field reads and one clock read, no I/O. */
  isLeader(): boolean {
    return this.leading && this.now() < this.leadingUntil;
  }

  get state(): LeadershipState {
    return this.subject.value;
  }

  /** Emits the current state to each new subscriber, then every change. */
  get changes(): Observable<LeadershipState> {
    return this.subject.asObservable();
  }

  /** The context of the current term for a job starting now, or undefined when not leading. */
  currentJobContext(): LeaderJobContext | undefined {
    return this.isLeader() ? this.termContext : undefined;
  }

  /** Called by the elector after every observation; cheap when nothing changed. */
  publish(view: LeadershipView, reason = DEFAULT_STOP_REASON): void {
    if (this.closed) return;
    const leading = view.leader === this.identity && view.leadingUntil > this.now();
    const previous = this.subject.value;
    const next: LeadershipState = {
      election: this.name,
      identity: this.identity,
      isLeader: leading,
      leader: view.leader,
      term: view.term,
    };
    const ended = this.leading && (!leading || view.term !== previous.term);
    const stopReason = leading ? 'a new term began' : reason;
    if (ended) this.endTerm(stopReason, previous.term);
    if (leading) {
      this.leadingUntil = view.leadingUntil;
      this.armExpiry();
    }
    const began = !this.leading && leading;
    const startReason = view.leadingBecause ?? DEFAULT_START_REASON;
    if (began) this.beginTerm(view.term, view.fencingToken ?? null, startReason);
    // Callbacks run after the new state is out, so that inside them the service agrees with
    // the callback (isLeader(), leader() and term() already show the change).
    const emitted = this.emitIfChanged(previous, next, began ? startReason : ended ? stopReason : reason);
    if (ended) this.invoke('onStoppedLeading', () => this.callbacks.onStoppedLeading?.({ ...emitted, isLeader: false }));
    if (began) {
      const context = this.termContext!;
      for (const listener of [...this.termListeners]) this.invoke('term listener', () => listener(context));
      this.invoke('onStartedLeading', () => this.callbacks.onStartedLeading?.({ election: context.election, term: context.term, signal: context.signal }));
    }
    if (previous.leader !== next.leader && next.leader !== null) {
      const leader = next.leader;
      this.invoke('onNewLeader', () => this.callbacks.onNewLeader?.(leader, next));
    }
  }

  /**
   * Shutdown began: stop leading now and ignore the elector from here on, so no new job starts.
   * The elector may keep the Lease renewed while running jobs drain, then release it.
   */
  close(): void {
    if (this.closed) return;
    const previous = this.subject.value;
    const ended = this.leading;
    if (ended) this.endTerm('shutdown began', previous.term);
    this.closed = true;
    this.clearExpiry();
    const emitted = this.emitIfChanged(previous, { ...previous, isLeader: false }, 'shutdown began');
    if (ended) this.invoke('onStoppedLeading', () => this.callbacks.onStoppedLeading?.(emitted));
  }

  private beginTerm(term: number | null, fencingToken: string | null, reason: string): void {
    this.leading = true;
    this.termController = new AbortController();
    this.termContext = {
      election: this.name,
      term,
      fencingToken,
      signal: this.termController.signal,
      scheduledAt: null,
      catchUp: false,
      kind: 'scheduled',
      missedFireTimes: [],
    };
    this.logger.log(STARTED_LEADING(this.name, this.identity, term, reason));
  }

  private endTerm(reason: string, term: number | null): void {
    this.leading = false;
    this.leadingUntil = 0;
    this.clearExpiry();
    // Abort first: a running job must learn it lost leadership before anyone else is told.
    this.termController?.abort(new Error(`Leadership of election '${this.name}' ended: ${reason}`));
    this.termController = undefined;
    this.termContext = undefined;
    this.logger.log(STOPPED_LEADING(this.name, this.identity, term, reason));
  }

  /** Emits `next` if it differs from `previous`; returns the state now current. */
  private emitIfChanged(previous: LeadershipState, next: LeadershipState, reason: string): LeadershipState {
    if (
      previous.isLeader === next.isLeader &&
      previous.leader === next.leader &&
      previous.term === next.term
    ) {
      return previous;
    }
    // "This pod is now the leader" (beginTerm) already says who leads: one line for one fact.
    const saidByStart = next.isLeader && !previous.isLeader && next.leader === this.identity;
    if (previous.leader !== next.leader && !saidByStart) {
      this.logger.log(NEW_LEADER(this.name, next.leader));
    }
    this.subject.next(next);
    // observability (issue 9): one event per change, after the state is out.
    this.events.leadershipChanged({
      election: this.name,
      identity: this.identity,
      isLeader: next.isLeader,
      wasLeader: previous.isLeader,
      leader: next.leader,
      term: next.term,
      reason: next.leader === previous.leader || next.isLeader !== previous.isLeader ? reason : next.leader === null ? 'no leader is known' : `${next.leader} leads`,
    });
    return next;
  }

  /** Steps down by itself when the deadline passes with no newer view from the elector. */
  private armExpiry(): void {
    this.clearExpiry();
    const delay = this.leadingUntil - this.now();
    if (!Number.isFinite(delay)) return;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      if (!this.leading) return;
      if (this.now() < this.leadingUntil) return this.armExpiry();
      this.publish({ leader: null, term: this.state.term, leadingUntil: 0 }, 'its leadership deadline passed without a successful renew');
    }, clampDelay(delay));
    this.expiryTimer.unref();
  }

  private clearExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  private invoke(name: string, callback: () => unknown): void {
    try {
      const result = callback();
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.logCallbackError(name, error));
      }
    } catch (error) {
      this.logCallbackError(name, error);
    }
  }

  private logCallbackError(name: string, error: unknown): void {
    this.logger.error(`Election '${this.name}': ${name} callback failed`, error instanceof Error ? error.stack : String(error));
  }
}
