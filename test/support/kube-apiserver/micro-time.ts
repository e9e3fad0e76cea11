import { goQuote } from './status.js';

/** `metav1.RFC3339Micro`, the only layout `metav1.MicroTime.UnmarshalJSON` accepts. */
export const MICRO_TIME_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';

export type MicroTimeParse =
  /** `canonical` is what the apiserver stores and echoes: the same instant in UTC, 6 digits, `Z`. */
  | { ok: true; canonical: string }
  /** `error` is Go's `time.ParseError` text, as it ends up inside the apiserver's message. */
  | { ok: false; error: string };

interface Chunk {
  /** Literal text before the layout element (Go's `prefix`). */
  prefix: string;
  /** The layout element as Go names it in errors (`stdstr`). */
  element: string;
}

const CHUNKS: readonly Chunk[] = [
  { prefix: '', element: '2006' },
  { prefix: '-', element: '01' },
  { prefix: '-', element: '02' },
  { prefix: 'T', element: '15' },
  { prefix: ':', element: '04' },
  { prefix: ':', element: '05' },
  { prefix: '', element: '.000000' },
  { prefix: '', element: 'Z07:00' },
];

const isDigit = (s: string, i: number): boolean => i < s.length && s[i] >= '0' && s[i] <= '9';

/** Go's `getnum`: one or two digits, exactly two when `fixed`. */
function getnum(s: string, fixed: boolean): [number, string] | undefined {
  if (!isDigit(s, 0)) return undefined;
  if (!isDigit(s, 1)) return fixed ? undefined : [Number(s[0]), s.slice(1)];
  return [Number(s.slice(0, 2)), s.slice(2)];
}

/** `Date.UTC` maps years 0-99 to 1900-1999; setUTCFullYear does not. */
function utcMillis(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

function daysIn(month: number, year: number): number {
  return new Date(utcMillis(year, month + 1, 0)).getUTCDate();
}

/**
 * Parses a MicroTime string the way Go's `time.Parse(RFC3339Micro, s)` does, walking the layout
 * element by element so that a rejection carries Go's exact wording, e.g.
 * `parsing time "2026-11-24T09:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123Z" as ".000000"`.
 * That is the point of fixture 07: a JS `Date.toISOString()` (3 digits) is refused.
 */
export function parseMicroTime(input: string): MicroTimeParse {
  const cannotParse = (valueElem: string, layoutElem: string): MicroTimeParse => ({
    ok: false,
    error:
      `parsing time ${goQuote(input)} as ${goQuote(MICRO_TIME_LAYOUT)}: ` +
      `cannot parse ${goQuote(valueElem)} as ${goQuote(layoutElem)}`,
  });
  const outOfRange = (what: string): MicroTimeParse => ({
    ok: false,
    error: `parsing time ${goQuote(input)}: ${what} out of range`,
  });

  let value = input;
  let year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  let fraction = '';
  let offsetMinutes = 0;

  for (const { prefix, element } of CHUNKS) {
    if (!value.startsWith(prefix)) return cannotParse(value, prefix);
    value = value.slice(prefix.length);
    const hold = value;
    switch (element) {
      case '2006': {
        const digits = value.slice(0, 4);
        if (!/^\d{4}$/.test(digits)) return cannotParse(hold, element);
        year = Number(digits);
        value = value.slice(4);
        break;
      }
      case '01': {
        const parsed = getnum(value, true);
        if (!parsed) return cannotParse(hold, element);
        [month, value] = parsed;
        if (month <= 0 || month > 12) return outOfRange('month');
        break;
      }
      case '02': {
        // Go accepts any two digits here and checks the day against the month at the end.
        const parsed = getnum(value, true);
        if (!parsed) return cannotParse(hold, element);
        [day, value] = parsed;
        break;
      }
      case '15': {
        const parsed = getnum(value, false);
        if (!parsed) return cannotParse(hold, element);
        [hour, value] = parsed;
        if (hour >= 24) return outOfRange('hour');
        break;
      }
      case '04':
      case '05': {
        const parsed = getnum(value, true);
        if (!parsed) return cannotParse(hold, element);
        const [n, rest] = parsed;
        value = rest;
        if (n >= 60) return outOfRange(element === '04' ? 'minute' : 'second');
        if (element === '04') minute = n;
        else second = n;
        break;
      }
      case '.000000': {
        // Exactly a separator and six digits: fewer is an error, more is left over for the zone.
        if (value.length < 7 || (value[0] !== '.' && value[0] !== ',') || !/^\d{6}$/.test(value.slice(1, 7))) {
          return cannotParse(hold, element);
        }
        fraction = value.slice(1, 7);
        value = value.slice(7);
        break;
      }
      case 'Z07:00': {
        if (value.startsWith('Z')) {
          value = value.slice(1);
          break;
        }
        if (value.length < 6 || value[3] !== ':') return cannotParse(hold, element);
        const hours = getnum(value.slice(1, 3), true);
        const minutes = getnum(value.slice(4, 6), true);
        const sign = value[0];
        if (!hours || !minutes || (sign !== '+' && sign !== '-')) return cannotParse(hold, element);
        value = value.slice(6);
        if (hours[0] > 24) return outOfRange('time zone offset hour');
        if (minutes[0] > 60) return outOfRange('time zone offset minute');
        offsetMinutes = (sign === '-' ? -1 : 1) * (hours[0] * 60 + minutes[0]);
        break;
      }
    }
  }
  if (value.length > 0) {
    return { ok: false, error: `parsing time ${goQuote(input)}: extra text: ${goQuote(value)}` };
  }
  if (day < 1 || day > daysIn(month, year)) return outOfRange('day');

  // MicroTime.MarshalJSON writes `t.UTC().Format(RFC3339Micro)`, so an offset comes back as Z.
  const instant = utcMillis(year, month, day, hour, minute, second) - offsetMinutes * 60_000;
  return { ok: true, canonical: formatMicroTime(new Date(instant), fraction) };
}

/** RFC3339 with six fractional digits and `Z`; `micros` overrides the sub-second digits. */
export function formatMicroTime(date: Date, micros?: string): string {
  const seconds = date.toISOString().slice(0, 19);
  const fraction = micros ?? `${String(date.getUTCMilliseconds()).padStart(3, '0')}000`;
  return `${seconds}.${fraction}Z`;
}

/** `metav1.Time`: RFC3339 to the second, as in `creationTimestamp` and managedFields' `time`. */
export function formatTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
