/** The pieces of kubectl's human output: aligned columns, ages, `<none>`, colour at a terminal. */

export const NONE = '<none>';

export type Colour = 'green' | 'red' | 'yellow';
const CODES: Record<Colour, number> = { red: 31, green: 32, yellow: 33 };

/** Paints text, or leaves it as it is: colour only for a person at a terminal that wants it. */
export type Painter = (text: string, colour: Colour | undefined) => string;

export const plain: Painter = (text) => text;
const ansi: Painter = (text, colour) => (colour === undefined ? text : `\u001b[${CODES[colour]}m${text}\u001b[39m`);

/** Colour when stdout is a terminal and NO_COLOR is not set (https://no-color.org). */
export function painterFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Painter {
  return stream.isTTY === true && !env.NO_COLOR ? ansi : plain;
}

/** A cell and the colour it is painted in (widths are measured without the colour). */
export type Cell = string | { text: string; colour: Colour | undefined };

/**
 * Columns as kubectl's tabwriter aligns them: each as wide as its widest cell, three spaces
 * apart, the last one not padded; every line ends with a newline.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[], paint: Painter, indent = ''): string {
  const text = (cell: Cell) => (typeof cell === 'string' ? cell : cell.text);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => text(row[column] ?? '').length)));
  const line = (cells: readonly Cell[]) =>
    indent +
    cells
      .map((cell, column) => {
        const padded = column === cells.length - 1 ? text(cell) : text(cell).padEnd(widths[column]!);
        return typeof cell === 'string' ? padded : paint(text(cell), cell.colour) + padded.slice(text(cell).length);
      })
      .join('   ')
      .trimEnd() +
    '\n';
  return [header, ...rows].map(line).join('');
}

/** kubectl's age: `45s`, `3m12s`, `25m`, `5h10m`, `3d4h`, `120d`, `2y30d` (HumanDuration). */
export function humanAge(ms: number): string {
  const seconds = Math.floor(ms / 1_000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  const days = Math.floor(hours / 24);
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  return days % 365 === 0 || years >= 8 ? `${years}y` : `${years}y${days % 365}d`;
}

/** An ISO time to the second, as tables show it (`2026-03-01T10:00:00Z`); milliseconds only when it has them. */
export function shortTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return NONE;
  return iso.replace(/\.000Z$/, 'Z');
}

/** `2026-03-01T10:00:00Z (5m ago)`. */
export function timeAndAge(iso: string | null | undefined, now: number): string {
  if (iso === null || iso === undefined) return NONE;
  const ms = now - Date.parse(iso);
  return `${shortTime(iso)} (${ms >= 0 ? `${humanAge(ms)} ago` : `in ${humanAge(-ms)}`})`;
}

/** How long a run took: `850ms`, `12s`, `3m12s`. */
export function duration(startedAt: string, endedAt: string | null): string {
  if (endedAt === null) return NONE;
  const ms = Date.parse(endedAt) - Date.parse(startedAt);
  return ms < 1_000 ? `${Math.max(0, ms)}ms` : humanAge(ms);
}

/** The colour of an outcome or a state: green done, red not done, yellow under way. */
export function outcomeColour(outcome: string | null): Colour | undefined {
  if (outcome === 'succeeded') return 'green';
  if (outcome === 'failed' || outcome === 'interrupted' || outcome === 'dropped') return 'red';
  if (outcome === 'running' || outcome === 'claimed') return 'yellow';
  return undefined;
}
