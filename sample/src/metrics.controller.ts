import { Controller, Get, Header } from '@nestjs/common';
import { register } from 'prom-client';

/**
 * `GET /metrics` in Prometheus' text format: prom-client's global registry, where the library
 * registers its metrics (the `metrics: {}` option) beside the process metrics collected here.
 */
@Controller()
export class MetricsController {
  @Get('metrics')
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}
