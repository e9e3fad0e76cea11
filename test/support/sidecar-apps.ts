import type { INestApplication } from '@nestjs/common';
import { afterEach, vi } from 'vitest';
import { ClusterLeaderService, type LeaderElectionCallbacks, type LeaderElectionModuleOptions } from '../../lib/index.js';
import { closeAll, startApp } from './nest-app.js';
import { SidecarStandIn } from './sidecar-stand-in.js';

export const POLL_INTERVAL_MS = 1_000;
/** How long a pod must be named without a break before it leads (default request timeout 500). */
export const HANDOVER_GUARD_MS = POLL_INTERVAL_MS + 2 * 500;

/**
 * Nest apps electing through sidecar stand-ins, for a spec file: every app and stand-in started
 * through these helpers is closed after each test, and real timers are restored.
 */
export function useSidecarApps() {
  const apps: INestApplication[] = [];
  const standIns: SidecarStandIn[] = [];

  afterEach(async () => {
    await closeAll(apps.splice(0));
    await Promise.all(standIns.splice(0).map((standIn) => standIn.close()));
    vi.useRealTimers();
  });

  /**
   * Starts the app; with a stand-in, also waits until its first answer has been applied, and, under
   * fake timers, takes a pod the stand-in names through the handover guard, so it starts leading.
   */
  async function start(spec: Parameters<typeof startApp>[0], standIn?: SidecarStandIn) {
    const firstPoll = standIn?.nextPollsSettled();
    const started = await startApp(spec);
    apps.push(started.app);
    await firstPoll;
    const leader = started.app.get(ClusterLeaderService);
    if (standIn !== undefined && vi.isFakeTimers() && standIn.leader === leader.identity) {
      await passHandoverGuard(standIn);
    }
    return { ...started, leader };
  }

  async function standInNaming(leader: string): Promise<SidecarStandIn> {
    const standIn = await SidecarStandIn.start(leader);
    standIns.push(standIn);
    return standIn;
  }

  return { apps, start, standInNaming };
}

export function sidecarOptions(standIn: SidecarStandIn, extra: LeaderElectionCallbacks = {}): LeaderElectionModuleOptions {
  return { backend: 'sidecar', identity: 'pod-a', sidecar: { url: standIn.url, pollIntervalMs: POLL_INTERVAL_MS }, ...extra };
}

/** A pod the stand-in has just named waits out the guard; its poll right then makes it lead. */
export async function passHandoverGuard(standIn: SidecarStandIn): Promise<void> {
  const settled = standIn.nextPollsSettled();
  await vi.advanceTimersByTimeAsync(HANDOVER_GUARD_MS);
  await settled;
}

/** Advances fake time by one poll interval and waits until that poll's answer has been applied. */
export async function nextPoll(standIn: SidecarStandIn, polls = 1): Promise<void> {
  const settled = standIn.nextPollsSettled(polls);
  await vi.advanceTimersByTimeAsync(POLL_INTERVAL_MS);
  await settled;
}
