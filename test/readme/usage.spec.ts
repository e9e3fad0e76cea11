import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterLeaderService } from 'nestjs-cluster-leader';
import { RecordingLogger } from '../support/nest-app.js';
import { AppModule } from './app.module.js';

/**
 * The README's Usage, as a new user runs it first: its AppModule and BillingJobs (the files the
 * README shows verbatim), outside Kubernetes, with no cluster. It starts, leads alone, and says
 * what it does not do here rather than refusing to start.
 */
describe("the README's Usage app outside Kubernetes", () => {
  let app: INestApplication | undefined;
  afterEach(() => app?.close());

  it("starts on 'auto' (standalone here), leads, and warns once per fact", async () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
    const logger = new RecordingLogger();
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).setLogger(logger).compile();
    app = moduleRef.createNestApplication();
    await app.init();

    expect(app.get(ClusterLeaderService).isLeader()).toBe(true);
    expect(logger.messages('warn')).toEqual([
      expect.stringMatching(/^Election 'default': backend 'auto' chose 'standalone' because KUBERNETES_SERVICE_HOST is not set .* all run every job\./),
      expect.stringMatching(/^Election 'default' runs on backend 'standalone' \(backend 'auto' chose it because .*\), which has no Lease .* not in force here: BillingJobs\.closeHourlyInvoices \(missedRuns: 'runOnce'\)\./),
    ]);
    expect(logger.messages('error')).toEqual([]);
  });
});
