import { SluiceError } from './errors.ts';

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  k: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a byte size: a number of bytes, or text like `256MB`, `1.5 GiB`, `512k`. Units are binary
 * (1 MB = 1024 KB), as memory is counted.
 */
export function parseBytes(value: string | number, option = 'memory'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value > 0) return Math.floor(value);
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
    const unit = match === null ? undefined : UNITS[(match[2] || 'b').toLowerCase()];
    if (match !== null && unit !== undefined) {
      const bytes = Math.floor(Number(match[1]) * unit);
      if (bytes > 0) return bytes;
    }
  }
  throw new SluiceError(
    'INVALID_OPTION',
    `Expected \`${option}\` to be a size such as 256MB, 1GB or 512KB (a number of bytes above 0); got ${JSON.stringify(value)}.`,
    { option, value: JSON.stringify(value), expected: 'a size such as 256MB, 1GB or 512KB' },
  );
}

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes} B`;
  if (abs < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (abs < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
