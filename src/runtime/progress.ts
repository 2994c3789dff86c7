import { formatNumber } from '../core/format-number.ts';
import { formatBytes } from '../core/bytes.ts';
import type { ProgressEvent } from './run.ts';


/**
 * Progress of a run: a bar redrawn in place on a terminal (bytes read of total, rows/s, ETA), plain
 * log lines every few seconds otherwise (cron, CI, files).
 */
export function createProgress(stream: NodeJS.WriteStream, interactive = stream.isTTY === true) {
  let last = Date.now();
  let drawn = false;
  const every = interactive ? 100 : 5000;
  return {
    update(event: ProgressEvent): void {
      const now = Date.now();
      if (now - last < every) return;
      last = now;
      const seconds = Math.max(event.elapsedMs / 1000, 0.001);
      const rate = Math.round(event.rowsRead / seconds);
      const total = event.totalBytes;
      const fraction = total ? Math.min(1, event.bytesRead / total) : undefined;
      const eta = fraction && fraction > 0 ? Math.round(seconds / fraction - seconds) : undefined;
      const etaText = eta === undefined ? '' : ` ETA ${Math.floor(eta / 60)}:${String(eta % 60).padStart(2, '0')}`;
      if (interactive) {
        const width = 24;
        const filled = fraction === undefined ? 0 : Math.round(fraction * width);
        const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
        const percent = fraction === undefined ? '' : ` ${(fraction * 100).toFixed(0).padStart(3)}%`;
        stream.write(
          `\r${bar}${percent} ${formatBytes(event.bytesRead)}${total ? ` / ${formatBytes(total)}` : ''}  ${formatNumber(rate)} rows/s${etaText}\u001b[K`,
        );
        drawn = true;
      } else {
        const percent = fraction === undefined ? '' : ` (${(fraction * 100).toFixed(1)}%)`;
        stream.write(
          `${new Date().toISOString()} ${event.pipeline}: ${formatNumber(event.rowsRead)} rows, ${formatBytes(event.bytesRead)} read${percent}, ${formatNumber(rate)} rows/s${etaText}\n`,
        );
      }
    },
    done(): void {
      if (drawn) stream.write('\r\u001b[K');
      drawn = false;
    },
  };
}
