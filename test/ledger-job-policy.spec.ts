import { describe, expect, it } from 'vitest';
import { LeaderOnlySetupError, type LeaderOnlyOptions } from '../lib/index.js';
import { assertDistinctLedgerKeys, claimsTicks, optionsNotInForce, resolveJobPolicy } from '../lib/ledger/job-policy.js';
import type { JobSchedule } from '../lib/ledger/job-schedule.js';

const cron: JobSchedule = { kind: 'cron', cronTime: '0 0 * * * *', timeZone: 'UTC', disabled: false, waitForCompletion: false };
const interval: JobSchedule = { kind: 'interval', ms: 5_000 };
const timeout: JobSchedule = { kind: 'timeout', ms: 1_000 };
const none: JobSchedule = { kind: 'none' };

function setupError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(LeaderOnlySetupError);
    return (error as Error).message;
  }
  throw new Error('expected a LeaderOnlySetupError');
}

describe('resolveJobPolicy', () => {
  it('claims @Cron and @Interval ticks by default, skipping missed runs and overlaps', () => {
    const policy = resolveJobPolicy('Jobs.hourly', {}, cron);
    expect(policy).toMatchObject({
      job: 'Jobs.hourly', ledgerKey: 'Jobs.hourly', claim: true, missedRuns: 'skip', maxMissedRuns: 10,
      startingDeadlineMs: undefined, interruptedRun: 'skip', overlap: 'skip', leaseOnlyOptions: [],
    });
    expect(policy.fireTimes?.next(Date.parse('2026-05-01T10:30:00Z'))).toBe(Date.parse('2026-05-01T11:00:00Z'));
    expect(resolveJobPolicy('Jobs.poll', {}, interval)).toMatchObject({ claim: true, fireTimes: undefined });
  });

  it('does not claim @Timeout or unscheduled jobs, which keep overlap (allowed by default for a method called by hand)', () => {
    expect(resolveJobPolicy('Jobs.warmUp', { overlap: 'allow' }, timeout)).toMatchObject({ claim: false, overlap: 'allow' });
    expect(resolveJobPolicy('Jobs.warmUp', {}, timeout)).toMatchObject({ claim: false, overlap: 'skip' });
    expect(resolveJobPolicy('Jobs.byHand', {}, none)).toMatchObject({ claim: false, overlap: 'allow' });
    expect(resolveJobPolicy('Jobs.byHand', { overlap: 'skip' }, none)).toMatchObject({ claim: false, overlap: 'skip' });
  });

  it('does not claim an @Interval() faster than a second unless asked to', () => {
    const fast = { kind: 'interval', ms: 20 } as const;
    expect(resolveJobPolicy('Jobs.fast', {}, fast).claim).toBe(false);
    expect(resolveJobPolicy('Jobs.fast', { claim: true }, fast).claim).toBe(true);
    expect(resolveJobPolicy('Jobs.fast', { missedRuns: 'runOnce' }, fast).claim).toBe(true);
    expect(resolveJobPolicy('Jobs.slow', {}, { kind: 'interval', ms: 1_000 }).claim).toBe(true);
  });

  it('keys the ledger by the scheduler name when there is one', () => {
    expect(resolveJobPolicy('Jobs.hourly', {}, { ...cron, name: 'hourly-invoices' }).ledgerKey).toBe('hourly-invoices');
  });

  it('takes every option, and lists those only the lease backend can honour', () => {
    const options: LeaderOnlyOptions = { claim: true, missedRuns: 'runEach', maxMissedRuns: 3, startingDeadlineMs: 60_000, interruptedRun: 'rerun', overlap: 'allow' };
    expect(resolveJobPolicy('Jobs.hourly', options, cron)).toMatchObject({
      ...options,
      leaseOnlyOptions: ['claim: true', "missedRuns: 'runEach'", 'maxMissedRuns: 3', 'startingDeadlineMs: 60000', "interruptedRun: 'rerun'"],
    });
  });

  it.each<{ name: string; options: unknown; schedule?: JobSchedule; message: string }>([
    { name: 'an unknown option, with the likely one', options: { missedRun: 'skip' }, message: "Jobs.job: @LeaderOnly() has no option `missedRun`; did you mean `missedRuns`?" },
    { name: 'a misspelt policy', options: { missedRuns: 'runAll' }, message: "Jobs.job: @LeaderOnly({ missedRuns }) is 'runAll'. Use one of 'skip', 'runOnce', 'runEach'." },
    { name: 'a non-boolean claim', options: { claim: 'yes' }, message: "@LeaderOnly({ claim }) is 'yes'. Use true or false." },
    { name: 'a fractional deadline', options: { startingDeadlineMs: 1.5 }, message: '@LeaderOnly({ startingDeadlineMs }) is 1.5. Use a whole number 1 or more (milliseconds).' },
    { name: 'too many missed runs', options: { missedRuns: 'runEach', maxMissedRuns: 5_000 }, message: '@LeaderOnly({ maxMissedRuns }) is 5000. Use a whole number from 1 to 1000.' },
    { name: 'maxMissedRuns without a catch-up', options: { maxMissedRuns: 3 }, message: "It bounds a catch-up, and missedRuns is 'skip'" },
    { name: 'a claim option with claims off', options: { claim: false, missedRuns: 'runOnce' }, message: "@LeaderOnly({ missedRuns }) acts on claimed ticks, but claims are off (claim: false). Remove `missedRuns`, or remove `claim: false`." },
    { name: 'runEach on an interval', options: { missedRuns: 'runEach' }, schedule: interval, message: "@LeaderOnly({ missedRuns: 'runEach' }) is not available for @Interval(): an interval has no fixed fire times" },
    { name: 'rerun on an interval', options: { interruptedRun: 'rerun' }, schedule: interval, message: "@LeaderOnly({ interruptedRun: 'rerun' }) is not available for @Interval()" },
    { name: 'claims on a timeout', options: { claim: true }, schedule: timeout, message: '@LeaderOnly({ claim: true }) needs scheduled fire times, but an @Timeout() fires once per process' },
    { name: 'misfires on a timeout', options: { missedRuns: 'runOnce' }, schedule: timeout, message: '@LeaderOnly({ missedRuns }) needs scheduled fire times, but an @Timeout()' },
    { name: 'claims on an unscheduled method', options: { interruptedRun: 'rerun' }, schedule: none, message: 'no @Cron() or @Interval() schedules this method' },
    { name: 'an invalid cron expression', options: {}, schedule: { ...cron, cronTime: '61 * * * * *' }, message: 'Jobs.job: its @Cron() schedule cannot be computed (Field value (61) is out of range)' },
    { name: 'an unknown time zone', options: {}, schedule: { ...cron, timeZone: 'Europe/Atlantis' }, message: 'cannot be computed (Invalid timezone.)' },
  ])('rejects $name, naming the job, the option, the value and the fix', ({ options, schedule, message }) => {
    expect(setupError(() => resolveJobPolicy('Jobs.job', options as LeaderOnlyOptions, schedule ?? cron))).toContain(message);
  });

  it('does not compile the cron expression of a job that does not claim', () => {
    expect(resolveJobPolicy('Jobs.job', { claim: false }, { ...cron, cronTime: '61 * * * * *' }).claim).toBe(false);
  });
});

