import { readFileSync } from 'node:fs';

/** USER_HZ, the unit of /proc/<pid>/stat's starttime: 100 on every Linux ABI Kubernetes runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
/** A process tree deeper than this is not a container's (a loop guard). */
const MAX_DEPTH = 64;

/**
 * When the container this process runs in started, by this machine's clock (the clock the
 * kubelet stamps `state.running.startedAt` with), or why it cannot be told.
 *
 * Fast failover (issue 16) must know which container instance it is, and the only place that
 * names instances is the pod's status, which the kubelet may not have updated yet right after a
 * restart: a process that took the previous instance's entry for its own would let others take
 * it for dead while it runs. The container's first process started when the runtime started the
 * container, so its start time tells this instance's status entry from an earlier one's.
 *
 * That first process is PID 1 of the container's PID namespace, or, when the pod shares one
 * namespace between its containers (`shareProcessNamespace`, where PID 1 is the pause process),
 * the topmost ancestor of this process below it.
 */
export function containerStartTime(proc = '/proc'): Date | string {
  try {
    let pid = process.pid;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const { ppid, startTicks } = readStat(proc, pid);
      if (ppid === 0) return wallTime(proc, startTicks);
      if (ppid === 1) return wallTime(proc, isPause(proc, 1) ? startTicks : readStat(proc, 1).startTicks);
      pid = ppid;
    }
    return `no container init found within ${MAX_DEPTH} parent processes`;
  } catch (error) {
    return `reading ${proc} failed (${(error as Error).message})`;
  }
}

function readStat(proc: string, pid: number): { ppid: number; startTicks: number } {
  const stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]); // field 4
  const startTicks = Number(fields[19]); // field 22
  if (!Number.isInteger(ppid) || !Number.isFinite(startTicks)) throw new Error(`unexpected ${proc}/${pid}/stat`);
  return { ppid, startTicks };
}

function isPause(proc: string, pid: number): boolean {
  const argv0 = readFileSync(`${proc}/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  return argv0.split('/').pop() === 'pause';
}

/** starttime counts ticks since boot; /proc/uptime is seconds since boot, read now. */
function wallTime(proc: string, startTicks: number): Date {
  const uptimeSeconds = Number(readFileSync(`${proc}/uptime`, 'utf8').split(' ')[0]);
  if (!Number.isFinite(uptimeSeconds)) throw new Error(`unexpected ${proc}/uptime`);
  return new Date(Date.now() - uptimeSeconds * 1000 + (startTicks / CLOCK_TICKS_PER_SECOND) * 1000);
}
