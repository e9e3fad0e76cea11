/**
 * The job ledger as it is stored: one annotation on the election's Lease, written by the leader
 * with the same conditional PUT that renews the Lease. Per job, the last claimed tick: its fire
 * time, whether its run finished, and the term that claimed it.
 *
 * Format (version 1), compact because it travels with every renewal:
 *   {"v":1,"j":{"BillingJobs.closeHourly":[1767225600000,"s",4]}}
 * `j` maps a job's ledger key to [fire time in ms since the epoch, state, term], the state being
 * "c" (claimed: running, or its leader died before recording the end), "s" (succeeded) or
 * "f" (failed).
 *
 * A claim made ahead (a window, see claim-windows.ts) adds a fourth member, [after, term]: the
 * entry then claims every fire time in (after, fireTime] for its term, not only fireTime, and
 * says that every one up to `after` is settled. The member repeats the term so that a copy an
 * older version carried over onto an entry of another term (it keeps members it does not know)
 * is recognised as stale and ignored. An older reader takes such an entry for a claim of its
 * last fire time: it never runs a claimed fire time, it only reports fewer as interrupted.
 *
 * Changing the format: a reader keeps every field it does not know (top-level fields, and tuple
 * members after the third) and writes them back as they were, so an older pod never erases what a
 * newer one added. A change that older readers would misread must raise `v`; a newer format that
 * older versions may still read and update (they keep its additions) says so with `c`, the oldest
 * version that may write it. A reader that meets a `v` above its own without a `c` at or below its
 * own must neither claim from it nor overwrite it (see DecodedLedger.readOnly).
 */
export const LEDGER_ANNOTATION = 'nestjs-cluster-leader/ledger';
export const LEDGER_VERSION = 1;

/**
 * The most the ledger annotation may take, in bytes of UTF-8. Kubernetes allows 256 KiB for all of
 * an object's annotations together (`metadata.annotations` total, a 422 beyond); a quarter leaves
 * room for everything else. One entry takes about 30 bytes plus its key: roughly a thousand jobs.
 */
export const MAX_LEDGER_BYTES = 64 * 1024;

/** Longest ledger key accepted, in characters (a `Class.method` name or a `@Cron({ name })`). */
export const MAX_LEDGER_KEY_LENGTH = 256;

export type TickState = 'claimed' | 'succeeded' | 'failed';

export interface LedgerEntry {
  /** The fire time of the job's last claimed tick, in ms since the epoch. */
  readonly fireTime: number;
  readonly state: TickState;
  /** The term (the Lease's `leaseTransitions`, the fencing token) of the leader that claimed it. */
  readonly term: number;
  /**
   * A window claimed ahead (state "claimed" only): the term claims every fire time in
   * (claimedAfter, fireTime], and every one up to claimedAfter is settled. Undefined: the entry
   * claims its fire time alone.
   */
  readonly claimedAfter?: number;
  /** Tuple members this version does not know (after the third, or after the window): written back as they were. */
  readonly extra?: readonly unknown[];
}

/** What a value holds besides its entries: its version marks and the fields this version does not know. */
export interface LedgerDocument {
  /** `v`: the format the value was written in (kept when a newer one lets this version write). */
  readonly version: number;
  /** `c`: the oldest version that may write the value; undefined means only `version` itself. */
  readonly writableFrom?: number;
  /** Top-level fields this version does not know, kept as they are. */
  readonly unknownFields: Readonly<Record<string, unknown>>;
}

/** This version's own marks, for a value it writes from scratch. */
export const CURRENT_DOCUMENT: LedgerDocument = { version: LEDGER_VERSION, unknownFields: {} };

/** Ledger key -> the job's last claim. */
export type JobLedger = ReadonlyMap<string, LedgerEntry>;

export interface EncodedLedger {
  /** The annotation's value. */
  value: string;
  /**
   * Keys left out to stay within `maxBytes`, those with the oldest claims first: jobs not seen
   * for the longest time, likely removed from the code. Each loses its "never at or before the
   * last claim" guard; log them.
   */
  evicted: string[];
}

export interface DecodedLedger {
  /** Every entry that was valid: a partial ledger when some were not. */
  ledger: Map<string, LedgerEntry>;
  /** What was wrong, for one log line; empty when the value was absent or valid. */
  problems: string[];
  /** Set when the value was written in a newer format than this code knows (by a newer pod). */
  newerVersion?: number;
  /**
   * True when that newer format does not let this version write it (no `c` at or below
   * LEDGER_VERSION). The ledger is then empty; the caller must neither claim from it nor overwrite
   * it, or the newer pods would lose their claims: "cannot claim", fail closed.
   */
  readOnly: boolean;
  /** The value's version marks and unknown fields, to write back with it. */
  document: LedgerDocument;
}

