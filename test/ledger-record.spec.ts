import { describe, expect, it } from 'vitest';
import { decodeLedger, encodeLedger, isLaterEntry, LEDGER_VERSION, MAX_LEDGER_BYTES, type LedgerEntry } from '../lib/ledger/ledger-record.js';

const entry = (fireTime: number, state: LedgerEntry['state'] = 'succeeded', term = 3): LedgerEntry => ({ fireTime, state, term });

describe('the ledger annotation', () => {
  it('round-trips every state, compactly, with sorted keys', () => {
    const ledger = new Map([
      ['Reports.daily', entry(1_767_225_600_000, 'claimed', 7)],
      ['Billing.hourly', entry(1_767_229_200_000, 'failed', 0)],
      ['__proto__', entry(1_767_232_800_000, 'succeeded', 12)],
    ]);
    const { value, evicted } = encodeLedger(ledger);
    expect(evicted).toEqual([]);
    expect(value).toBe('{"v":1,"j":{"Billing.hourly":[1767229200000,"f",0],"Reports.daily":[1767225600000,"c",7],"__proto__":[1767232800000,"s",12]}}');
    expect(decodeLedger(value)).toMatchObject({ ledger, problems: [], readOnly: false });
  });

  it('reads an absent or empty annotation as an empty ledger, without a problem', () => {
    for (const value of [undefined, null, '']) expect(decodeLedger(value)).toMatchObject({ ledger: new Map(), problems: [], readOnly: false });
  });

  it.each([
    { value: '{"v":1,"j":', problem: /not JSON/ },
    { value: '[1,2]', problem: /not a JSON object/ },
    { value: '{"j":{}}', problem: /no valid version \(v: undefined\)/ },
    { value: '{"v":"1","j":{}}', problem: /no valid version/ },
    { value: '{"v":1,"j":[]}', problem: /jobs \(j\) are \[\], not an object/ },
  ])('never throws on $value: an empty ledger and what was wrong', ({ value, problem }) => {
    const decoded = decodeLedger(value);
    expect(decoded.ledger.size).toBe(0);
    expect(decoded.problems).toEqual([expect.stringMatching(problem)]);
  });

  it('keeps the valid entries and names each invalid one', () => {
    const decoded = decodeLedger(JSON.stringify({
      v: 1,
      j: {
        'Good.one': [1000, 's', 1],
        'Bad.time': [-5, 's', 1],
        'Bad.float': [1.5, 's', 1],
        'Bad.state': [1000, 'x', 1],
        'Bad.term': [1000, 'c', -1],
        'Bad.shape': { f: 1000 },
        'Short.tuple': [1000, 's'],
        '': [1000, 's', 1],
      },
    }));
    expect([...decoded.ledger]).toEqual([['Good.one', entry(1000, 'succeeded', 1)]]);
    expect(decoded.problems).toHaveLength(7);
    expect(decoded.problems).toContainEqual(expect.stringContaining('"Bad.state": state "x" is not "c", "s" or "f"'));
    expect(decoded.problems).toContainEqual(expect.stringContaining('"Bad.time": fire time -5 is not a time in ms'));
  });

  it('keeps fields it does not know, and extra tuple members, and writes them back as they were (issue 18.11)', () => {
    const value = '{"v":1,"x":true,"j":{"A.b":[1000,"s",2,"future",{"n":1}],"C.d":[5,"c",1]}}';
    const decoded = decodeLedger(value);
    expect(decoded).toMatchObject({ problems: [], readOnly: false, document: { version: 1, unknownFields: { x: true } } });
    expect(decoded.ledger.get('A.b')).toEqual({ ...entry(1000, 'succeeded', 2), extra: ['future', { n: 1 }] });
    expect(encodeLedger(decoded.ledger, undefined, decoded.document).value).toBe('{"v":1,"x":true,"j":{"A.b":[1000,"s",2,"future",{"n":1}],"C.d":[5,"c",1]}}');
  });

  it('reads and writes a newer format that lets this version write it (c at or below its own), keeping its marks', () => {
    const decoded = decodeLedger(`{"v":${LEDGER_VERSION + 1},"c":${LEDGER_VERSION},"j":{"A.b":[1000,"s",2]},"h":[1]}`);
    expect(decoded).toMatchObject({ readOnly: false, newerVersion: LEDGER_VERSION + 1, problems: [] });
    expect(decoded.ledger.get('A.b')).toEqual(entry(1000, 'succeeded', 2));
    const rewritten = encodeLedger(new Map([...decoded.ledger, ['E.f', entry(7, 'claimed', 3)]]), undefined, decoded.document).value;
    expect(JSON.parse(rewritten)).toEqual({ v: LEDGER_VERSION + 1, c: LEDGER_VERSION, h: [1], j: { 'A.b': [1000, 's', 2], 'E.f': [7, 'c', 3] } });
  });

  it('refuses a newer format that does not let this version write it, rather than reading it as empty: the caller must not claim', () => {
    for (const value of [`{"v":${LEDGER_VERSION + 1},"j":{"A.b":[1000,"s",2]}}`, `{"v":${LEDGER_VERSION + 1},"c":${LEDGER_VERSION + 1},"j":{}}`]) {
      const decoded = decodeLedger(value);
      expect(decoded.ledger.size).toBe(0);
      expect(decoded).toMatchObject({ readOnly: true, newerVersion: LEDGER_VERSION + 1 });
      expect(decoded.problems).toEqual([expect.stringContaining('not claiming until this pod is updated')]);
    }
  });

  it('orders a job\'s entries: a later fire time, then a later term (a rerun), then a finished run after its claim', () => {
    expect(isLaterEntry(entry(2000, 'claimed', 0), entry(1000, 'succeeded', 9))).toBe(true);
    expect(isLaterEntry(entry(1000, 'claimed', 4), entry(1000, 'succeeded', 3))).toBe(true);
    expect(isLaterEntry(entry(1000, 'succeeded', 3), entry(1000, 'claimed', 3))).toBe(true);
    expect(isLaterEntry(entry(1000, 'failed', 3), entry(1000, 'claimed', 3))).toBe(true);
    expect(isLaterEntry(entry(1000, 'claimed', 3), entry(1000, 'succeeded', 3))).toBe(false);
    expect(isLaterEntry(entry(1000, 'succeeded', 3), entry(1000, 'succeeded', 3))).toBe(false);
  });

  it('stays within its size bound by evicting the jobs with the oldest claims', () => {
    const ledger = new Map<string, LedgerEntry>();
    for (let i = 0; i < 2_000; i++) ledger.set(`SomeFairlyLongJobClassName.method${String(i).padStart(4, '0')}`, entry(1_767_225_600_000 + i * 1000, 'succeeded', 9));
    const { value, evicted } = encodeLedger(ledger);
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_LEDGER_BYTES);
    expect(Buffer.byteLength(value)).toBeGreaterThan(MAX_LEDGER_BYTES - 100);
    expect(evicted.length).toBeGreaterThan(0);
    // The oldest claims went first, in order.
    expect(evicted).toEqual([...ledger.keys()].slice(0, evicted.length));
    const decoded = decodeLedger(value);
    expect(decoded.ledger.size).toBe(ledger.size - evicted.length);
    console.info(`a ${MAX_LEDGER_BYTES}-byte ledger holds ${decoded.ledger.size} entries with 40-character keys`);
  });

  it('evicts exactly enough at a small bound', () => {
    const ledger = new Map([['a', entry(3000)], ['b', entry(1000)], ['c', entry(2000)]]);
    const full = encodeLedger(ledger).value;
    const { value, evicted } = encodeLedger(ledger, Buffer.byteLength(full) - 1);
    expect(evicted).toEqual(['b']);
    expect([...decodeLedger(value).ledger.keys()]).toEqual(['a', 'c']);
    expect(encodeLedger(ledger, 10)).toEqual({ value: '{"v":1,"j":{}}', evicted: ['b', 'c', 'a'] });
  });
});
