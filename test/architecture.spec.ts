import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLayers, findCircles, parseLayers, readImportGraph, type ImportGraph } from './support/import-graph.js';

/**
 * The house rules of lib/ (issue 13): no import circles, and no import from a lower layer to a
 * higher one, with the layers as ARCHITECTURE.md writes them down. A new file must be placed in
 * a layer there, so the document stays the map of the code.
 */

const root = fileURLToPath(new URL('../lib', import.meta.url));
const layers = parseLayers(readFileSync(new URL('../ARCHITECTURE.md', import.meta.url), 'utf8'));
const graph = readImportGraph(root);

describe('the layers of lib/', () => {
  it('reads the layers and the import graph (a parser that finds nothing would pass everything)', () => {
    expect(layers.length).toBeGreaterThanOrEqual(6);
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('leader-election.module.ts')).toContain('leader-election.orchestrator.ts');
    // Type-only and dynamic imports count.
    expect(graph.get('gate/claimed-runs.ts')).toContain('gate/gated-job.ts');
    expect(graph.get('observability/observability.installer.ts')).toContain('observability/leader-election.metrics.ts');
  });

  it('has no import circle', () => {
    expect(findCircles(graph)).toEqual([]);
  });

  it('places every file in a layer of ARCHITECTURE.md', () => {
    expect(checkLayers(graph, layers).unplaced).toEqual([]);
  });

  it('never imports from a lower layer to a higher one', () => {
    expect(checkLayers(graph, layers).upward).toEqual([]);
  });
});

describe('the checks themselves', () => {
  const fake: ImportGraph = new Map([
    ['gate/a.ts', ['gate/b.ts', 'leadership/s.ts']],
    ['gate/b.ts', ['gate/a.ts']],
    ['leadership/s.ts', ['observability/o.ts']],
    ['observability/o.ts', []],
    ['stray.ts', []],
  ]);
  const fakeLayers = parseLayers(
    '# x\n\n## Layers\n| rank | layer | paths |\n|---|---|---|\n| 3 | observers | `observability/` |\n| 2 | gate | `gate/` |\n| 1 | leadership | `leadership/`, `leadership/s.ts` |\n',
  );

  it('find a circle', () => {
    expect(findCircles(fake)).toEqual([['gate/a.ts', 'gate/b.ts']]);
  });

  it('find an upward import and a file in no layer', () => {
    expect(checkLayers(fake, fakeLayers)).toEqual({
      upward: ['leadership/s.ts (leadership) imports observability/o.ts (observers)'],
      unplaced: ['stray.ts'],
    });
  });
});
