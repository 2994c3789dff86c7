// The table of `etl` commands, one file each. The CLI is a leaf: nothing in src/ imports it.
// Each command's file is imported when that command runs, not before: `etl run` does not load the
// scheduler, the worker, pg-boss's queue or the terminal view, which keeps its start short.
import type { Command } from './args.ts';

export const COMMANDS: Readonly<Record<string, Command>> = {
  run: { summary: 'run a pipeline file', run: async (argv, io) => (await import('./run-command.ts')).runCommand(argv, io) },
  profile: {
    summary: 'estimate memory, types and a schema from a sample of a file',
    run: async (argv, io) => (await import('./profile-command.ts')).profileCommand(argv, io),
  },
  runs: { summary: 'print the run history (etl runs [pipeline] [--json])', run: async (argv, io) => (await import('./runs-command.ts')).runsCommand(argv, io) },
  schedule: {
    summary: 'run pipelines on their cron schedules, each in its own process',
    run: async (argv, io) => (await import('./schedule-command.ts')).scheduleCommand(argv, io),
  },
  top: {
    summary: 'a live view of the runs going on on this machine, refreshed each second',
    run: async (argv, io) => (await import('./top-command.ts')).topCommand(argv, io),
  },
  worker: {
    summary: 'run the partitions of distributed runs (etl run --distributed), on any host',
    run: async (argv, io) => (await import('./worker-command.ts')).workerCommand(argv, io),
  },
  init: { summary: 'scaffold a pipeline project (etl init [folder])', run: async (argv, io) => (await import('./init-command.ts')).initCommand(argv, io) },
};
