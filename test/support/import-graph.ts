import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';

/** File (relative to the root, with `/`) -> the files it imports, relative to the same root. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/**
 * The imports between the TypeScript files under `root`: static `import`/`export ... from`,
 * type-only ones included (a type is a dependency too), and `import('...')`. Only relative
 * specifiers count; packages are outside the graph.
 */
export function readImportGraph(root: string): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(root)) {
    const source = readFileSync(file, 'utf8');
    const imports = new Set<string>();
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
      const specifier = (match[1] ?? match[2])!.replace(/\.js$/, '.ts');
      imports.add(toPosix(relative(root, resolve(dirname(file), specifier))));
    }
    graph.set(toPosix(relative(root, file)), [...imports]);
  }
  return graph;
}

/** The import circles of the graph: each a list of files that import each other (Tarjan's SCCs). */
export function findCircles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const circle: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      circle.push(member);
    } while (member !== file);
    const selfImport = (graph.get(file) ?? []).includes(file);
    if (circle.length > 1 || selfImport) circles.push(circle.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return circles;
}

/** One layer: a rank (higher layers may import lower ones) and the paths it holds. */
export interface Layer {
  rank: number;
  name: string;
  /** A file (`index.ts`) or a folder (`gate/`), relative to the root. */
  paths: string[];
}

/**
 * The layers table of ARCHITECTURE.md: rows `| <rank> | <name> | `path`, `path/` | ... |`.
 * The document is the rule: the test reads it, so the two cannot drift apart.
 */
export function parseLayers(markdown: string): Layer[] {
  const section = markdown.split(/\n## /).find((part) => part.startsWith('Layers'));
  if (section === undefined) throw new Error('ARCHITECTURE.md has no "## Layers" section');
  const layers: Layer[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    if (cells.length < 4 || !/^\d+$/.test(cells[1]!)) continue;
    const paths = [...cells[3]!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
    layers.push({ rank: Number(cells[1]), name: cells[2]!, paths });
  }
  return layers;
}

/** The layer of a file: the one whose path matches it most specifically (a file over its folder). */
export function layerOf(file: string, layers: readonly Layer[]): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of layers) {
    for (const path of layer.paths) {
      const matches = path.endsWith('/') ? file.startsWith(path) : file === path;
      if (matches && (best === undefined || path.length > best.length)) best = { layer, length: path.length };
    }
  }
  return best?.layer;
}

/** Every import from a lower layer to a higher one, and every file that belongs to no layer. */
export function checkLayers(graph: ImportGraph, layers: readonly Layer[]): { upward: string[]; unplaced: string[] } {
  const upward: string[] = [];
  const unplaced: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file, layers);
    if (from === undefined) {
      unplaced.push(file);
      continue;
    }
    for (const target of imports) {
      const to = layerOf(target, layers);
      if (to !== undefined && to.rank > from.rank) upward.push(`${file} (${from.name}) imports ${target} (${to.name})`);
    }
  }
  return { upward, unplaced };
}

function tsFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function toPosix(path: string): string {
  return path.split('\\').join(posix.sep);
}
