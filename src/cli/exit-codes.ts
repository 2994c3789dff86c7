/** Exit codes of `etl`, stable for cron and scripts. */
export const EXIT = {
  ok: 0,
  /** The run failed (bad input, a failing stage, a database error, …). */
  failed: 1,
  /** The command line or the pipeline file is wrong. */
  usage: 2,
  /** The run was skipped because the same pipeline is already running (its lock is held). */
  skipped: 3,
  /** Stopped by SIGINT/SIGTERM. */
  interrupted: 130,
} as const;
