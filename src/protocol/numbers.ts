// Numbers read straight from request bytes, with the exact acceptance rules of memcached's
// safe_strtoul / safe_strtol / safe_strtoull (util.c): optional leading white space, an optional
// sign, at least one digit, and nothing after but the end or white space. Nothing becomes a string.
//
// Each parser answers a number, or NaN for junk. 64-bit values that do not fit a double exactly are
// read on a cold path with BigInt.

const MAX_FAST_DIGITS = 15; // 10^15 < 2^53: plain double arithmetic is exact

function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

/** Where the digits of [s, e) start after white space and sign; -1 when there are none. */
type Scan = { neg: boolean; d0: number; d1: number };
const scan: Scan = { neg: false, d0: 0, d1: 0 };

function scanNumber(buf: Uint8Array, s: number, e: number): boolean {
  while (s < e && isSpace(buf[s])) s++;
  scan.neg = false;
  if (s < e && (buf[s] === 0x2b || buf[s] === 0x2d)) { scan.neg = buf[s] === 0x2d; s++; }
  const d0 = s;
  while (s < e && buf[s] >= 0x30 && buf[s] <= 0x39) s++;
  if (s === d0) return false;
  if (s < e && !isSpace(buf[s])) return false;
  scan.d0 = d0;
  scan.d1 = s;
  return true;
}

function digitsToNumber(buf: Uint8Array, d0: number, d1: number): number {
  let v = 0;
  for (let i = d0; i < d1; i++) v = v * 10 + (buf[i] - 0x30);
  return v;
}

function digitsToBigInt(buf: Uint8Array, d0: number, d1: number): bigint {
  let v = 0n;
  for (let i = d0; i < d1; i++) v = v * 10n + BigInt(buf[i] - 0x30);
  return v;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

/**
 * safe_strtoull: an unsigned 64-bit value as a bigint, or null. A '-' is refused only when the
 * value would look negative as a signed number, as strtoull's wrap-around makes memcached do.
 */
export function parseU64Big(buf: Uint8Array, s: number, e: number): bigint | null {
  if (!scanNumber(buf, s, e)) return null;
  let v = digitsToBigInt(buf, scan.d0, scan.d1);
  if (v > U64_MAX) return null; // ERANGE
  if (scan.neg) {
    v = (U64_MAX + 1n - v) & U64_MAX;
    if (v > I64_MAX) return null; // looks negative: memcached rejects the '-'
  }
  return v;
}

/**
 * safe_strtoul, or NaN: a 64-bit strtoul kept to its low 32 bits by memcached's uint32_t out, so
 * 4294967296 reads as 0 and "-0" as 0. Client flags, verbosity, cache_memlimit and the auth length.
 */
export function parseU32(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return NaN;
  if (!scan.neg && scan.d1 - scan.d0 <= MAX_FAST_DIGITS) {
    return digitsToNumber(buf, scan.d0, scan.d1) % 0x100000000;
  }
  const v = parseU64Big(buf, s, e);
  return v === null ? NaN : Number(v & 0xffffffffn);
}

/** safe_strtoull as a double (CAS uniques: exact below 2^53), or NaN. */
export function parseU64(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return NaN;
  if (!scan.neg && scan.d1 - scan.d0 <= MAX_FAST_DIGITS) return digitsToNumber(buf, scan.d0, scan.d1);
  const v = parseU64Big(buf, s, e);
  return v === null ? NaN : Number(v);
}

/** safe_strtol (64-bit long): a signed value, or NaN on junk or overflow. */
export function parseI64(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return NaN;
  if (scan.d1 - scan.d0 <= MAX_FAST_DIGITS) {
    const v = digitsToNumber(buf, scan.d0, scan.d1);
    return scan.neg ? -v : v;
  }
  let v = digitsToBigInt(buf, scan.d0, scan.d1);
  if (scan.neg) v = -v;
  if (v > I64_MAX || v < -I64_MAX - 1n) return NaN;
  return Number(v);
}

/** safe_strtol, then the `(int32_t)` cast memcached applies to exptime and value lengths. */
export function parseI32Wrapped(buf: Uint8Array, s: number, e: number): number {
  if (!scanNumber(buf, s, e)) return NaN;
  if (scan.d1 - scan.d0 <= 9) { // the hot path: fits an int32, no BigInt
    const v = digitsToNumber(buf, scan.d0, scan.d1);
    const signed = scan.neg ? -v : v;
    if (signed >= -0x80000000 && signed <= 0x7fffffff) return signed;
  }
  let v = digitsToBigInt(buf, scan.d0, scan.d1);
  if (scan.neg) v = -v;
  if (v > I64_MAX || v < -I64_MAX - 1n) return NaN; // strtol's ERANGE
  return Number(BigInt.asIntN(32, v));
}
