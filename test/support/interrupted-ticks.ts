/**
 * The fire times a new leader reported as claimed by a leader that died before recording how they
 * ended (TICK_INTERRUPTED, one tick; WINDOW_INTERRUPTED, a window claimed ahead), parsed from its
 * log line: with `interruptedRun: 'skip'` they are not run again (at most once), so a check for
 * lost ticks counts them as accounted for.
 */
export function interruptedTicks(line: string): { job: string; fireTimes: number[] } | undefined {
  const single = /^(\S+): the tick of (\S+) was claimed in term \d+, whose leader stopped/.exec(line);
  if (single) return { job: single[1]!, fireTimes: [Date.parse(single[2]!)] };
  const window = /^(\S+): the ticks? of (.+?)(?: and more)? (?:was|were) claimed ahead in term \d+, whose leader stopped/.exec(line);
  if (window) return { job: window[1]!, fireTimes: window[2]!.split(', ').map((time) => Date.parse(time)) };
  return undefined;
}