const STATE_CODES: Record<TickState, string> = { claimed: 'c', succeeded: 's', failed: 'f' };
const STATES_BY_CODE: Record<string, TickState> = { c: 'claimed', s: 'succeeded', f: 'failed' };

const STATE_RANK: Record<TickState, number> = { claimed: 0, succeeded: 1, failed: 1 };

/**
 * Whether `a` comes after `b` in a job's history: a later fire time; for the same fire time, a
 * later term (a rerun); within one term, a finished run after its claim. The ledger only ever
 * moves forward in this order, so merging what several writers and readers know is taking the
 * later entry of each job, and a stripped, edited or older copy is repaired by the next write.
 */
export function isLaterEntry(a: LedgerEntry, b: LedgerEntry): boolean {
  if (a.fireTime !== b.fireTime) return a.fireTime > b.fireTime;
  if (a.term !== b.term) return a.term > b.term;
  if (a.state !== b.state) return STATE_RANK[a.state] > STATE_RANK[b.state];
  // One window of one term, later in its progress: more of it settled.
  return settledUpTo(a) > settledUpTo(b);
}

/** The latest fire time the entry says is settled: all up to it ran, or will never run. */
export function settledUpTo(entry: LedgerEntry): number {
  if (entry.state !== 'claimed') return entry.fireTime;
  return entry.claimedAfter ?? entry.fireTime - 1;
}

/**
 * The annotation value for `ledger`, keys sorted so that an unchanged ledger encodes to the same
 * string, with `document`'s version marks and unknown fields. Beyond `maxBytes`, the entries with
 * the oldest fire times are evicted until it fits.
 */
export function encodeLedger(ledger: JobLedger, maxBytes = MAX_LEDGER_BYTES, document: LedgerDocument = CURRENT_DOCUMENT): EncodedLedger {
  const keys = [...ledger.keys()].sort();
  const entries = new Map(keys.map((key) => [key, ledger.get(key) as LedgerEntry]));
  const evicted: string[] = [];
  let value = serialise(entries, document);
  let size = Buffer.byteLength(value, 'utf8');
  if (size > maxBytes) {
    const oldestFirst = [...entries].sort(([, a], [, b]) => a.fireTime - b.fireTime).map(([key]) => key);
    for (const key of oldestFirst) {
      if (size <= maxBytes) break;
      size -= entrySize(key, entries.get(key) as LedgerEntry);
      entries.delete(key);
      evicted.push(key);
    }
    value = serialise(entries, document);
    // entrySize() counts a separating comma the last entry does not have: at most one more to go.
    while (Buffer.byteLength(value, 'utf8') > maxBytes && entries.size > 0) {
      const key = oldestFirst[evicted.length] as string;
      entries.delete(key);
      evicted.push(key);
      value = serialise(entries, document);
    }
  }
  return { value, evicted };
}

/** The bytes one entry adds to the encoded ledger: `"key":[...]` and its separating comma. */
function entrySize(key: string, entry: LedgerEntry): number {
  return Buffer.byteLength(JSON.stringify({ [key]: tuple(entry) }), 'utf8') - 2 + 1;
}

function tuple(entry: LedgerEntry): unknown[] {
  const tuple: unknown[] = [entry.fireTime, STATE_CODES[entry.state], entry.term];
  const window = entry.state === 'claimed' && entry.claimedAfter !== undefined ? [entry.claimedAfter, entry.term] : null;
  return [...tuple, ...(window === null ? [] : [window]), ...(entry.extra ?? [])];
}

function serialise(entries: ReadonlyMap<string, LedgerEntry>, { version, writableFrom, unknownFields }: LedgerDocument): string {
  // No prototype: a job key "__proto__" must stay an entry, not replace the object's prototype.
  const jobs: Record<string, unknown[]> = Object.create(null);
  for (const [key, entry] of entries) jobs[key] = tuple(entry);
  const document: Record<string, unknown> = Object.create(null);
  document.v = version;
  if (writableFrom !== undefined) document.c = writableFrom;
  for (const [field, value] of Object.entries(unknownFields)) document[field] = value;
  document.j = jobs;
  return JSON.stringify(document);
}

