import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

/** The README's examples are these files, shown verbatim: a change to either shows up here. */
const EXAMPLES = ['billing.jobs.spec.ts', 'billing.app.spec.ts', 'cache-warmer.ts'];

describe('README examples', () => {
  it.each(EXAMPLES)('shows test/readme/%s verbatim as a ts block', async (file) => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
    const source = await readFile(new URL(file, import.meta.url), 'utf8');

    expect(blocks).toContain(source.trimEnd() + '\n');
  });
});
