import { Injectable } from '@nestjs/common';

/** The README's cache: records each rebuild, so the README's tests can see when it ran. */
@Injectable()
export class CacheService {
  readonly rebuilds: Array<{ fencingToken: string | null; signal: AbortSignal }> = [];

  async rebuild(options: { fencingToken: string | null; signal: AbortSignal }): Promise<void> {
    this.rebuilds.push(options);
  }
}
