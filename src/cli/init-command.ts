// `etl init [folder]`: a pipeline project, the way users start one.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SluiceError } from '../core/errors.ts';
import { EXIT } from './exit-codes.ts';
import type { CommandIO } from './args.ts';

export const INIT_HELP = `Usage: etl init [folder] [options]

Writes a pipeline project into <folder> (default: the current folder): package.json depending on sluice
and zod, tsconfig.json for type-checking pipelines, pipelines/example.ts over a small CSV it writes
(data/orders.csv), .gitignore and a README. Then:
  cd <folder> && npm install && npx etl run pipelines/example.ts

Options:
  --force     Write into a folder that is not empty (files of the same names are replaced).
  -h, --help  This help.`;

export async function initCommand(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    io.stdout.write(`${INIT_HELP}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 1) {
    throw new SluiceError('INVALID_OPTION', `etl init takes one folder; got ${positionals.join(' ')}. See etl init --help.`);
  }
  const given = positionals[0] ?? '.';
  const folder = resolve(given);
  const existing = await entries(folder);
  if (existing.length > 0 && !values.force) {
    throw new SluiceError(
      'INVALID_OPTION',
      `${given} is not empty (it holds ${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}): etl init writes into an empty or new folder. Use --force to write there anyway (files of the same names are replaced).`,
      { option: 'folder' },
    );
  }
  const files = projectFiles(projectName(folder));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(folder, path, '..'), { recursive: true });
    await writeFile(join(folder, path), text);
  }
  const where = relative(process.cwd(), folder) || '.';
  io.stdout.write(
    `Wrote a pipeline project in ${where}: ${Object.keys(files).join(', ')}.\nNext:\n` +
      `${where === '.' ? '' : `  cd ${where}\n`}  npm install\n  npx etl run pipelines/example.ts\n`,
  );
  return EXIT.ok;
}

async function entries(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return [];
    throw error;
  }
}

/** npm's rules for a package name: lower case, URL-safe, no leading dot or underscore. */
function projectName(folder: string): string {
  const name = basename(folder).toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '');
  return name === '' ? 'pipelines' : name;
}

/** The versions this Sluice was built with, so a new project gets the same ones. */
function sluiceManifest(): { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> } {
  // Two folders down from the package's root in both trees (src/cli, dist/cli).
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
}

function projectFiles(name: string): Record<string, string> {
  const sluice = sluiceManifest();
  const packageJson = {
    name,
    private: true,
    type: 'module',
    scripts: {
      example: 'etl run pipelines/example.ts',
      check: 'tsc --noEmit',
      schedule: 'etl schedule pipelines/',
    },
    dependencies: { sluice: `^${sluice.version}`, zod: sluice.dependencies.zod },
    devDependencies: { typescript: sluice.devDependencies.typescript ?? '^5.9.3' },
  };
  return {
    'package.json': `${JSON.stringify(packageJson, null, 2)}\n`,
    'tsconfig.json': TSCONFIG,
    'pipelines/example.ts': EXAMPLE_PIPELINE,
    'data/orders.csv': EXAMPLE_CSV,
    '.gitignore': 'node_modules/\nout/\n.sluice/\n',
    'README.md': readme(name),
  };
}

// Type-checks pipelines only (`npm run check`); `etl run` loads them with no build step.
// erasableSyntaxOnly refuses what Node cannot strip (enums, parameter properties, namespaces): such a
// file would still run, through tsx, but start slower.
const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2023",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2023"],
    "types": ["node"],
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "verbatimModuleSyntax": true,
    "erasableSyntaxOnly": true,
    "skipLibCheck": true
  },
  "include": ["pipelines"]
}
`;

const EXAMPLE_CSV = `order_id,customer,country,status,quantity,unit_price,ordered_at
1,Ada,FR,paid,2,19.90,2026-01-05T09:12:00Z
2,Brian,DE,cancelled,1,5.00,2026-01-05T10:40:00Z
3,Chen,US,shipped,3,12.50,2026-01-06T14:03:00Z
4,Dora,GB,paid,1,99.00,2026-01-07T08:30:00Z
5,Emil,SE,refunded,4,3.25,2026-01-07T17:55:00Z
`;

const EXAMPLE_PIPELINE = `// Reads data/orders.csv, types it, keeps the orders that count, adds a total, writes out/orders.csv.
//   npx etl run pipelines/example.ts
import { join } from 'node:path';
import { z } from 'zod';
import { csv, pipeline, toCsv } from 'sluice';

const root = join(import.meta.dirname, '..');

const Order = z.object({
  order_id: z.number().int().min(0),
  customer: z.string(),
  country: z.string().length(2),
  status: z.enum(['paid', 'shipped', 'cancelled', 'refunded']),
  quantity: z.number().int().min(1),
  unit_price: z.number().min(0),
  ordered_at: z.iso.datetime(),
});

export default pipeline({ name: 'example', memory: '64MB' })
  .from(csv(join(root, 'data/orders.csv'), { schema: Order }))
  .filter((order) => order.status === 'paid' || order.status === 'shipped')
  .derive({ total: (order) => Math.round(order.quantity * order.unit_price * 100) / 100 })
  .to(toCsv(join(root, 'out/orders.csv')));
`;

function readme(name: string): string {
  return `# ${name}

Pipelines for [Sluice](https://www.npmjs.com/package/sluice), one file each in \`pipelines/\`.

- Run one: \`npx etl run pipelines/example.ts\` (writes \`out/orders.csv\`; \`--dry-run\` prints the plan).
- Type-check them all: \`npm run check\`.
- Schedule them: give a pipeline a \`schedule: '*/15 * * * *'\` option, then keep \`npx etl schedule pipelines/\`
  running (or add \`cd $PWD && npx etl run pipelines/example.ts --quiet\` to a crontab).
- \`etl runs\` prints the history; \`.sluice/\` holds the runs' state and locks (ignored by git).
`;
}
