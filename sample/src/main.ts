import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import {
  ClusterLeaderService,
  LEADER_ELECTION_MODULE_OPTIONS,
  type LeaderElectionModuleOptions,
} from 'nestjs-cluster-leader';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  // On SIGTERM: stop leading, let running jobs finish, release the Lease, then exit 0 (an exit
  // code other than 0 means the shutdown failed).
  app.enableShutdownHooks([], { useProcessExit: true });
  await app.listen(process.env.PORT ?? 3000);

  const { port } = app.getHttpServer().address() as AddressInfo;
  const { identity } = app.get(ClusterLeaderService);
  const { backend = 'auto' } = app.get<LeaderElectionModuleOptions>(LEADER_ELECTION_MODULE_OPTIONS);
  new Logger('Sample').log(`Listening on port ${port} as ${identity} (backend ${backend}).`);
}

void bootstrap();