describe('optionsNotInForce', () => {
  it('is empty on the lease backend, and for the defaults everywhere, where jobs simply do not claim', () => {
    const explicit = resolveJobPolicy('Jobs.hourly', { missedRuns: 'runOnce' }, cron);
    expect(optionsNotInForce(explicit, 'lease')).toEqual([]);
    const defaults = resolveJobPolicy('Jobs.hourly', { overlap: 'allow' }, cron);
    for (const backend of ['sidecar', 'standalone'] as const) {
      expect(optionsNotInForce(defaults, backend)).toEqual([]);
      expect(claimsTicks(defaults, backend)).toBe(false);
    }
    expect(claimsTicks(defaults, 'lease')).toBe(true);
  });

  it('names, with their values, the options that need the Lease on another backend, which accepts them and does not claim', () => {
    const policy = resolveJobPolicy('Jobs.hourly', { claim: true, startingDeadlineMs: 30_000 }, cron);
    for (const backend of ['sidecar', 'standalone'] as const) {
      expect(optionsNotInForce(policy, backend)).toEqual(['claim: true', 'startingDeadlineMs: 30000']);
      expect(claimsTicks(policy, backend)).toBe(false);
    }
  });
});

describe('assertDistinctLedgerKeys', () => {
  it('rejects two claiming jobs of one election with one key, and allows it across elections', () => {
    const a = resolveJobPolicy('Billing.run', {}, cron);
    const b = resolveJobPolicy('Billing.run', {}, cron);
    expect(() => assertDistinctLedgerKeys([{ election: 'default', policy: a }, { election: 'reports', policy: b }])).not.toThrow();
    expect(setupError(() => assertDistinctLedgerKeys([{ election: 'default', policy: a }, { election: 'default', policy: b }]))).toContain(
      'Billing.run and Billing.run would share the ledger entry "Billing.run"',
    );
  });
});
