import { ForbiddenException, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext, type Provider, type Type } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LeaderOnly, type LeaseOptions } from '../lib/index.js';
import type { LeaderElectionControlOptions } from '../lib/control-http/index.js';
import { startControlApp, type ControlApp } from './support/control-app.js';
import { LeaseCandidates } from './support/lease-candidates.js';
import { REPO_ROOT } from './support/repo-root.js';
import { cronJob, RunRecorder } from './support/recorded-jobs.js';

/**
 * The dashboard of LeaderElectionControlModule in a real headless browser (Debian's chromium,
 * driven by playwright-core), served by real Nest apps electing on the test apiserver: what an
 * operator sees, and what the buttons do to the Lease. The browser may reach 127.0.0.1 only: a
 * request anywhere else (a CDN, a font) fails the test, as does any error or CSP report in the page.
 *
 * DASHBOARD_SCREENSHOT=1 also writes docs/images/dashboard.png (the picture in docs/operating-jobs.md).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(`test/control-dashboard.spec.ts is skipped: no browser at ${CHROMIUM}. Install Debian's chromium (apt-get install -y chromium; .ci/run does), or set CHROMIUM_PATH.`);
}
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT === '1';

/** The flags of a browser on a machine with no network: nothing of its own to fetch, no first-run work. */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

const FAST: Partial<LeaseOptions> = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
const JOB = 'report';
const TOKEN = 'correct horse battery staple';

@Injectable()
class AllowGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/** The guard an app would write: a bearer token, 401 without one, 403 for a wrong one. */
@Injectable()
class BearerTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization;
    if (header === undefined) throw new UnauthorizedException('Send Authorization: Bearer <token>.');
    if (header !== `Bearer ${TOKEN}`) throw new ForbiddenException('This bearer token may not steer jobs.');
    return true;
  }
}

/** The jobs of the first test, as an app names them: a report every second, and billing's own election. */
function appJobs(identity: string): Type[] {
  @Injectable()
  class ReportJob {
    @Cron('* * * * * *', { name: JOB })
    @LeaderOnly()
    report(): void {
      recorder.record(identity, JOB);
    }
  }
  @Injectable()
  class InvoiceJobs {
    @Cron('0 */15 * * * *', { name: 'close-invoices' })
    @LeaderOnly({ election: 'billing', missedRuns: 'runOnce' })
    closeInvoices(): void {
      recorder.record(identity, 'close-invoices');
    }
  }
  return [ReportJob, InvoiceJobs];
}

const recorder = new RunRecorder();
const cluster = new LeaseCandidates('dashboard-lease');
const apps: ControlApp[] = [];
let profile: string;
let browser: BrowserContext;
let page: Page;
/** Requests the page tried off 127.0.0.1, and errors it logged: both must stay empty. */
let offHost: string[];
let pageErrors: string[];

