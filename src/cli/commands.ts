// Commands beyond `run` register themselves here, one file each.
import { registerCommand } from './main.ts';
import './profile-command.ts';
import { RUNS_HELP, runsCommand } from './runs-command.ts';
import { SCHEDULE_HELP, scheduleCommand } from './schedule-command.ts';

registerCommand('runs', { summary: 'print the run history (etl runs [pipeline] [--json])', run: runsCommand, help: RUNS_HELP });
registerCommand('schedule', { summary: 'run pipelines on their cron schedules, each in its own process', run: scheduleCommand, help: SCHEDULE_HELP });
