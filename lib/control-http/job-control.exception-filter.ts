import { Catch, ConflictException, GatewayTimeoutException, HttpException, NotFoundException, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { ControlRequestTimeoutError } from '../errors/control-request-timeout.error.js';
import { JobControlError } from '../errors/job-control.error.js';
import { UnknownJobError } from '../errors/unknown-job.error.js';

/**
 * The HTTP answer for an error of `ClusterLeaderService`'s control calls, its message kept:
 * - `UnknownJobError` -> 404 Not Found; the message lists the known jobs.
 * - `JobControlError` -> 409 Conflict: the request is well formed (the endpoints answer 400 to a
 *   malformed one before asking), but the job's setup refuses it: its election keeps no shared
 *   state (not the Lease backend), a backfill of a job without a cron schedule, or a range with
 *   more fire times than the job's `maxMissedRuns`. Asking again does not help; changing the job
 *   or its election does.
 * - `ControlRequestTimeoutError` -> 504 Gateway Timeout with `requestId` and `job`: the leader
 *   did not finish in time, and the request is not withdrawn (it may still run; `GET .../jobs`
 *   shows the job's runs).
 */
export function jobControlHttpException(error: unknown): HttpException | undefined {
  if (error instanceof UnknownJobError) return new NotFoundException({ statusCode: 404, error: 'Not Found', message: error.message });
  if (error instanceof JobControlError) return new ConflictException({ statusCode: 409, error: 'Conflict', message: error.message });
  if (error instanceof ControlRequestTimeoutError) {
    return new GatewayTimeoutException({
      statusCode: 504,
      error: 'Gateway Timeout',
      message: error.message,
      requestId: error.requestId,
      job: error.job,
      state: error.state,
    });
  }
  return undefined;
}

/**
 * Answers the control errors as `jobControlHttpException()` maps them; the endpoints of
 * `LeaderElectionControlModule` use it, and an app's own controllers may too:
 *
 * @example
 * ```ts
 * @Controller('jobs')
 * @UseFilters(JobControlExceptionFilter)
 * export class JobsController { ... }
 * ```
 */
@Catch(UnknownJobError, JobControlError, ControlRequestTimeoutError)
export class JobControlExceptionFilter extends BaseExceptionFilter {
  override catch(error: unknown, host: ArgumentsHost): void {
    super.catch(jobControlHttpException(error) ?? error, host);
  }
}
