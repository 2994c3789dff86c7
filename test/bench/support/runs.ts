/** Repeated bench runs: medians, and pieces of work that take turns. */
/** The middle value (the mean of the middle two for an even count): what the benches report of repeated runs. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Each piece of work run `runs` times, the pieces taking turns (A, B, A, B…: a burst of load on a
 * shared machine then hits both), after one warm-up run each (JIT, page cache). Medians of wall time
 * and of process CPU time, in seconds (a peer that runs on one thread inside this process, such as
 * DuckDB with threads=1, is billed the same way, and CPU time is far steadier than wall time on a
 * loaded machine).
 */
export async function alternateRuns(pieces: Record<string, () => Promise<unknown>>, runs: number, log: (message: string) => void): Promise<Record<string, { wall: number; cpu: number }>> {
  const times = Object.fromEntries(Object.keys(pieces).map((name) => [name, { wall: [] as number[], cpu: [] as number[] }]));
  for (let run = -1; run < runs; run++) {
    for (const [name, work] of Object.entries(pieces)) {
      log(`${name} (${run < 0 ? 'warm-up' : `${run + 1}/${runs}`})`);
      const started = performance.now();
      const cpu = process.cpuUsage();
      await work();
      const used = process.cpuUsage(cpu);
      if (run < 0) continue;
      times[name].wall.push((performance.now() - started) / 1000);
      times[name].cpu.push((used.user + used.system) / 1e6);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([name, { wall, cpu }]) => [name, { wall: median(wall), cpu: median(cpu) }]));
}
