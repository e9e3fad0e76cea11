import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  HttpException,
  HttpStatus,
  Param,
  Post,
  Res,
  UseFilters,
  UseGuards,
  type CanActivate,
  type Type,
} from '@nestjs/common';
import { ClusterLeaderService } from '../cluster-leader.service.js';
import type { JobDescription, RequestOutcome } from '../interfaces/job-description.interface.js';
import type { ControlElectionsAnswer } from './control-api.interface.js';
import { BAD_BODY, MUTATIONS_OFF } from './control-http.messages.js';
import { DASHBOARD_CSP, DASHBOARD_PAGE } from './dashboard.page.js';
import { JobControlExceptionFilter } from './job-control.exception-filter.js';

/** How long a run or backfill may be waited for over HTTP: past it, the answer is 504 (the request may still run). */
export const HTTP_WAIT_DEFAULT_MS = 60_000;
export const HTTP_WAIT_MIN_MS = 1_000;
export const HTTP_WAIT_MAX_MS = 600_000;

/**
 * The controllers of one `LeaderElectionControlModule.forRoot()`, built for its path: a class per
 * call, since a controller's path is fixed when its class is decorated. The read controller always;
 * then either the mutating one behind the app's guard, or one that answers every mutating path
 * with 405 saying how to turn them on.
 */
export function createControlControllers(path: string, guard: Type<CanActivate> | undefined): Type[] {
  const mutations = guard !== undefined;

  @Controller(path)
  @UseFilters(JobControlExceptionFilter)
  class LeaderControlController {
    constructor(private readonly leader: ClusterLeaderService) {}

    /** The dashboard: one self-contained page (inline style and script, nothing fetched but the API below). */
    @Get()
    @Header('Content-Type', 'text/html; charset=utf-8')
    @Header('Cache-Control', 'no-store')
    @Header('Content-Security-Policy', DASHBOARD_CSP)
    @Header('X-Content-Type-Options', 'nosniff')
    @Header('Referrer-Policy', 'no-referrer')
    page(): string {
      return DASHBOARD_PAGE;
    }

    /** Each election as this pod sees it (identity, leader, term, isLeader, health), and whether mutations are on. */
    @Get('api/elections')
    @Header('Cache-Control', 'no-store')
    elections(): ControlElectionsAnswer {
      return { identity: this.leader.identity, mutations, elections: this.leader.elections().map((election) => this.leader.health(election)) };
    }

    /** `ClusterLeaderService.jobs()`. */
    @Get('api/jobs')
    @Header('Cache-Control', 'no-store')
    jobs(): JobDescription[] {
      return this.leader.jobs();
    }
  }

  if (!mutations) {
    @Controller(path)
    class LeaderControlReadOnlyController {
      /** Every mutating path: 405, with the option that turns them on. No code path here steers a job. */
      @Post('api/jobs/:name/:action')
      refuse(@Res({ passthrough: true }) response: { setHeader?: (name: string, value: string) => void; header?: (name: string, value: string) => void }): never {
        if (typeof response.setHeader === 'function') response.setHeader('Allow', 'GET');
        else response.header?.('Allow', 'GET');
        throw new HttpException({ statusCode: 405, error: 'Method Not Allowed', message: MUTATIONS_OFF(path) }, HttpStatus.METHOD_NOT_ALLOWED);
      }
    }
    return [LeaderControlController, LeaderControlReadOnlyController];
  }

  @Controller(path)
  @UseGuards(guard)
  @UseFilters(JobControlExceptionFilter)
  class LeaderControlMutationsController {
    constructor(private readonly leader: ClusterLeaderService) {}

    /** Body `{ "note": "why" }` (optional). Answers the job as jobs() describes it, paused. */
    @Post('api/jobs/:name/pause')
    @HttpCode(200)
    pause(@Param('name') name: string, @Body() body: unknown): Promise<JobDescription> {
      const { note } = fieldsOf(body, 'pause', ['note']);
      if (note !== undefined && typeof note !== 'string') {
        throw new BadRequestException(BAD_BODY('pause', `"note" is ${JSON.stringify(note)}, not a string`, 'Send { "note": "why it is paused" }, or no body.'));
      }
      return this.leader.pause(name, { note: note ?? '' });
    }

    @Post('api/jobs/:name/resume')
    @HttpCode(200)
    resume(@Param('name') name: string): Promise<JobDescription> {
      return this.leader.resume(name);
    }

    /** Runs the job once on the leader; answers when it ended (body `{ "timeoutMs": 60000 }`, optional). */
    @Post('api/jobs/:name/run')
    @HttpCode(200)
    run(@Param('name') name: string, @Body() body: unknown): Promise<RequestOutcome> {
      const { timeoutMs } = fieldsOf(body, 'run', ['timeoutMs']);
      return this.leader.runNow(name, { timeoutMs: waitOf(timeoutMs, 'run') });
    }

    /** Body `{ "from": ISO 8601, "to": ISO 8601, "timeoutMs"?: ms }`: each fire time in [from, to], once. */
    @Post('api/jobs/:name/backfill')
    @HttpCode(200)
    backfill(@Param('name') name: string, @Body() body: unknown): Promise<RequestOutcome> {
      const { from, to, timeoutMs } = fieldsOf(body, 'backfill', ['from', 'to', 'timeoutMs']);
      const fromMs = timeOf(from, 'from');
      const toMs = timeOf(to, 'to');
      if (fromMs > toMs) {
        throw new BadRequestException(BAD_BODY('backfill', `"from" (${new Date(fromMs).toISOString()}) is after "to" (${new Date(toMs).toISOString()})`, 'Swap them.'));
      }
      return this.leader.backfill(name, { from: fromMs, to: toMs, timeoutMs: waitOf(timeoutMs, 'backfill') });
    }
  }
  return [LeaderControlController, LeaderControlMutationsController];
}

/** The body's fields (none without a JSON body); an unknown field is refused, so a typo does not go unseen. */
function fieldsOf(body: unknown, action: string, known: string[]): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException(BAD_BODY(action, `the body is ${JSON.stringify(body)}`, 'Send a JSON object (Content-Type: application/json), or no body.'));
  }
  const unknown = Object.keys(body).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new BadRequestException(BAD_BODY(action, `the body has ${unknown.map((key) => `"${key}"`).join(', ')}, which it does not take`, `It takes ${known.map((key) => `"${key}"`).join(', ')}.`));
  }
  return body as Record<string, unknown>;
}

function waitOf(value: unknown, action: string): number {
  if (value === undefined) return HTTP_WAIT_DEFAULT_MS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < HTTP_WAIT_MIN_MS || value > HTTP_WAIT_MAX_MS) {
    throw new BadRequestException(BAD_BODY(action, `"timeoutMs" is ${JSON.stringify(value)}`, `Send whole milliseconds from ${HTTP_WAIT_MIN_MS} to ${HTTP_WAIT_MAX_MS}, or leave it out (${HTTP_WAIT_DEFAULT_MS}).`));
  }
  return value;
}

function timeOf(value: unknown, field: 'from' | 'to'): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new BadRequestException(BAD_BODY('backfill', `"${field}" is ${value === undefined ? 'missing' : JSON.stringify(value)}`, `Send "${field}" as an ISO 8601 time (e.g. "2026-03-01T00:00:00Z") or ms since the epoch.`));
  }
  return ms;
}
