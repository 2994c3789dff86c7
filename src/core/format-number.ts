/**
 * Numbers for people, as `Intl.NumberFormat('en-US')` writes them (`1,234,567.891`: thousands
 * separated by commas, at most three decimals) without Intl: building the first NumberFormat loads
 * ICU's locale data, about a tenth of a second of every `etl run`'s start.
 */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  const sign = value < 0 || Object.is(value, -0) ? '-' : '';
  const magnitude = Math.abs(value);
  // Like ICU, round the shortest decimal that reads back as this double (String's), half away from
  // zero: 1.0005 is 1.001, although the double itself is a hair below 1.0005.
  if (magnitude >= 1e21) return sign + group(wholeDigits(String(magnitude)));
  if (magnitude < 0.0005) return `${sign}0`;
  const text = String(magnitude);
  const point = text.indexOf('.');
  if (point === -1) return sign + group(text);
  const fraction = text.slice(point + 1);
  if (fraction.length <= 3) return `${sign}${group(text.slice(0, point))}.${fraction}`;
  let digits = text.slice(0, point) + fraction.slice(0, 3);
  if (fraction.charCodeAt(3) >= 53 /* '5' */) digits = increment(digits);
  const whole = digits.slice(0, -3) || '0';
  const kept = digits.slice(-3).replace(/0+$/, '');
  return `${sign}${group(whole)}${kept === '' ? '' : `.${kept}`}`;
}

function group(whole: string): string {
  let grouped = '';
  for (let end = whole.length; end > 0; end -= 3) grouped = whole.slice(Math.max(0, end - 3), end) + (grouped === '' ? '' : `,${grouped}`);
  return grouped;
}

/** Adds one to a string of decimal digits. */
function increment(digits: string): string {
  let k = digits.length - 1;
  while (k >= 0 && digits[k] === '9') k--;
  if (k < 0) return `1${'0'.repeat(digits.length)}`;
  return digits.slice(0, k) + String.fromCharCode(digits.charCodeAt(k) + 1) + '0'.repeat(digits.length - k - 1);
}

/** `1.5e+22` as ICU writes it: the shortest digits, then zeros. */
function wholeDigits(exponential: string): string {
  const [mantissa, exponent] = exponential.split('e');
  const digits = mantissa.replace('.', '');
  return digits + '0'.repeat(Number(exponent) + 1 - digits.length);
}
