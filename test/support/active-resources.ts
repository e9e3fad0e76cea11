/** The resource kinds an app or a server could leak: timers, sockets and listening servers. */
export function countedResources(): Record<string, number> {
  const counts: Record<string, number> = { Timeout: 0, TCPSocketWrap: 0, TCPServerWrap: 0 };
  for (const resource of process.getActiveResourcesInfo()) {
    if (resource in counts) counts[resource]!++;
  }
  return counts;
}

/**
 * How many more of each kind are active now than `before`. Only growth counts: a handle an earlier
 * test closed can still be listed in `before` until libuv frees it, which only makes `now` smaller.
 */
export function extraResources(before: Record<string, number>): Record<string, number> {
  const now = countedResources();
  return Object.fromEntries(Object.keys(before).map((kind) => [kind, Math.max(0, now[kind]! - before[kind]!)]));
}
