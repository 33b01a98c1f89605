// incr / decr: memcached's do_add_delta (item lock held by the caller). BigInt is fine here (not a hot path).

import type { Store } from "./store.ts";
import * as layout from "./layout.ts";
import * as results from "./results.ts";
import { CAS_NEXT, doItemGet, doItemAlloc } from "./items.ts";
import { doItemUpdate } from "./lru.ts";

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ITEM_HEADER, ItemField, ItemFlag } = layout;
const { DeltaResult } = results;
type DeltaResult = results.DeltaResult;

const U64 = 1n << 64n;
const I64_SIGN = 1n << 63n;

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * memcached's safe_strtoull over the value bytes: leading white space, an optional sign, digits, then white
 * space (the stored "\r\n" at least) or a NUL, where C's string ends. Returns -1n when memcached would refuse
 * (junk, overflow, a negative).
 *
 * A number of 2^63 or more looks negative as a signed one, and then memcached 1.6.18 refuses it when a '-' comes
 * anywhere before the string's end: its strchr runs from the value's start to a NUL, so a '-' after the number's
 * white space counts ("9223372036854775808 -x" is not a number). The item's value has no NUL of its own, so
 * memcached's scan goes on past the "\r\n" through whatever the chunk last held, until some NUL; that part
 * depends on stale memory (memcached fixed the scan in 1.6.22, ea92c6c), and is not followed here: the scan
 * stops at the value's end.
 */
export function safeStrtoull(a8: Uint8Array, off: number, n: number): bigint {
  let i = off;
  const end = off + n;
  while (i < end && isSpace(a8[i])) i++;
  let neg = false;
  if (i < end && (a8[i] === 43 || a8[i] === 45)) { neg = a8[i] === 45; i++; }
  const start = i;
  let v = 0n;
  while (i < end && a8[i] >= 48 && a8[i] <= 57) {
    v = v * 10n + BigInt(a8[i] - 48);
    if (v >= U64) return -1n; // ERANGE
    i++;
  }
  if (i === start) return -1n;
  if (i < end && !isSpace(a8[i]) && a8[i] !== 0) return -1n;
  if (neg) v = (U64 - v) % U64; // strtoull negates
  if (v >= I64_SIGN && dashBeforeNul(a8, off, end)) return -1n; // "(long long) ull < 0" with a '-' in the text
  return v;
}

/** strchr(str, '-') over a value without its own terminator: a '-' before a NUL or the value's end. */
function dashBeforeNul(a8: Uint8Array, off: number, end: number): boolean {
  for (let i = off; i < end && a8[i] !== 0; i++) if (a8[i] === 45) return true;
  return false;
}

/** `newCas`: the CAS the changed item gets (CAS_NEXT: the counter's next; meta's E gives its own). */
export function addDelta(st: Store, buf: Uint8Array, off: number, len: number, hv: number, incr: boolean, delta: bigint, casIn: number,
  newCas = CAS_NEXT): DeltaResult {
  const a32 = st.a32;
  const it = doItemGet(st, buf, off, len, hv, false);
  if (it === 0) return DeltaResult.NOT_FOUND;
  try {
    st.lastClsid = st.itemClsid(it);
    const nbytes = a32[it * 2 + ItemField.nbytes];
    const bits = a32[it * 2 + ItemField.bits];
    // can't delta zero byte values (2 are the "\r\n"), nor chained items: too large to be a number
    if (nbytes <= 2 || (bits & (ItemFlag.CHUNKED | ItemFlag.HDR)) !== 0) return DeltaResult.NON_NUMERIC; // a value on flash too
    // with -C an item has no CAS (memcached's ITEM_get_cas is 0), so any CAS given is a mismatch
    if (casIn !== 0 && st.itemCas(it) !== casIn) return DeltaResult.EXISTS;
    const data = it * 8 + ITEM_HEADER + (bits >>> 24);
    let value = safeStrtoull(st.a8, data, nbytes);
    if (value < 0n) return DeltaResult.NON_NUMERIC;
    if (incr) value = (value + delta) % U64;
    else value = delta > value ? 0n : value - delta;
    st.deltaValue = value;
    const text = value.toString();
    const res = text.length;
    if (res + 2 <= nbytes && Atomics.load(a32, it * 2 + ItemField.refcount) === 2) {
      // Only the table and we hold it, and we hold its lock: memcached rewrites in place, padding with spaces.
      if (st.useCas) st.setNextCas(it, newCas);
      for (let i = 0; i < nbytes - 2; i++) st.a8[data + i] = i < res ? text.charCodeAt(i) : 32;
      doItemUpdate(st, it);
      st.lastCas = st.itemCas(it);
      return DeltaResult.OK;
    }
    const nit = doItemAlloc(st, buf, off, len, a32[it * 2 + ItemField.flags] >>> 0, a32[it * 2 + ItemField.exptime], res + 2);
    if (nit === 0) return DeltaResult.EOM;
    const nd = nit * 8 + ITEM_HEADER + len;
    for (let i = 0; i < res; i++) st.a8[nd + i] = text.charCodeAt(i);
    st.a8[nd + res] = 13;
    st.a8[nd + res + 1] = 10;
    st.doItemReplace(it, nit, hv, newCas);
    st.lastCas = st.itemCas(nit);
    st.itemRelease(nit);
    return DeltaResult.OK;
  } finally {
    st.itemRelease(it);
  }
}
