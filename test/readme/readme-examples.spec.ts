import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

/**
 * The documentation's examples are these files, shown verbatim as ```ts blocks: a change to either
 * shows up here. Each file is named with the page that shows it (README.md or a page of docs/), so
 * a block that went missing says where it was expected.
 */
const EXAMPLES: Record<string, string> = {
  // The Usage job is the file the testing examples import, so they test what the README shows.
  'app.module.ts': 'README.md',
  'billing.jobs.ts': 'README.md',
  'billing.jobs.spec.ts': 'docs/testing.md',
  'billing.app.spec.ts': 'docs/testing.md',
  'cache-warmer.ts': 'docs/configuration.md',
};

const root = new URL('../../', import.meta.url);

async function tsBlocks(page: string): Promise<string[]> {
  const text = await readFile(new URL(page, root), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);
}

describe('README and docs examples', () => {
  it.each(Object.entries(EXAMPLES))('shows test/readme/%s verbatim as a ts block in %s', async (file, page) => {
    const source = await readFile(new URL(file, import.meta.url), 'utf8');

    expect(await tsBlocks(page), `test/readme/${file}, shown verbatim as a \`\`\`ts block in ${page}`).toContain(source.trimEnd() + '\n');
  });
});