describe.skipIf(!HAVE_CHROMIUM)('the dashboard in headless chromium', () => {
  beforeAll(async () => {
    profile = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 760 },
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
  });

  beforeEach(async () => {
    recorder.clear();
    offHost = [];
    pageErrors = [];
    await cluster.setUp();
    page = await browser.newPage();
    await page.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1') return route.continue();
      offHost.push(route.request().url());
      return route.abort();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterEach(async () => {
    await page?.close();
    await Promise.all(apps.splice(0).map((started) => started.app.close()));
    await cluster.tearDown();
    expect(offHost).toEqual([]);
  });

  /** A pod with one job, 'report'; or with `appJobs` and a second election, 'billing'. */
  async function pod(identity: string, control: LeaderElectionControlOptions, cron = '* * * * * *', providers?: Provider[]): Promise<ControlApp> {
    const billing = { backend: 'lease' as const, lease: { ...FAST, name: 'dashboard-billing-lease' } };
    const started = await startControlApp({
      identity,
      cluster,
      lease: FAST,
      module: providers === undefined ? {} : { elections: { billing } },
      control,
      providers: providers ?? [cronJob({ recorder, identity }, cron, JOB)],
    });
    apps.push(started);
    cluster.timeline.track(identity, started.leader);
    return started;
  }

  const row = () => page.locator(`tr[data-job="${JOB}"]`);
  const rowText = async () => (await row().textContent()) ?? '';
  const outcome = async () => (await page.locator('#outcome').textContent()) ?? '';

  it('shows the election and the job with its runs; pause (with a note), resume and run now steer it through the Lease', async () => {
    const a = await pod('pod-a', { mutations: { guard: AllowGuard } }, undefined, appJobs('pod-a'));
    await cluster.timeline.until(() => a.leader.isLeader());
    await expect.poll(() => a.leader.isLeader('billing'), { timeout: 10_000 }).toBe(true); // the timeline follows 'default' only
    const b = await pod('pod-b', { mutations: { guard: AllowGuard } }, undefined, appJobs('pod-b'));
    await cluster.timeline.until(() => b.leader.leader() === 'pod-a');
    await expect.poll(() => b.leader.leader('billing'), { timeout: 10_000 }).toBe('pod-a');
    await recorder.waitFor(() => recorder.runs.length >= 2);

    // Served by the follower: it knows the leader, the term and the runs from the Lease.
    await page.goto(`${b.url}/leader`);
    await page.getByRole('heading', { name: 'Election default' }).waitFor();
    // A section, with its heading and table, per election.
    expect(await page.getByRole('heading', { level: 2 }).allTextContents()).toEqual(['Access', 'Election default', 'Election billing']);
    expect(await page.locator('tr[data-job="close-invoices"]').textContent()).toMatch(/close-invoicesInvoiceJobs\.closeInvoices0 \*\/15 \* \* \* \*cron/);
    const facts = (await page.locator('dl.facts').first().textContent()) ?? '';
    expect(facts).toContain('Leaderpod-a');
    expect(facts).toContain('Term0');
    expect(facts).toContain('This podpod-b (a follower)');
    expect(facts).toContain('Healthhealthy');
    expect(await page.locator('#identity').textContent()).toBe('pod-b');
    await page.getByRole('table', { name: 'Jobs of election default' }).waitFor();
    await expect.poll(rowText).toMatch(/succeeded.*scheduled on pod-a, term 0/);
    expect(await rowText()).toMatch(/^reportReportJob\.report\* \* \* \* \* \*cron/);
    expect(await row().locator('td').nth(1).locator('time').count()).toBe(3); // the next three fire times
    expect(await page.locator('#access').isVisible()).toBe(true);

    // Pause: the button asks for a note in a dialog.
    await page.getByRole('button', { name: `Pause: ${JOB}` }).click();
    const dialog = page.getByRole('dialog', { name: `Pause ${JOB}` });
    await dialog.waitFor();
    await dialog.getByLabel('Note (why, for whoever looks next)').fill('database migration');
    await dialog.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(outcome).toBe(`Paused ${JOB} (note: database migration). Its ticks are skipped on every pod until it is resumed.`);
    await expect.poll(rowText).toMatch(/Paused by pod-b at .*Note: database migration/);
    // The leader, another process's view of the Lease, has it too.
    const report = () => a.leader.jobs().find((job) => job.key === JOB)!;
    await expect.poll(() => report().paused).toMatchObject({ by: 'pod-b', note: 'database migration' });

    await page.getByRole('button', { name: `Resume: ${JOB}` }).click();
    await expect.poll(outcome).toBe(`Resumed ${JOB}.`);
    await expect.poll(rowText).toContain('Active');
    await expect.poll(() => report().paused).toBeNull();

    await page.getByRole('button', { name: `Run now: ${JOB}` }).click();
    await expect.poll(outcome).toMatch(new RegExp(`^Run now of ${JOB}: succeeded on pod-a, term 0, fire time .+\\. Request [0-9a-f]{16}\\.$`));
    await expect.poll(rowText).toMatch(/succeeded.*manual on pod-a, term 0/);
    expect(recorder.runs.filter((run) => run.context.kind === 'manual')).toEqual([expect.objectContaining({ identity: 'pod-a' })]);

    if (SCREENSHOT) {
      // What an operator sees mid-incident: a job paused with its note, its runs of each kind.
      await page.getByRole('button', { name: `Pause: ${JOB}` }).click();
      await dialog.getByLabel('Note (why, for whoever looks next)').fill('billing DB migration, back at 14:00 (ops-1234)');
      await dialog.getByRole('button', { name: 'Pause' }).click();
      await expect.poll(rowText).toContain('ops-1234');
      await mkdir(join(REPO_ROOT, 'docs/images'), { recursive: true });
      await page.screenshot({ path: join(REPO_ROOT, 'docs/images/dashboard.png'), fullPage: true });
    }
    expect(pageErrors).toEqual([]);
  });

  it("sends the bearer token the user pasted (kept in this tab's sessionStorage); without it the guard's refusal shows", async () => {
    const a = await pod('pod-a', { mutations: { guard: BearerTokenGuard } }, '0 0 0 1 1 *');
    await cluster.timeline.until(() => a.leader.isLeader());
    await page.goto(`${a.url}/leader`);
    await row().waitFor();

    await page.getByRole('button', { name: `Run now: ${JOB}` }).click();
    await expect.poll(outcome).toBe(`Run of ${JOB} failed: 401 Unauthorized: Send Authorization: Bearer <token>.`);
    await page.getByLabel('Bearer token').fill('wrong');
    await page.getByRole('button', { name: 'Use this token' }).click();
    await page.getByRole('button', { name: `Run now: ${JOB}` }).click();
    await expect.poll(outcome).toBe(`Run of ${JOB} failed: 403 Forbidden: This bearer token may not steer jobs.`);
    expect(recorder.runs).toHaveLength(0);

    await page.getByLabel('Bearer token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use this token' }).click();
    expect(await page.locator('#token-state').textContent()).toBe('A token is set for this tab.');
    expect(await page.evaluate("sessionStorage.getItem('nestjs-cluster-leader:bearer-token')")).toBe(TOKEN);
    await page.getByRole('button', { name: `Run now: ${JOB}` }).click();
    await expect.poll(outcome).toMatch(new RegExp(`^Run now of ${JOB}: succeeded on pod-a, term 0`));
    expect(recorder.runs).toHaveLength(1);

    await page.getByRole('button', { name: 'Forget the token' }).click();
    expect(await page.evaluate("sessionStorage.getItem('nestjs-cluster-leader:bearer-token')")).toBeNull();
    // The 401 and 403 answers are logged by the browser as failed requests; nothing else is.
    expect(pageErrors.filter((error) => !/status of 40[13]/.test(error))).toEqual([]);
  });

  it('without mutations: the page shows no button and no token field, and a POST answers 405', async () => {
    const a = await pod('pod-a', {});
    await cluster.timeline.until(() => a.leader.isLeader());
    await recorder.waitFor(() => recorder.runs.length >= 1);
    await page.goto(`${a.url}/leader`);
    await expect.poll(rowText).toMatch(/succeeded.*scheduled on pod-a/);

    expect(await page.locator('#mode').textContent()).toBe('Read-only: this app serves no pause, resume or run.');
    expect(await page.getByRole('button').count()).toBe(0);
    expect(await page.locator('#access').isVisible()).toBe(false);
    expect(await page.getByRole('columnheader').allTextContents()).toEqual(['Job', 'Schedule', 'Next fire times', 'State', 'Last runs (any pod)']);
    // As the page's own script would send it (the test's tsconfig has no DOM types: an expression).
    const status = await page.evaluate(`fetch(location.pathname + '/api/jobs/${JOB}/pause', { method: 'POST' }).then((response) => response.status)`);
    expect(status).toBe(405);
    expect(a.leader.jobs()[0]!.paused).toBeNull();
    expect(pageErrors.filter((error) => !/status of 405/.test(error))).toEqual([]);
  });
});
