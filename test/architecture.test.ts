/**
 * The shape of src/, drawn from its imports: layers import one way (lower first), connectors and stages
 * do not import each other, no file imports itself in a circle, and no file is longer than a reader can
 * hold unless it says why. Type-only imports count: an upward type is an upward arrow.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * Lowest first. A file may import files of its own group and of any group in a lower layer; groups that
 * share a layer (the stages and the file connectors; csv, ndjson and postgres) do not import each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['core'],
  ['batch'],
  ['codec', 'codegen'],
  ['schema'],
  ['contracts'],
  ['stages', 'connectors/files'],
  ['connectors/arrow', 'connectors/csv', 'connectors/ndjson', 'connectors/parquet', 'connectors/postgres'],
  ['runtime'],
  ['ops'],
  ['profile'],
  ['cli'],
  ['index.ts'],
];

/** Packages that talk to PostgreSQL or parse CSV, Parquet or Arrow belong to their connectors (and the stores of ops), not the engine. */
const CONNECTOR_PACKAGES = /^(pg|pg-(?!boss)[a-z-]+|csv-parse|hyparquet|snappyjs|apache-arrow)(\/|$)/;
const MAY_USE_CONNECTOR_PACKAGES = ['connectors/', 'ops/'];
/** The queue of distributed runs is pg-boss, and only ops/distributed talks to it. */
const QUEUE_PACKAGES = /^pg-boss(\/|$)/;
const MAY_USE_QUEUE_PACKAGES = ['ops/distributed/'];

const MAX_LINES = 500;
/** A longer file says why in a comment with these words. */
const LONG_ON_PURPOSE = /long on purpose:/;
/** Files still to be split: none now, and the list only shrinks. */
const PENDING_SPLIT = new Set<string>();

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function specifiers(text: string): string[] {
  const found: string[] = [];
  // `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`.
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?\bfrom\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/g;
  for (const match of text.matchAll(pattern)) found.push(match[1] ?? match[2] ?? match[3]);
  return found;
}

function groupOf(file: string): string {
  const path = relative(src, file).split('\\').join('/');
  if (!path.includes('/')) return path;
  const [top, next] = path.split('/');
  return top === 'connectors' ? `${top}/${next}` : top;
}

function layerOf(group: string): number {
  const layer = LAYERS.findIndex((groups) => groups.includes(group));
  assert.notEqual(layer, -1, `${group} is in no layer: add it to LAYERS in test/architecture.test.ts`);
  return layer;
}

const files = sourceFiles(src);
const graph = new Map<string, string[]>(
  files.map((file) => {
    const text = readFileSync(file, 'utf8');
    const local = specifiers(text)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => resolve(dirname(file), specifier));
    return [file, local];
  }),
);
const name = (file: string) => relative(src, file).split('\\').join('/');

test('every import of src/ points to its own group or a lower layer', () => {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const from = groupOf(file);
    for (const target of targets) {
      const to = groupOf(target);
      if (to === from) continue;
      if (layerOf(to) >= layerOf(from)) wrong.push(`${name(file)} → ${name(target)} (${from} may not import ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no circle of imports in src/', () => {
  const circles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') circles.push([...path.slice(path.indexOf(target)), target].map(name).join(' → '));
      else if (!state.has(target)) visit(target);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of files) if (!state.has(file)) visit(file);
  assert.deepEqual(circles, []);
});

test('every relative import of src/ names a file that exists', () => {
  const missing = [...graph].flatMap(([file, targets]) => targets.filter((target) => !graph.has(target)).map((target) => `${name(file)} → ${target}`));
  assert.deepEqual(missing, []);
});

test('only connectors and the stores of ops import the PostgreSQL and CSV packages', () => {
  const wrong: string[] = [];
  for (const file of files) {
    if (MAY_USE_CONNECTOR_PACKAGES.some((prefix) => name(file).startsWith(prefix))) continue;
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (CONNECTOR_PACKAGES.test(specifier)) wrong.push(`${name(file)} imports ${specifier}`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('only ops/distributed imports pg-boss', () => {
  const wrong: string[] = [];
  let seen = 0;
  for (const file of files) {
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (!QUEUE_PACKAGES.test(specifier)) continue;
      seen++;
      if (!MAY_USE_QUEUE_PACKAGES.some((prefix) => name(file).startsWith(prefix))) wrong.push(`${name(file)} imports ${specifier}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(seen > 0, 'no file imports pg-boss: the check sees nothing');
});

test(`no file of src/ is over ${MAX_LINES} lines unless a comment says why`, () => {
  const long = files
    .map((file) => ({ file, text: readFileSync(file, 'utf8') }))
    .filter(({ file, text }) => text.split('\n').length > MAX_LINES && !LONG_ON_PURPOSE.test(text) && !PENDING_SPLIT.has(name(file)))
    .map(({ file, text }) => `${name(file)} (${text.split('\n').length} lines)`);
  assert.deepEqual(long, []);
});

test('the layering test sees the imports it checks', () => {
  // A parser that found nothing would pass every test above.
  const run = [...graph].find(([file]) => name(file) === 'runtime/run.ts');
  assert.ok(run !== undefined && run[1].some((target) => name(target) === 'runtime/budget.ts'));
  assert.ok(files.length > 50);
});
