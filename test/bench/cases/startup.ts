/**
 * Startup bench (issue 14): `etl run` of a small TypeScript pipeline (CSV → CSV, one row) against
 * `node -e 0` on the same Node: wall time and peak RSS as the OS reports them, medians of --runs runs
 * taken in turns (each round runs every case once, so a busy spell of the machine hits all of them).
 *
 *   npm run bench -- startup [--runs 9]
 *
 * Cases: the compiled package (dist/, built first by `npm run build`; the pipeline's types stripped by
 * Node) with a .ts and with a .js pipeline; a checkout's sources stripped by Node (register-typescript.js
 * keeps the stripped files); and the path before either, the sources compiled by tsx at every start
 * (the baseline). The idle peak RSS is taken on a 64 KB input. Targets: compiled .ts ≤ 0.4x
 * the tsx path and ≤ 3x `node -e 0`; idle peak RSS ≤ 1.3x `node -e 0`'s.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions, BenchResult } from '../main.ts';
import { median } from '../support/runs.ts';
import { measure } from './memory.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const etl = join(root, 'bin/etl.js');
const MB = 1024 * 1024;

const pipelineSource = (input: string, output: string, typed: boolean) =>
  `import { csv, pipeline, toCsv } from 'sluice';\n` +
  `const input${typed ? ': string' : ''} = ${JSON.stringify(input)};\n` +
  `export default pipeline({ name: 'startup' }).from(csv(input)).to(toCsv(${JSON.stringify(output)}));\n`;

interface Case {
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export async function run({ values, log }: BenchOptions): Promise<BenchResult[]> {
  const runs = Number(values.runs ?? 9);
  log('building dist/ (npm run build)');
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stderr}${built.stdout}`);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-startup-'));
  try {
    const oneRow = join(dir, 'one-row.csv');
    await writeFile(oneRow, 'id,name\n1,ada\n');
    const sixtyFour = join(dir, '64kb.csv');
    const line = 'id,name,amount\n';
    await writeFile(sixtyFour, line + '1234567,some name here,1234.56\n'.repeat(Math.ceil((64 * 1024) / 32)));
    const files = {
      ts: join(dir, 'pipeline.ts'),
      js: join(dir, 'pipeline.js'),
      idle: join(dir, 'idle.ts'),
    };
    await writeFile(files.ts, pipelineSource(oneRow, join(dir, 'out-ts.csv'), true));
    await writeFile(files.js, pipelineSource(oneRow, join(dir, 'out-js.csv'), false));
    await writeFile(files.idle, pipelineSource(sixtyFour, join(dir, 'out-idle.csv'), true));
    // The baseline is how etl started before the sources were erasable: tsx compiling Sluice and the
    // pipeline at every start, without register-typescript.js (whose cache of stripped files would
    // serve tsx too). Its pipeline files sit in the repository (a git-ignored folder), where 'sluice'
    // resolves to the package itself.
    await mkdir(scratch, { recursive: true });
    const baseline = { ts: join(scratch, 'pipeline.ts'), idle: join(scratch, 'idle.ts') };
    await writeFile(baseline.ts, pipelineSource(oneRow, join(dir, 'out-tsx.csv'), true));
    await writeFile(baseline.idle, pipelineSource(sixtyFour, join(dir, 'out-tsx-idle.csv'), true));
    const dist = { SLUICE_FROM: 'dist' };
    const cases: Case[] = [
      { name: 'node -e 0', args: ['-e', '0'] },
      { name: 'etl run .ts, tsx over the sources (baseline)', args: tsxRun(baseline.ts) },
      { name: 'etl run .ts, the sources stripped by Node', args: [etl, 'run', files.ts, '--quiet'], env: { SLUICE_FROM: 'src' } },
      { name: 'etl run .ts, compiled', args: [etl, 'run', files.ts, '--quiet'], env: dist },
      { name: 'etl run .js, compiled', args: [etl, 'run', files.js, '--quiet'], env: dist },
      { name: 'etl run .ts, compiled, 64 KB input', args: [etl, 'run', files.idle, '--quiet'], env: dist },
      { name: 'etl run .ts, tsx, 64 KB input', args: tsxRun(baseline.idle) },
    ];
    const wall = new Map<string, number[]>(cases.map((each) => [each.name, []]));
    const rss = new Map<string, number[]>(cases.map((each) => [each.name, []]));
    const cpu = new Map<string, number[]>(cases.map((each) => [each.name, []]));
    // One warm-up round (disk cache, npm's and Node's compile caches), not counted.
    for (let round = 0; round <= runs; round++) {
      for (const each of cases) {
        const measured = await measure(each.args, each.env, 120_000);
        if (measured.exitCode !== 0) throw new Error(`${each.name} exited ${measured.exitCode}:\n${measured.stderr}`);
        if (round === 0) continue;
        wall.get(each.name)!.push(measured.elapsedMs);
        rss.get(each.name)!.push(measured.peakRss);
        if (measured.cpuSeconds !== undefined) cpu.get(each.name)!.push(measured.cpuSeconds * 1000);
      }
      log(`round ${round}/${runs}`);
    }
    const results: BenchResult[] = [];
    for (const each of cases) {
      results.push({ case: 'startup', name: `${each.name}: wall`, value: median(wall.get(each.name)!), unit: 'ms', note: `median of ${runs}` });
      results.push({ case: 'startup', name: `${each.name}: peak RSS`, value: median(rss.get(each.name)!) / MB, unit: 'MB' });
      if (cpu.get(each.name)!.length > 0) results.push({ case: 'startup', name: `${each.name}: CPU`, value: median(cpu.get(each.name)!), unit: 'ms', note: 'user + system' });
    }
    const wallOf = (name: string) => median(wall.get(name)!);
    const cpuOf = (name: string) => median(cpu.get(name)!);
    const rssOf = (name: string) => median(rss.get(name)!);
    const ratio = (name: string, value: number, target: number) =>
      results.push({ case: 'startup', name, value, unit: 'x', note: `target ≤ ${target}x: ${value <= target ? 'met' : 'missed'}` });
    const [node, tsx, sources, compiled, , idle] = cases.map((each) => each.name);
    ratio('compiled .ts / tsx path, wall', wallOf(compiled) / wallOf(tsx), 0.4);
    ratio('sources stripped .ts / tsx path, wall', wallOf(sources) / wallOf(tsx), 0.4);
    ratio('compiled .ts / node -e 0, wall', wallOf(compiled) / wallOf(node), 3);
    // On a busy machine wall time is mostly waiting for a core; CPU time is what the start itself costs.
    if (cpu.get(node)!.length > 0) {
      ratio('compiled .ts / tsx path, CPU', cpuOf(compiled) / cpuOf(tsx), 0.4);
      ratio('sources stripped .ts / tsx path, CPU', cpuOf(sources) / cpuOf(tsx), 0.4);
      ratio('compiled .ts / node -e 0, CPU', cpuOf(compiled) / cpuOf(node), 3);
    }
    ratio('compiled, 64 KB input / node -e 0, peak RSS', rssOf(idle) / rssOf(node), 1.3);
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
}

const scratch = join(root, '.scratch-startup');

/** `etl run <file>` the way it started before: the CLI's sources imported through tsx. */
function tsxRun(file: string): string[] {
  const mainUrl = new URL('../../../src/cli/main.ts', import.meta.url).href;
  const code = `const { main } = await import(${JSON.stringify(mainUrl)}); process.exitCode = await main(['run', ${JSON.stringify(file)}, '--quiet']);`;
  return ['--conditions=sluice-source', '--import', 'tsx', '--input-type=module', '-e', code];
}
