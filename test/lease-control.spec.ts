import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  decodeHistory,
  decodePause,
  HISTORY_ANNOTATION,
  PAUSED_PREFIX,
  pauseAnnotation,
  REQUEST_PREFIX,
  RESULTS_ANNOTATION,
  type RequestResult,
} from '../lib/control/control-record.js';
import { LeaseControl, withAnnotations } from '../lib/electors/lease/lease-control.js';

/** The control state as one process reads and writes it (issue 14): pure, Leases are plain objects. */

const lease = (annotations: Record<string, string> = {}): V1Lease => ({ metadata: { name: 'l', resourceVersion: '1', annotations }, spec: {} });
const run = (startedAt: number, extra: object = {}) => ({ fireTime: startedAt, pod: 'pod-a', term: 1, startedAt, kind: 'scheduled' as const, ...extra });

describe('pauseAnnotation', () => {
  it('is paused.<key> when that is a valid annotation name, else a readable part and a hash, always valid', () => {
    expect(pauseAnnotation('report')).toBe(`${PAUSED_PREFIX}report`);
    expect(pauseAnnotation('BillingJobs.closeHourly')).toBe(`${PAUSED_PREFIX}BillingJobs.closeHourly`);
    for (const key of ['a key with spaces', 'x'.repeat(200), 'é', '-lead-and-trail-', 'Reports:daily/EU']) {
      const name = pauseAnnotation(key).slice('nestjs-cluster-leader/'.length);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
      expect(pauseAnnotation(key)).not.toBe(pauseAnnotation(`${key}2`));
    }
  });

  it('reads a pause written by a person as its note', () => {
    expect(decodePause('database migration')).toEqual({ by: null, at: null, note: 'database migration' });
    expect(decodePause('{"by":"alice","at":5,"note":"n"}')).toEqual({ by: 'alice', at: 5, note: 'n' });
  });
});

describe('LeaseControl', () => {
  it('reads pauses and waiting requests from the Lease', () => {
    const control = new LeaseControl(() => {});
    control.seen(lease({
      [pauseAnnotation('report')]: 'by hand',
      [`${REQUEST_PREFIX}b`]: '{"job":"report","kind":"run","by":"pod-b","at":2}',
      [`${REQUEST_PREFIX}a`]: '{"job":"report","kind":"run","by":"pod-b","at":1}',
      [`${REQUEST_PREFIX}bad`]: 'not json',
    }));
    expect(control.pauseOf('report')?.note).toBe('by hand');
    expect(control.requests().map((request) => request.id)).toEqual(['a', 'b']);
  });

  it("a follower's write carries its changes only; the leader's carries results and history", () => {
    const control = new LeaseControl(() => {});
    void control.pause('report', { by: 'pod-b', at: 1, note: '' });
    control.recordRun('report', run(10));
    const follower = control.prepare(lease(), { leading: false });
    expect(Object.keys(follower.edits)).toEqual([pauseAnnotation('report')]);
    const leader = control.prepare(lease(), { leading: true });
    expect(Object.keys(leader.edits).sort()).toEqual([HISTORY_ANNOTATION, pauseAnnotation('report')].sort());
  });

  it('a run recorded while a write is out stays for the next write', () => {
    const control = new LeaseControl(() => {});
    control.recordRun('report', run(10));
    const write = control.prepare(lease(), { leading: true });
    control.recordRun('report', run(20)); // the write is out
    control.written(write);
    const next = control.prepare(withAnnotations(lease(), write.edits), { leading: true });
    expect(decodeHistory(next.edits[HISTORY_ANNOTATION]!).get('report')!.map((r) => r.startedAt)).toEqual([20, 10]);
  });

  it('a request is taken only when a write of the term carried it and the term is confirmed; a term that ends first takes nothing', async () => {
    const control = new LeaseControl(() => {});
    const request = { id: 'r1', job: 'report', kind: 'run' as const, by: 'pod-b', at: 1 };
    control.seen(lease({ [`${REQUEST_PREFIX}r1`]: '{"job":"report","kind":"run","by":"pod-b","at":1}' }));
    const result: RequestResult = { id: 'r1', job: 'report', kind: 'run', state: 'running', pod: 'pod-a', term: 1, startedAt: 5 };
    const taken = control.take(request, result);
    expect(control.requests()).toEqual([]); // not taken twice meanwhile
    const write = control.prepare(lease(), { leading: true });
    expect(write.edits).toMatchObject({ [`${REQUEST_PREFIX}r1`]: null, [RESULTS_ANNOTATION]: expect.stringContaining('"r1"') });
    control.written(write);
    control.confirm();
    expect(await taken).toBe(true);
    const second = control.take({ ...request, id: 'r2' }, { ...result, id: 'r2' });
    control.written(control.prepare(lease(), { leading: true }));
    control.endTerm();
    expect(await second).toBe(false);
  });

  it('a pause waits for a write, and fails with the reason when it cannot be written', async () => {
    const control = new LeaseControl(() => {});
    const pause = control.pause('report', { by: 'pod-b', at: 1, note: '' });
    control.failChanges(new Error('the Kubernetes API failed (503)'));
    await expect(pause).rejects.toThrow('503');
    expect(control.hasChanges).toBe(false);
  });

  it('re-creates the control state it last saw', () => {
    const control = new LeaseControl(() => {});
    control.seen(lease({ [pauseAnnotation('report')]: 'kept', [HISTORY_ANNOTATION]: '{"v":1,"h":{}}', other: 'x' }));
    expect(control.carriedOver()).toEqual({ [pauseAnnotation('report')]: 'kept', [HISTORY_ANNOTATION]: '{"v":1,"h":{}}' });
  });
});