/**
 * Reads the annotation's value. Never throws: an absent value is an empty ledger; invalid JSON,
 * a missing version or invalid entries give what could be read plus a description of the rest.
 */
export function decodeLedger(value: string | undefined | null): DecodedLedger {
  const ledger = new Map<string, LedgerEntry>();
  const empty = (problems: string[], extra: Partial<DecodedLedger> = {}): DecodedLedger => ({ ledger, problems, readOnly: false, document: CURRENT_DOCUMENT, ...extra });
  if (value === undefined || value === null || value === '') return empty([]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    return empty([`the ledger is not JSON (${(error as Error).message}); starting from an empty ledger`]);
  }
  if (!isRecord(parsed)) return empty(['the ledger is not a JSON object; starting from an empty ledger']);
  const { v: version, c: writableFrom, j: jobs, ...unknownFields } = parsed;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    return empty([`the ledger has no valid version (v: ${describe(version)}); starting from an empty ledger`]);
  }
  const compatible = typeof writableFrom === 'number' && Number.isSafeInteger(writableFrom) && writableFrom >= 1 ? writableFrom : undefined;
  const newerVersion = version > LEDGER_VERSION ? version : undefined;
  if (newerVersion !== undefined && (compatible === undefined || compatible > LEDGER_VERSION)) {
    return empty(
      [`the ledger was written in format v${version}, newer than this version knows (v${LEDGER_VERSION}), and does not let this version write it; not claiming until this pod is updated`],
      { newerVersion, readOnly: true },
    );
  }
  // A value in this version's own format keeps no `c` of its own; a newer one keeps its marks.
  const document: LedgerDocument = newerVersion === undefined
    ? { version: LEDGER_VERSION, unknownFields }
    : { version, writableFrom: compatible, unknownFields };
  if (!isRecord(jobs)) {
    return empty([`the ledger's jobs (j) are ${describe(jobs)}, not an object; starting from an empty ledger`], { newerVersion, document });
  }
  const problems: string[] = [];
  for (const [key, raw] of Object.entries(jobs)) {
    const problem = entryProblem(key, raw);
    if (problem !== undefined) {
      problems.push(`dropped the entry of ${JSON.stringify(key.slice(0, MAX_LEDGER_KEY_LENGTH))}: ${problem}`);
      continue;
    }
    const [fireTime, code, term, window, ...afterWindow] = raw as [number, string, number, unknown, ...unknown[]];
    const state = STATES_BY_CODE[code] as TickState;
    const claimedAfter = windowStart(window, state, fireTime, term);
    // Members this version does not know are kept: all after the third, or after the window.
    const extra = claimedAfter !== undefined ? afterWindow : (raw as unknown[]).slice(3);
    const entry: LedgerEntry = { fireTime, state, term, ...(claimedAfter !== undefined && { claimedAfter }) };
    ledger.set(key, extra.length === 0 ? entry : { ...entry, extra });
  }
  return { ledger, problems, readOnly: false, document, ...(newerVersion !== undefined && { newerVersion }) };
}

/**
 * The start of a window claimed ahead, from the fourth member: [after, term] of this very term,
 * before the fire time, on a claimed entry. Anything else is no window (null, absent, or a copy an
 * older version carried over from another term's entry).
 */
function windowStart(window: unknown, state: TickState, fireTime: number, term: number): number | undefined {
  if (state !== 'claimed' || !Array.isArray(window) || window.length !== 2) return undefined;
  const [after, windowTerm] = window as unknown[];
  if (windowTerm !== term || typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0 || after >= fireTime) return undefined;
  return after;
}

function entryProblem(key: string, raw: unknown): string | undefined {
  if (key === '' || key.length > MAX_LEDGER_KEY_LENGTH) return `its key must have 1 to ${MAX_LEDGER_KEY_LENGTH} characters`;
  if (!Array.isArray(raw) || raw.length < 3) return `expected [fireTime, state, term], got ${describe(raw)}`;
  const [fireTime, code, term] = raw as unknown[];
  if (typeof fireTime !== 'number' || !Number.isSafeInteger(fireTime) || fireTime < 0) return `fire time ${describe(fireTime)} is not a time in ms`;
  if (typeof code !== 'string' || !Object.hasOwn(STATES_BY_CODE, code)) return `state ${describe(code)} is not "c", "s" or "f"`;
  if (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 0) return `term ${describe(term)} is not a whole number`;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
