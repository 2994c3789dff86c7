import { isSluiceError } from '../core/errors.ts';
import { EXIT } from './exit-codes.ts';
import type { CommandIO } from './args.ts';
import { COMMANDS } from './commands.ts';

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return `Usage: etl <command> [options]

Sluice runs streaming ETL pipelines over typed columnar batches on a fixed memory budget.

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
  .join('\n')}

Run \`etl <command> --help\` for a command's options.`;
}

/** The CLI: parses the command line and calls the same functions the library exports. Returns the exit code. */
export async function main(argv: string[], io?: Partial<CommandIO>): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    process.stderr.write(`\netl: ${signal} received, stopping (cleaning up; press Ctrl-C again to quit at once)\n`);
    controller.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const context: CommandIO = {
    stdout: io?.stdout ?? process.stdout,
    stderr: io?.stderr ?? process.stderr,
    signal: io?.signal ?? controller.signal,
  };
  try {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      context.stdout.write(`${mainHelp()}\n`);
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    const command = COMMANDS[name];
    if (command === undefined) {
      context.stderr.write(`etl: unknown command ${JSON.stringify(name)}.\n\n${mainHelp()}\n`);
      return EXIT.usage;
    }
    return await command.run(rest, context);
  } catch (error) {
    if (isSluiceError(error)) {
      context.stderr.write(`etl: [${error.code}] ${error.message}\n`);
      const usage = error.code === 'INVALID_OPTION' || error.code.startsWith('PIPELINE_') || error.code === 'MEMORY_BUDGET_TOO_SMALL' || error.code === 'SCHEDULE_INVALID' || error.code === 'DISTRIBUTED_UNSUPPORTED';
      return usage ? EXIT.usage : EXIT.failed;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      context.stderr.write(`etl: ${(error as Error).message}. See etl --help.\n`);
      return EXIT.usage;
    }
    context.stderr.write(`etl: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
