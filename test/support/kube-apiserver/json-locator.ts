/**
 * Finds where a value sits in the raw JSON text of a request, so decode errors can quote the
 * surrounding bytes the way the apiserver's json-iterator decoder does
 * (`error found in #10 byte of ...|...|..., bigger context ...|...|...`).
 * The text has already passed JSON.parse, so this scanner can assume it is well formed.
 */

export interface ValueSpan {
  /** Character offset of the value's first character. */
  start: number;
  /** Character offset just after the value's last character. */
  end: number;
}

/** The span of the value at `path` (object keys only); the last one wins for duplicate keys. */
export function locateValue(text: string, path: readonly string[]): ValueSpan | undefined {
  let position = 0;

  const skipWhitespace = (): void => {
    while (position < text.length && ' \t\n\r'.includes(text[position])) position++;
  };
  const skipString = (): string => {
    const start = position;
    position++; // opening quote
    while (text[position] !== '"') position += text[position] === '\\' ? 2 : 1;
    position++; // closing quote
    return JSON.parse(text.slice(start, position)) as string;
  };
  const skipValue = (): void => {
    skipWhitespace();
    const c = text[position];
    if (c === '"') {
      skipString();
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      position++;
      skipWhitespace();
      if (text[position] === close) {
        position++;
        return;
      }
      for (;;) {
        if (c === '{') {
          skipWhitespace();
          skipString();
          skipWhitespace();
          position++; // colon
        }
        skipValue();
        skipWhitespace();
        if (text[position++] === close) return;
      }
    } else {
      while (position < text.length && !',}] \t\n\r'.includes(text[position])) position++;
    }
  };

  /** Scans the object starting at `position` for `key`; returns the span of its (last) value. */
  const findInObject = (key: string): ValueSpan | undefined => {
    skipWhitespace();
    if (text[position] !== '{') return undefined;
    position++;
    let found: ValueSpan | undefined;
    skipWhitespace();
    if (text[position] === '}') return undefined;
    for (;;) {
      skipWhitespace();
      const name = skipString();
      skipWhitespace();
      position++; // colon
      skipWhitespace();
      const start = position;
      skipValue();
      if (name === key) found = { start, end: position };
      skipWhitespace();
      if (text[position++] === '}') return found;
    }
  };

  let span: ValueSpan | undefined = { start: 0, end: text.length };
  for (const key of path) {
    position = span.start;
    span = findInObject(key);
    if (!span) return undefined;
  }
  return span;
}

/**
 * json-iterator's `ReportError` context: 10 bytes either side of the read head, then 50 either
 * side. `headChar` is a character offset into `text`; the windows are taken in bytes, as Go does.
 */
export function jsoniterContext(text: string, headChar: number): string {
  const bytes = Buffer.from(text, 'utf8');
  const head = Buffer.byteLength(text.slice(0, headChar), 'utf8');
  const window = (radius: number): [number, number] => [Math.max(0, head - radius), Math.min(bytes.length, head + radius)];
  const [peekStart, peekEnd] = window(10);
  const [contextStart, contextEnd] = window(50);
  return (
    `error found in #${head - peekStart} byte of ...|${bytes.subarray(peekStart, peekEnd).toString('utf8')}|..., ` +
    `bigger context ...|${bytes.subarray(contextStart, contextEnd).toString('utf8')}|...`
  );
}
