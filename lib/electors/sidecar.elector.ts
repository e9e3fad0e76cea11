import { Logger } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ElectionState } from '../leadership/election-state.js';
import { monotonicNow } from '../leadership/monotonic-clock.js';
import { clampDelay } from '../leadership/timers.js';
import { SIDECAR_HEALTHY, SIDECAR_UNHEALTHY } from '../leader-election.messages.js';
import type { ResolvedSidecar } from '../options/resolve-options.js';
import type { LeaderElector } from './leader-elector.interface.js';

type SidecarAnswer = { leader: string | null } | { problem: string };

/**
 * The original pattern: the leader-elector sidecar in each pod holds the election and answers
 * `{"name":"<leader pod>"}` (as text/plain) on any path. We ask it in the background, never on a
 * job's tick, and lead only while its last answer names this pod. Anything else fails closed.
 */
export class SidecarElector implements LeaderElector {
  private readonly logger = new Logger('LeaderElection');
  private timer: NodeJS.Timeout | undefined;
  /** Ends the poll in flight at once, timer included. */
  private cancelInFlight: (() => void) | undefined;
  private stopped = false;
  /** The fault currently reported, so each is logged once per change, not once per poll. */
  private problem: string | null = null;
  /** When the first of the answers that have named this pod without a break arrived. */
  private namedSince: number | undefined;

  constructor(
    private readonly state: ElectionState,
    private readonly options: ResolvedSidecar,
  ) {}

  start(): void {
    void this.poll();
  }

  /** The sidecar holds the election; this pod only asks it, and closing the state stops leading. */
  stopCampaigning(): void {}

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.cancelInFlight?.();
  }

  /**
   * One answer lasts until the next poll has had its full time to answer: no flapping on a slow
   * sidecar, and no belief that outlives a sidecar that stopped answering.
   */
  private get answerValidityMs(): number {
    return this.options.pollIntervalMs + 2 * this.options.requestTimeoutMs;
  }

  private async poll(): Promise<void> {
    const sentAt = monotonicNow();
    const answer = await this.ask();
    if (this.stopped) return;
    const receivedAt = monotonicNow();
    let nextPollMs = this.options.pollIntervalMs;
    if ('leader' in answer) {
      if (this.problem !== null) this.logger.log(SIDECAR_HEALTHY(this.options.url.href));
      this.problem = null;
      let leadingUntil = 0;
      if (answer.leader === this.state.identity) {
        // Handover guard. Pods poll on their own schedules, so the previous leader may still act
        // on an answer it got just before the change, for up to one answer's validity. Lead only
        // once we have been named for that long without a break; ask again right then.
        this.namedSince ??= receivedAt;
        const takeoverAt = this.namedSince + this.answerValidityMs;
        if (receivedAt >= takeoverAt) leadingUntil = sentAt + this.answerValidityMs;
        else nextPollMs = takeoverAt - receivedAt;
      } else {
        this.namedSince = undefined;
      }
      this.state.publish({ leader: answer.leader, term: null, leadingUntil, leadingBecause: 'the leader-elector sidecar names it' }, 'the sidecar names another leader');
    } else {
      this.namedSince = undefined;
      if (this.problem !== answer.problem) {
        this.logger.warn(SIDECAR_UNHEALTHY(this.options.url.href, answer.problem));
      }
      this.problem = answer.problem;
      this.state.publish({ leader: null, term: null, leadingUntil: 0 }, `the sidecar gave no usable answer (${answer.problem})`);
    }
    this.timer = setTimeout(() => void this.poll(), clampDelay(nextPollMs));
    this.timer.unref();
  }

  /** One GET to the sidecar. Always resolves; every fault becomes a short, stable description. */
  private ask(): Promise<SidecarAnswer> {
    const { url, requestTimeoutMs, maxBodyBytes } = this.options;
    return new Promise<SidecarAnswer>((resolve) => {
      let settled = false;
      const settle = (answer: SidecarAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timeout);
        this.cancelInFlight = undefined;
        req.destroy();
        resolve(answer);
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      // A fresh connection per poll: a localhost connect costs little and leaves no idle socket.
      const req = send(url, { method: 'GET', agent: false, headers: { accept: 'application/json, text/plain' } });
      this.cancelInFlight = () => settle({ problem: 'stopped' });
      const timeout = setTimeout(() => settle({ problem: `no answer within ${requestTimeoutMs} ms` }), clampDelay(requestTimeoutMs));
      req.on('error', (error: NodeJS.ErrnoException) => {
        settle({ problem: error.code === 'ECONNREFUSED' ? 'connection refused' : `request failed: ${error.code ?? error.message}` });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) {
          res.resume();
          return settle({ problem: `HTTP status ${status}` });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBodyBytes) return settle({ problem: `answer larger than ${maxBodyBytes} bytes` });
          chunks.push(chunk);
        });
        res.on('error', () => settle({ problem: 'the answer was cut off' }));
        res.on('end', () => settle(parseAnswer(Buffer.concat(chunks).toString('utf8'))));
      });
      req.end();
    });
  }
}

/** `{"name":"pod-a"}` leads pod-a; `{"name":""}` means the sidecar knows no leader yet. */
export function parseAnswer(body: string): SidecarAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { problem: 'the answer is not JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { problem: 'the answer is not a JSON object' };
  }
  const name = (parsed as { name?: unknown }).name;
  if (typeof name !== 'string') return { problem: 'the answer has no "name" string' };
  return { leader: name === '' ? null : name };
}
