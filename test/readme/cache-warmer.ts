import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { filter, type Subscription } from 'rxjs';
import { ClusterLeaderService, currentLeaderJob, LeaderOnly } from 'nestjs-cluster-leader';
import { CacheService } from './cache.service.js';

@Injectable()
export class CacheWarmer implements OnApplicationBootstrap, OnApplicationShutdown {
  private subscription?: Subscription;

  constructor(
    private readonly leadership: ClusterLeaderService,
    private readonly cache: CacheService,
  ) {}

  onApplicationBootstrap() {
    // changes() emits once when this pod starts leading, and again only in a new term.
    this.subscription = this.leadership
      .changes()
      .pipe(filter((state) => state.isLeader))
      .subscribe(() => void this.warmUp());
  }

  onApplicationShutdown() {
    this.subscription?.unsubscribe();
  }

  @LeaderOnly()
  async warmUp() {
    const { fencingToken, signal } = currentLeaderJob()!; // fencingToken: null on sidecar and standalone
    await this.cache.rebuild({ fencingToken, signal });
  }
}
