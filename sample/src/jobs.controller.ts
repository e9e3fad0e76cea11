import { BadRequestException, Body, Controller, Get, HttpCode, Param, Post, UseFilters, UseGuards } from '@nestjs/common';
import { ClusterLeaderService, type JobDescription, type RequestOutcome } from 'nestjs-cluster-leader';
import { JobControlExceptionFilter } from 'nestjs-cluster-leader/control';
import { ControlTokenGuard } from './control-token.guard.js';

/**
 * The jobs at the root of the sample, for scripts and outside checks (the dashboard at /leader
 * serves the same under /leader/api/):
 *
 *   GET  /jobs                 ClusterLeaderService.jobs(): every job, its schedule, pause, last runs
 *   POST /jobs/:name/pause     body { "note": "why" } (optional): pauses it on every pod
 *   POST /jobs/:name/resume    resumes it
 *   POST /jobs/:name/run       runs it once on the leader; answers when the run ended, with its
 *                              outcome, pod, term and fire time
 *
 * The POSTs need `Authorization: Bearer $SAMPLE_CONTROL_TOKEN` (ControlTokenGuard). Errors: 404
 * for an unknown job (listing the known ones), 409 when the job cannot be steered (not the Lease
 * backend), 504 with the request id when a run outlasts a minute (it may still run).
 */
@Controller('jobs')
@UseFilters(JobControlExceptionFilter)
export class JobsController {
  constructor(private readonly clusterLeader: ClusterLeaderService) {}

  @Get()
  jobs(): JobDescription[] {
    return this.clusterLeader.jobs();
  }

  @Post(':name/pause')
  @HttpCode(200)
  @UseGuards(ControlTokenGuard)
  pause(@Param('name') name: string, @Body() body: { note?: unknown } | undefined): Promise<JobDescription> {
    const note = body?.note ?? '';
    if (typeof note !== 'string') throw new BadRequestException(`"note" is ${JSON.stringify(note)}: send { "note": "why it is paused" }, or no body.`);
    return this.clusterLeader.pause(name, { note });
  }

  @Post(':name/resume')
  @HttpCode(200)
  @UseGuards(ControlTokenGuard)
  resume(@Param('name') name: string): Promise<JobDescription> {
    return this.clusterLeader.resume(name);
  }

  @Post(':name/run')
  @HttpCode(200)
  @UseGuards(ControlTokenGuard)
  run(@Param('name') name: string): Promise<RequestOutcome> {
    return this.clusterLeader.runNow(name, { timeoutMs: 60_000 });
  }
}
