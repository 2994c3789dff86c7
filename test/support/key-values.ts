import type { DType } from '../../src/index.ts';

/**
 * The key value number `pick` of a dtype, for differential tests of hash operators (group-by, join):
 * -0, 0 and NaN among the floats, Dates for timestamps and dates, a few values only for bool and int8.
 */
export function keyValue(dtype: DType, pick: number): unknown {
  switch (dtype) {
    case 'bool':
      return pick % 2 === 0;
    case 'int8':
      return (pick % 200) - 100;
    case 'uint16':
      return pick % 60000;
    case 'int32':
      return pick - 1000;
    case 'float64':
      return pick === 0 ? -0 : pick === 1 ? 0 : pick === 2 ? NaN : pick / 4;
    case 'timestamp':
      return new Date(1_700_000_000_000 + pick * 1000);
    case 'date':
      return new Date((19000 + pick) * 86_400_000);
    default:
      return `key-${pick}`;
  }
}
