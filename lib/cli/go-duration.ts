/** Go's time.ParseDuration units, in milliseconds. */
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5, as Go accepts it
  'μs': 1e-3, // U+03BC
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a duration in Go's syntax (`time.ParseDuration`, which the old sidecar's `--ttl` used):
 * a sequence of decimal numbers with units, such as `10s`, `1m30s`, `500ms` or `1.5h`, or `0`.
 * Returns milliseconds, or undefined when the text is not a Go duration.
 */
export function parseGoDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < rest.length) {
    const start = PART.lastIndex;
    const match = PART.exec(rest);
    if (match === null || match.index !== start) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  // Whole nanoseconds, as Go keeps them: 1.1s is 1100 ms, not 1100.0000000000002.
  return (sign * Math.round(total * 1e6)) / 1e6;
}
