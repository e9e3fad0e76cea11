import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Every relative link of README.md and docs/*.md resolves: the file (or folder) exists, and an
 * `#anchor` names a heading of the target page, slugged as GitHub slugs them. A page that moves, or
 * a heading that is reworded, breaks the links to it here rather than on GitHub.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const PAGES = ['README.md', ...readdirSync(join(root, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)];

/** The text outside fenced code blocks, so a `# comment` in a shell block is not taken for a heading. */
function prose(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/**
 * GitHub's anchor for a heading (github-slugger): the rendered text in lower case, every character
 * but letters, digits, marks, '_', '-' and spaces dropped (backticks included), spaces to '-'.
 */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link shows its text
    .replace(/[*`]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a page's headings; a repeated heading gets -1, -2, ... as on GitHub. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(markdown)) {
    const match = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!match) continue;
    const base = slug(match[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

interface Link {
  page: string;
  line: number;
  target: string;
}

/** The relative links of a page: inline links and images outside code, not http(s), mailto or the like. */
function relativeLinks(page: string, markdown: string): Link[] {
  const links: Link[] = [];
  let fenced = false;
  markdown.split('\n').forEach((text, index) => {
    if (/^\s*```/.test(text)) fenced = !fenced;
    if (fenced || /^\s*```/.test(text)) return;
    const outsideCode = text.replace(/`[^`]*`/g, (code) => (/\]\(/.test(code) ? '' : code));
    for (const match of outsideCode.matchAll(/!?\[(?:[^\]]|`[^`]*`)*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
      links.push({ page, line: index + 1, target });
    }
  });
  return links;
}

/** Why a link does not resolve, or undefined when it does. */
function problem({ page, target }: Link): string | undefined {
  const [path, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = path === '' ? join(root, page) : join(dirname(join(root, page)), decodeURIComponent(path));
  const shown = relative(root, file) || '.';
  if (!existsSync(file)) return `${shown} does not exist`;
  if (anchor === undefined) return undefined;
  if (statSync(file).isDirectory() || !file.endsWith('.md')) return `#${anchor} points into ${shown}, which is not a Markdown page`;
  const known = anchors(readFileSync(file, 'utf8'));
  return known.has(anchor) ? undefined : `${shown} has no heading with the anchor #${anchor} (it has: ${[...known].join(', ')})`;
}

describe('links in README.md and docs/*.md', () => {
  it('slugs headings as GitHub does', () => {
    // Anchors the README linked to while it held every section, as GitHub rendered them.
    expect(slug("`serveSidecarApi`: the sidecar's answer, from the app's own election")).toBe('servesidecarapi-the-sidecars-answer-from-the-apps-own-election');
    expect(slug('Each tick once: claims, misfires, overlap')).toBe('each-tick-once-claims-misfires-overlap');
    expect(slug('The `nestjs-cluster-leader-elector` command')).toBe('the-nestjs-cluster-leader-elector-command');
    expect(slug('Options of `@LeaderOnly()`')).toBe('options-of-leaderonly');
    expect(slug('Path 2, any app: swap the sidecar container for `nestjs-cluster-leader-elector`')).toBe(
      'path-2-any-app-swap-the-sidecar-container-for-nestjs-cluster-leader-elector',
    );
  });

  it('finds the links of every page', () => {
    const total = PAGES.reduce((sum, page) => sum + relativeLinks(page, readFileSync(join(root, page), 'utf8')).length, 0);
    expect(PAGES).toContain('docs/README.md');
    expect(total).toBeGreaterThan(40); // a parser that finds nothing would pass everything
  });

  it.each(PAGES)('%s: every relative link resolves, anchors included', (page) => {
    const broken = relativeLinks(page, readFileSync(join(root, page), 'utf8'))
      .map((link) => ({ link, problem: problem(link) }))
      .filter(({ problem }) => problem !== undefined)
      .map(({ link, problem }) => `${link.page}:${link.line}: (${link.target}): ${problem}`);
    expect(broken).toEqual([]);
  });

  it('links to every page of docs/ from the README and from docs/README.md', () => {
    for (const index of ['README.md', 'docs/README.md']) {
      const linked = new Set(
        relativeLinks(index, readFileSync(join(root, index), 'utf8')).map(({ target }) => relative(root, join(dirname(join(root, index)), target.split('#')[0]))),
      );
      const missing = PAGES.filter((page) => page.startsWith('docs/') && page !== index && !linked.has(page));
      expect(missing, `pages of docs/ that ${index} does not link to`).toEqual([]);
    }
  });
});
