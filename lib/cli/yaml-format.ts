/**
 * `-o yaml` for JSON data (objects, arrays, strings, numbers, booleans, null), laid out as kubectl
 * lays it out (a list's dashes at its key's indent). Written here rather than with a YAML
 * library so that the shipped command adds no dependency: its output is a small, known shape,
 * and every string that is not plainly a word is written as a JSON string, which YAML reads as
 * its double-quoted scalar (JSON is a subset of YAML 1.2's flow style).
 */
export function toYaml(value: unknown): string {
  return isCollection(value) && !isEmpty(value) ? block(value, '') : `${scalar(value)}\n`;
}

type Collection = readonly unknown[] | Readonly<Record<string, unknown>>;

function block(value: Collection, indent: string): string {
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        if (!isCollection(item) || isEmpty(item)) return `${indent}- ${scalar(item)}\n`;
        // The item's first line goes on its dash; the rest is indented past it.
        const nested = block(item, `${indent}  `);
        return `${indent}- ${nested.slice(indent.length + 2)}`;
      })
      .join('');
  }
  return Object.entries(value)
    .filter(([, item]) => item !== undefined)
    .map(([key, item]) => {
      const name = `${indent}${plainOrQuoted(key)}:`;
      if (!isCollection(item) || isEmpty(item)) return `${name} ${scalar(item)}\n`;
      return `${name}\n${block(item, Array.isArray(item) ? indent : `${indent}  `)}`;
    })
    .join('');
}

function scalar(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (Array.isArray(value)) return '[]';
  if (typeof value === 'object') return '{}';
  return plainOrQuoted(String(value));
}

/** Words YAML (1.1 or 1.2) would read as something other than a string. */
const SPECIAL = /^(true|false|yes|no|on|off|y|n|null|~)$/i;
/** A plain scalar no YAML reader takes for a number, a date, a reference or a structure. */
const PLAIN = /^[A-Za-z_][A-Za-z0-9_./@+-]*$/;

function plainOrQuoted(text: string): string {
  return PLAIN.test(text) && !SPECIAL.test(text) ? text : JSON.stringify(text);
}

function isCollection(value: unknown): value is Collection {
  return typeof value === 'object' && value !== null;
}

function isEmpty(value: Collection): boolean {
  return Array.isArray(value) ? value.length === 0 : Object.values(value).every((item) => item === undefined);
}
