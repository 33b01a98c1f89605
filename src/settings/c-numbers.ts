// C's number readers, as memcached's option parsing uses them (atoi, atof, strtol base 8,
// safe_strtoul, safe_strtol), so an option means here what it means to memcached.

/** glibc atoi: (int)strtol(s, 10): leading blanks, a sign, digits; junk after is ignored; none is 0. */
export function atoi(s: string): number {
  const m = /^[\s]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  let v = BigInt(m[1]);
  const LONG_MAX = (1n << 63n) - 1n;
  if (v > LONG_MAX) v = LONG_MAX; else if (v < -LONG_MAX - 1n) v = -LONG_MAX - 1n;
  return Number(BigInt.asIntN(32, v));
}

/** atof: the longest decimal prefix (strtod), 0 when there is none. */
export function atof(s: string): number {
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

/** memcached's safe_strtoul: the whole string a number (trailing blank allowed), no negatives; -1 = rejected. */
export function safeStrtoul(s: string): number {
  const m = /^[\s]*(\+?)(\d+)(\s.*)?$/s.exec(s);
  if (!m) return -1;
  const v = BigInt(m[2]);
  if (v >= 1n << 64n) return -1; // ERANGE
  return Number(BigInt.asUintN(32, v));
}

/** memcached's safe_strtol into an int32; null = rejected. */
export function safeStrtol(s: string): number | null {
  const m = /^[\s]*([+-]?\d+)(\s.*)?$/s.exec(s);
  if (!m) return null;
  const v = BigInt(m[1]);
  if (v >= 1n << 63n || v < -(1n << 63n)) return null;
  return Number(BigInt.asIntN(32, v));
}

