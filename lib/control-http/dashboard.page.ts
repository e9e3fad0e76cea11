import { createHash } from 'node:crypto';

/*
 * The dashboard of LeaderElectionControlModule: one HTML page with its style and script inline,
 * no framework, nothing fetched but the module's own JSON API (relative to the page's address), so
 * it works offline and behind any path prefix. It lives in a .ts file so that it ships inside
 * dist/ and every copy of the compiled library (no asset to copy). The script is plain ES2020: no
 * backtick and no dollar-brace in it, since it sits in a String.raw template.
 *
 * Data from the API (job names, notes, pod names) only ever goes into the page as text
 * (textContent), never as HTML. The Content-Security-Policy served with it allows exactly this
 * style and this script (by hash) and requests to the page's own origin.
 */

const STYLE = String.raw`
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6470; --bg: #ffffff; --panel: #f5f7f9; --line: #d5dbe1;
  --accent: #0b5cad; --ok: #1a7f37; --bad: #b42318; --warn: #9a6700; --paused-bg: #fff4d6; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ed; --muted: #9aa4b0; --bg: #14171a; --panel: #1d2226; --line: #343b42;
  --accent: #6cb2ff; --ok: #4ac26b; --bad: #ff7b72; --warn: #d4a72c; --paused-bg: #3a3016; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
header, main { max-width: 1200px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 28px 0 8px; }
p { margin: 6px 0; }
.muted, .sub { color: var(--muted); }
.sub { font-size: 0.85em; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.9em; }
code.cron { white-space: nowrap; }
time { white-space: nowrap; }
#access { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin-top: 14px; }
#access h2 { margin: 0 0 4px; font-size: 1rem; }
#access form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-top: 6px; }
input[type=password], input[type=text] { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); min-width: 18em; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--accent); background: var(--bg); color: var(--accent); cursor: pointer; }
button.primary { background: var(--accent); color: var(--bg); }
button:disabled { opacity: 0.45; cursor: not-allowed; }
button:focus-visible, input:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
#outcome { min-height: 1.5em; margin-top: 12px; padding: 6px 10px; border-left: 4px solid var(--accent); background: var(--panel); }
#outcome:empty { display: none; }
#outcome.error, #error { border-left-color: var(--bad); color: var(--bad); }
#error { margin-top: 12px; padding: 6px 10px; border-left: 4px solid var(--bad); background: var(--panel); }
dl.facts { display: flex; flex-wrap: wrap; gap: 4px 28px; margin: 0 0 10px; }
dl.facts div { display: flex; gap: 6px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; }
table { width: 100%; border-collapse: collapse; border: 1px solid var(--line); }
caption { text-align: left; color: var(--muted); padding: 4px 0; }
th, td { text-align: left; vertical-align: top; padding: 8px 10px; border-top: 1px solid var(--line); }
thead th { background: var(--panel); font-size: 0.85em; text-transform: uppercase; letter-spacing: 0.03em; color: var(--muted); }
tbody th { font-weight: 600; }
ul, ol { margin: 0; padding-left: 1.1em; }
li { margin: 1px 0; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600; border: 1px solid currentColor; }
.badge.paused { color: var(--warn); background: var(--paused-bg); }
.badge.running { color: var(--accent); }
.badge.active { color: var(--ok); }
.outcome-succeeded { color: var(--ok); font-weight: 600; }
.outcome-failed, .outcome-dropped { color: var(--bad); font-weight: 600; }
.outcome-interrupted, .outcome-running { color: var(--warn); font-weight: 600; }
.health-ok { color: var(--ok); }
.health-bad { color: var(--bad); }
td.actions { white-space: nowrap; }
td.actions button { margin: 0 4px 4px 0; }
dialog { border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; color: var(--fg); background: var(--bg); max-width: 32em; }
dialog::backdrop { background: rgba(0, 0, 0, 0.35); }
dialog h2 { margin-top: 0; }
dialog .buttons { display: flex; justify-content: flex-end; gap: 8px; margin-top: 12px; }
dialog label { display: block; margin: 8px 0 4px; }
dialog input { width: 100%; }
footer { max-width: 1200px; margin: 30px auto 20px; padding: 0 20px; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var REFRESH_MS = 3000;
  var TOKEN_KEY = 'nestjs-cluster-leader:bearer-token';
  var LAST_RUNS = 5;
  // Relative to this page, whatever path it is served at (and behind any proxy prefix).
  var api = location.pathname.replace(/\/+$/, '') + '/api/';
  var last = null;
  var busy = {};
  var pauseTarget = null;
  var timer = null;

  function byId(id) { return document.getElementById(id); }

  /** An element; strings become text, never HTML. */
  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (key) {
      var value = attributes[key];
      if (value === undefined || value === null || value === false) return;
      if (key === 'text') node.textContent = String(value);
      else if (key === 'className') node.className = value;
      else if (key.indexOf('on') === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.append(child);
    });
    return node;
  }

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (error) { return ''; }
  }

  /** A time as the reader's locale writes it: the time alone when it is today, else the date too; ISO 8601 on hover. */
  function time(iso) {
    if (!iso) return el('span', { className: 'muted', text: 'none' });
    var date = new Date(iso);
    var today = date.toDateString() === new Date().toDateString();
    return el('time', { datetime: iso, title: iso, text: today ? date.toLocaleTimeString() : date.toLocaleString() });
  }

  function duration(ms) {
    return ms % 1000 === 0 ? ms / 1000 + ' s' : ms + ' ms';
  }

  function scheduleCell(schedule) {
    switch (schedule.kind) {
      case 'cron':
        return el('td', {}, [
          el('code', { className: 'cron', text: schedule.cron }),
          el('div', { className: 'sub', text: 'cron' + (schedule.timeZone ? ', ' + schedule.timeZone : '') +
            (schedule.utcOffset !== undefined ? ', UTC offset ' + schedule.utcOffset : '') + (schedule.disabled ? ', disabled' : '') }),
        ]);
      case 'interval': return el('td', { text: 'every ' + duration(schedule.everyMs) });
      case 'timeout': return el('td', { text: 'once, ' + duration(schedule.afterMs) + ' after start' });
      default: return el('td', { text: 'no schedule (called directly)' });
    }
  }

  async function call(method, path, body) {
    var headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    var bearer = token();
    if (bearer) headers.Authorization = 'Bearer ' + bearer;
    var response = await fetch(api + path, {
      method: method, headers: headers, cache: 'no-store', credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    var text = await response.text();
    var data = null;
    try { data = text ? JSON.parse(text) : null; } catch (error) { data = null; }
    if (!response.ok) {
      var message = data && data.message ? [].concat(data.message).join('; ') : text || response.statusText;
      throw new Error(response.status + ' ' + (data && data.error ? data.error : response.statusText) + ': ' + message);
    }
    return data;
  }

  function outcomeText(outcome) {
    return el('span', { className: 'outcome-' + (outcome || 'running'), text: outcome || 'running' });
  }

  function runItem(run) {
    return el('li', {}, [
      time(run.fireTime), ' ', outcomeText(run.outcome), ' ',
      el('span', { className: 'sub', text: run.kind + ' on ' + run.pod + (run.term === null ? '' : ', term ' + run.term) }),
    ]);
  }

  function stateCell(job) {
    var parts = [];
    if (job.paused) {
      var by = job.paused.by ? ' by ' + job.paused.by : '';
      parts.push(el('div', {}, [el('span', { className: 'badge paused', text: 'Paused' }), by, job.paused.at ? ' at ' : '', job.paused.at ? time(job.paused.at) : null]));
      if (job.paused.note) parts.push(el('div', {}, ['Note: ', el('q', { text: job.paused.note })]));
    } else {
      parts.push(el('span', { className: 'badge active', text: 'Active' }));
    }
    if (job.running.on) {
      parts.push(el('div', {}, [el('span', { className: 'badge running', text: 'Running' }), ' on ' + job.running.on + (job.running.since ? ' since ' : ''), job.running.since ? time(job.running.since) : null]));
    }
    if (!job.controllable) parts.push(el('div', { className: 'sub', text: 'Cannot be paused or run from here: its election does not use the Lease backend.' }));
    return el('td', {}, parts);
  }

  function actionsCell(job) {
    var disabled = !job.controllable || Boolean(busy[job.key]);
    var toggle = job.paused
      ? el('button', { type: 'button', 'aria-label': 'Resume: ' + job.key, 'data-focus': 'resume:' + job.key, disabled: disabled, onclick: function () { act(job.key, 'resume', undefined, 'Resume of ' + job.key); }, text: 'Resume' })
      : el('button', { type: 'button', 'aria-label': 'Pause: ' + job.key, 'data-focus': 'pause:' + job.key, 'aria-haspopup': 'dialog', disabled: disabled, onclick: function () { askPause(job.key); }, text: 'Pause' });
    var run = el('button', { type: 'button', className: 'primary', 'aria-label': 'Run now: ' + job.key, 'data-focus': 'run:' + job.key, disabled: disabled, onclick: function () { act(job.key, 'run', {}, 'Run of ' + job.key); }, text: busy[job.key] === 'run' ? 'Running…' : 'Run now' });
    return el('td', { className: 'actions' }, [toggle, run]);
  }

  function jobRow(job, mutations) {
    var next = job.nextFireTimes.length === 0 ? el('span', { className: 'muted', text: 'none' }) : el('ul', {}, job.nextFireTimes.map(function (iso) { return el('li', {}, [time(iso)]); }));
    var runs = job.lastRuns.length === 0 ? el('span', { className: 'muted', text: 'none yet' }) : el('ol', {}, job.lastRuns.slice(0, LAST_RUNS).map(runItem));
    return el('tr', { 'data-job': job.key }, [
      el('th', { scope: 'row' }, [el('div', { text: job.key }), job.name !== job.key ? el('div', { className: 'sub', text: job.name }) : null]),
      scheduleCell(job.schedule),
      el('td', {}, [next]),
      stateCell(job),
      el('td', {}, [runs, el('div', { className: 'sub', text: 'On this pod: ' + job.counters.runs + ' runs, ' + job.counters.skipped + ' skipped, ' + job.counters.failed + ' failed' })]),
      mutations ? actionsCell(job) : null,
    ]);
  }

  function electionSection(election, jobs, mutations) {
    var id = 'election-' + election.election.replace(/[^A-Za-z0-9_-]/g, '-');
    var facts = [
      ['Leader', election.leader || 'none known'],
      ['Term', election.term === null ? 'none' : String(election.term)],
      ['This pod', election.identity + (election.isLeader ? ' (the leader)' : ' (a follower)')],
    ].map(function (fact) { return el('div', {}, [el('dt', { text: fact[0] }), el('dd', { text: fact[1] })]); });
    facts.push(el('div', {}, [el('dt', { text: 'Health' }), el('dd', { className: election.healthy ? 'health-ok' : 'health-bad', text: election.healthy ? 'healthy' : 'unhealthy: ' + election.problem })]));
    if (election.lastApiError) {
      var apiError = election.lastApiError;
      facts.push(el('div', {}, [el('dt', { text: 'Last API error' }), el('dd', { text: apiError.verb + ' ' + apiError.code + ' ' + apiError.reason + ', ' + Math.round(apiError.agoMs / 1000) + ' s ago' })]));
    }
    var head = ['Job', 'Schedule', 'Next fire times', 'State', 'Last runs (any pod)'].concat(mutations ? ['Actions'] : []);
    var rows = jobs.length === 0
      ? [el('tr', {}, [el('td', { colspan: head.length, className: 'muted', text: 'No @LeaderOnly() job in this election.' })])]
      : jobs.map(function (job) { return jobRow(job, mutations); });
    return el('section', { 'aria-labelledby': id }, [
      el('h2', { id: id, text: 'Election ' + election.election }),
      el('dl', { className: 'facts' }, facts),
      el('table', {}, [
        el('caption', { text: 'Jobs of election ' + election.election }),
        el('thead', {}, [el('tr', {}, head.map(function (title) { return el('th', { scope: 'col', text: title }); }))]),
        el('tbody', {}, rows),
      ]),
    ]);
  }

  function render() {
    if (last === null) return;
    var focused = document.activeElement && document.activeElement.getAttribute('data-focus');
    var answer = last.elections;
    byId('identity').textContent = answer.identity;
    byId('mode').textContent = answer.mutations
      ? 'Pause, resume and run are on, behind the guard of the app.'
      : 'Read-only: this app serves no pause, resume or run.';
    byId('access').hidden = !answer.mutations;
    var sections = answer.elections.map(function (election) {
      return electionSection(election, last.jobs.filter(function (job) { return job.election === election.election; }), answer.mutations);
    });
    byId('elections').replaceChildren.apply(byId('elections'), sections);
    if (focused) {
      var again = Array.prototype.find.call(document.querySelectorAll('[data-focus]'), function (node) { return node.getAttribute('data-focus') === focused; });
      if (again) again.focus();
    }
    byId('updated').textContent = new Date().toLocaleTimeString();
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      var answers = await Promise.all([call('GET', 'elections'), call('GET', 'jobs')]);
      last = { elections: answers[0], jobs: answers[1] };
      byId('error').hidden = true;
      render();
    } catch (error) {
      byId('error').textContent = 'Could not refresh (' + error.message + '). ' + (last ? 'Showing the last answer; ' : '') + 'trying again.';
      byId('error').hidden = false;
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function announce(text, failed) {
    var outcome = byId('outcome');
    outcome.className = failed ? 'error' : '';
    outcome.textContent = text;
  }

  function describe(action, job, answer) {
    if (action === 'pause') return 'Paused ' + job + (answer.paused && answer.paused.note ? ' (note: ' + answer.paused.note + ')' : '') + '. Its ticks are skipped on every pod until it is resumed.';
    if (action === 'resume') return 'Resumed ' + job + '.';
    return 'Run now of ' + job + ': ' + answer.outcome + ' on ' + answer.pod + (answer.term === null ? '' : ', term ' + answer.term) +
      (answer.fireTime ? ', fire time ' + new Date(answer.fireTime).toLocaleString() : '') + (answer.reason ? ' (' + answer.reason + ')' : '') + '. Request ' + answer.id + '.';
  }

  async function act(job, action, body, label) {
    busy[job] = action;
    render();
    announce(label + ': waiting for the answer…');
    try {
      var answer = await call('POST', 'jobs/' + encodeURIComponent(job) + '/' + action, body);
      announce(describe(action, job, answer), action === 'run' && answer.outcome !== 'succeeded');
    } catch (error) {
      announce(label + ' failed: ' + error.message, true);
    } finally {
      delete busy[job];
      await refresh();
    }
  }

  function askPause(job) {
    pauseTarget = job;
    byId('pause-job').textContent = job;
    byId('pause-note').value = '';
    byId('pause-dialog').showModal();
    byId('pause-note').focus();
  }

  function showToken() {
    byId('token-state').textContent = token() ? 'A token is set for this tab.' : 'No token set.';
  }

  byId('pause-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var job = pauseTarget;
    var note = byId('pause-note').value;
    byId('pause-dialog').close();
    act(job, 'pause', { note: note }, 'Pause of ' + job);
  });
  byId('pause-cancel').addEventListener('click', function () { byId('pause-dialog').close(); });
  byId('token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var value = byId('token').value.trim();
    try { if (value) sessionStorage.setItem(TOKEN_KEY, value); } catch (error) { announce('This browser keeps no sessionStorage here: ' + error.message, true); }
    byId('token').value = '';
    showToken();
  });
  byId('forget').addEventListener('click', function () {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (error) { /* nothing kept */ }
    showToken();
  });
  showToken();
  refresh();
})();
`;

