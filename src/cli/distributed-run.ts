// `etl run --distributed`: queue the run's partitions for etl workers, follow it, and say how it ended.
import type { Pipeline } from '../runtime/pipeline.ts';
import { queuePlace } from '../ops/distributed/place.ts';
import type { PartitionRow } from '../ops/distributed/records.ts';
import { submitRun } from '../ops/distributed/submit.ts';
import { EXIT } from './exit-codes.ts';
import type { CommandIO } from './args.ts';

export async function runDistributed(pipeline: Pipeline<any>, file: string, flags: { connection?: string; detach: boolean; quiet: boolean }, io: CommandIO): Promise<number> {
  const place = queuePlace(pipeline.distributed, flags.connection);
  const submitted = await submitRun(pipeline, {
    file,
    place,
    detach: flags.detach,
    signal: io.signal,
    onProgress: flags.quiet ? undefined : (line) => io.stderr.write(`etl: ${line}\n`),
  });
  if (submitted.nothing !== undefined) {
    if (!flags.quiet) io.stderr.write(`etl: ${submitted.nothing}\n`);
    return EXIT.ok;
  }
  if (flags.detach) {
    io.stdout.write(`${submitted.runId}\n`);
    return EXIT.ok;
  }
  const { run, partitions } = submitted;
  if (run === undefined || partitions === undefined) {
    io.stderr.write(`etl: stopped waiting; run ${submitted.runId} goes on on the workers (etl runs ${file} shows how it ends)\n`);
    return EXIT.interrupted;
  }
  const committed = partitions.filter((row) => row.status === 'committed');
  const sum = (pick: (row: PartitionRow) => number | undefined) => committed.reduce((total, row) => total + (pick(row) ?? 0), 0);
  const attempts = partitions.reduce((total, row) => total + row.attempts, 0);
  const took = `${((Date.parse(run.endedAt!) - Date.parse(run.startedAt)) / 1000).toFixed(1)} s`;
  const lines = [
    `${run.pipeline}: ${run.status} in ${took} (distributed run ${run.runId})`,
    `  rows       read ${sum((row) => row.rowsRead)}, written ${sum((row) => row.rowsWritten)}, rejected ${sum((row) => row.rowsRejected)}`,
    `  partitions ${committed.length} of ${partitions.length} committed, ${attempts} attempts`,
  ];
  if (run.error !== undefined) lines.push(`  error      [${run.error.code}] ${run.error.message}`);
  if (!flags.quiet) io.stdout.write(`${lines.join('\n')}\n`);
  else if (run.error !== undefined) io.stderr.write(`etl: [${run.error.code}] ${run.error.message}\n`);
  return run.status === 'succeeded' ? EXIT.ok : EXIT.failed;
}
