// C's number readers, as memcached's option parsing uses them (atoi, atof, strtol base 8,
// safe_strtoul, safe_strtol, safe_strtoll), so an option means here what it means to memcached.

import { parseI32Wrapped, parseI64, parseU32, parseU64 } from '../protocol/numbers.ts';

/** glibc atoi: (int)strtol(s, 10): leading blanks, a sign, digits; junk after is ignored; none is 0. */
export function atoi(s: string): number {
  const m = /^[\s]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  let v = BigInt(m[1]);
  const LONG_MAX = (1n << 63n) - 1n;
  if (v > LONG_MAX) v = LONG_MAX; else if (v < -LONG_MAX - 1n) v = -LONG_MAX - 1n;
  return Number(BigInt.asIntN(32, v));
}

/** atof: the longest prefix strtod reads (decimal, a hex float as glibc reads "0x1.4p0", inf, nan), 0 when none. */
export function atof(s: string): number {
  const special = /^\s*([+-]?)(inf(inity)?|nan)/i.exec(s); // strtod's words for the values that are not numbers
  if (special !== null) return special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const hex = /^\s*([+-]?)(0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?)/i.exec(s);
  if (hex !== null) return (hex[1] === '-' ? -1 : 1) * hexFloat(hex[2].toLowerCase());
  const m = /^[\s]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(s);
  return m ? Number(m[0].trim()) : 0;
}

/** strtol(s, NULL, 8) as -a reads its mask. */
export function strtolOctal(s: string): number {
  const m = /^[\s]*([+-]?)([0-7]+)/.exec(s);
  if (!m) return 0;
  const v = parseInt(m[2], 8);
  return m[1] === '-' ? -v : v;
}

/**
 * memcached's safe_strtoul over a whole string, -1 = rejected: the request parser's reader (a 64-bit
 * strtoul cut to 32 bits, so "-0" is 0 and "4294967296" is 0). UTF-8, so no character reads as a digit.
 */
export function safeStrtoul(s: string): number {
  const bytes = Buffer.from(s, 'utf8');
  const v = parseU32(bytes, 0, bytes.length);
  return Number.isNaN(v) ? -1 : v;
}

/** memcached's safe_strtoull (a 64-bit unsigned value, as a double: exact below 2^53); -1 = rejected. */
export function safeStrtoull(s: string): number {
  const bytes = Buffer.from(s, 'utf8');
  const v = parseU64(bytes, 0, bytes.length);
  return Number.isNaN(v) ? -1 : v;
}

/** memcached's safe_strtoll (a 64-bit signed value, as a double); null = rejected. */
export function safeStrtoll(s: string): number | null {
  const bytes = Buffer.from(s, 'utf8');
  const v = parseI64(bytes, 0, bytes.length);
  return Number.isNaN(v) ? null : v;
}

/** memcached's safe_strtol into an int32; null = rejected. */
export function safeStrtol(s: string): number | null {
  const bytes = Buffer.from(s, 'utf8');
  const v = parseI32Wrapped(bytes, 0, bytes.length);
  return Number.isNaN(v) ? null : v;
}

/**
 * memcached's safe_strtod: the whole string a strtod number (decimal or hex float, inf, nan), trailing blank
 * allowed; null = rejected, as is a value strtod reports out of range (ERANGE: overflow or underflow).
 */
export function safeStrtod(s: string): number | null {
  const m = /^\s*([+-]?)(inf(?:inity)?|nan(?:\([0-9a-z_]*\))?|0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(\s.*)?$/is.exec(s);
  if (!m) return null;
  const body = m[2].toLowerCase();
  const sign = m[1] === '-' ? -1 : 1;
  if (body.startsWith('inf')) return sign * Infinity;
  if (body.startsWith('nan')) return NaN;
  const v = body.startsWith('0x') ? hexFloat(body) : Number(body);
  if (!Number.isFinite(v)) return null; // overflow
  if (v === 0 && /[1-9a-f]/.test(body.replace(/^0x/, '').replace(/[ep][+-]?\d+$/, ''))) return null; // underflow
  return sign * v;
}

function hexFloat(body: string): number {
  const [, int, frac = '', exp = '0'] = /^0x([0-9a-f]*)\.?([0-9a-f]*)(?:p([+-]?\d+))?$/.exec(body) ?? [];
  const mantissa = parseInt((int ?? '') + frac || '0', 16);
  return mantissa * 2 ** (Number(exp) - 4 * frac.length);
}

/**
 * printf's %.<digits>f as glibc prints it: the double's exact decimal value rounded half to even (1.125 at two
 * digits is 1.12, where toFixed says 1.13), every integer digit written out (toFixed turns to exponents from
 * 1e21), and inf, -inf and nan as C spells them.
 */
export function printfFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const [whole, frac] = exactDecimal(Math.abs(x));
  const kept = frac.padEnd(digits, '0').slice(0, digits), rest = frac.slice(digits);
  let n = BigInt(whole + kept);
  const half = rest.length > 0 && rest[0] >= '5';
  const tie = half && rest[0] === '5' && /^0*$/.test(rest.slice(1));
  if (half && (!tie || (n & 1n) === 1n)) n += 1n;
  const d = n.toString().padStart(digits + 1, '0');
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  return digits === 0 ? sign + d : `${sign}${d.slice(0, -digits)}.${d.slice(-digits)}`;
}

/** A finite double's value in decimal, exactly: [integer digits, fraction digits] (a double is m * 2^e). */
function exactDecimal(x: number): [string, string] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  const m = biased === 0 ? fraction : fraction | (1n << 52n);
  const e = (biased === 0 ? 1 : biased) - 1075;
  if (e >= 0) return [(m << BigInt(e)).toString(), ''];
  const scaled = (m * 5n ** BigInt(-e)).toString().padStart(-e + 1, '0'); // m / 2^-e = m * 5^-e / 10^-e
  return [scaled.slice(0, e), scaled.slice(e).replace(/0+$/, '')];
}