const BODY = String.raw`
<header>
  <h1>Cluster leader</h1>
  <p class="muted">Served by pod <strong id="identity">…</strong>, refreshed every 3 seconds (last: <span id="updated">not yet</span>). <span id="mode"></span></p>
</header>
<main>
  <noscript><p>This page needs JavaScript to read the app's API (<code>api/elections</code>, <code>api/jobs</code> below this address).</p></noscript>
  <section id="access" aria-labelledby="access-title" hidden>
    <h2 id="access-title">Access</h2>
    <p>Pause, resume and run pass through the app's guard. If it checks a bearer token, paste the token here once:
      this page keeps it in this tab's <code>sessionStorage</code> (gone when the tab closes) and sends it only to this app,
      as <code>Authorization: Bearer &lt;token&gt;</code>.</p>
    <form id="token-form">
      <label for="token">Bearer token</label>
      <input id="token" type="password" autocomplete="off" spellcheck="false">
      <button type="submit">Use this token</button>
      <button type="button" id="forget">Forget the token</button>
      <span id="token-state" class="muted"></span>
    </form>
  </section>
  <p id="outcome" role="status" aria-live="polite"></p>
  <p id="error" role="alert" hidden></p>
  <div id="elections"></div>
</main>
<footer class="sub">nestjs-cluster-leader: each job's state lives in its election's Lease, so every pod shows the same jobs and runs.</footer>
<dialog id="pause-dialog" aria-labelledby="pause-title">
  <form id="pause-form">
    <h2 id="pause-title">Pause <span id="pause-job"></span></h2>
    <p>Its ticks are skipped on every pod until it is resumed, across failovers.</p>
    <label for="pause-note">Note (why, for whoever looks next)</label>
    <input id="pause-note" type="text" autocomplete="off">
    <div class="buttons">
      <button type="button" id="pause-cancel">Cancel</button>
      <button type="submit" class="primary">Pause</button>
    </div>
  </form>
</dialog>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The page as served. */
export const DASHBOARD_PAGE =
  '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
  '<meta name="referrer" content="no-referrer">\n<title>Cluster leader: elections and jobs</title>\n' +
  `<style>${STYLE}</style>\n</head>\n<body>${BODY}<script>${SCRIPT}</script>\n</body>\n</html>\n`;

/** Its Content-Security-Policy: this style and this script only, requests to its own origin only. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
