// The table of `etl` commands, one file each. The CLI is a leaf: nothing in src/ imports it.
import type { Command } from './args.ts';
import { INIT_HELP, initCommand } from './init-command.ts';
import { PROFILE_HELP, profileCommand } from './profile-command.ts';
import { RUN_HELP, runCommand } from './run-command.ts';
import { RUNS_HELP, runsCommand } from './runs-command.ts';
import { SCHEDULE_HELP, scheduleCommand } from './schedule-command.ts';
import { TOP_HELP, topCommand } from './top-command.ts';
import { WORKER_HELP, workerCommand } from './worker-command.ts';

export const COMMANDS: Readonly<Record<string, Command>> = {
  run: { summary: 'run a pipeline file', run: runCommand, help: RUN_HELP },
  profile: { summary: 'estimate memory, types and a schema from a sample of a file', run: profileCommand, help: PROFILE_HELP },
  runs: { summary: 'print the run history (etl runs [pipeline] [--json])', run: runsCommand, help: RUNS_HELP },
  schedule: { summary: 'run pipelines on their cron schedules, each in its own process', run: scheduleCommand, help: SCHEDULE_HELP },
  top: { summary: 'a live view of the runs going on on this machine, refreshed each second', run: topCommand, help: TOP_HELP },
  worker: { summary: 'run the partitions of distributed runs (etl run --distributed), on any host', run: workerCommand, help: WORKER_HELP },
  init: { summary: 'scaffold a pipeline project (etl init [folder])', run: initCommand, help: INIT_HELP },
};
