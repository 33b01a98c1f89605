// MurmurHash3 x86_32 over key bytes (memcached's default hash_algorithm is murmur3 too), top 2 bits dropped.
// Math.imul keeps every step in 32 bits: no allocation, no BigInt.

export function hash(buf: Uint8Array, off: number, len: number): number {
  let h = 0; // seed 0
  const end4 = off + (len & ~3);
  let i = off;
  for (; i < end4; i += 4) h = mixBlock(h, buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
  return finish(h, tailWord(buf, i, len & 3), len);
}

/** What scanKey found besides the key's end: the key's hash, as hash(buf, start, end - start). */
const scanned = { hv: 0 };
export const scannedKey: { readonly hv: number } = scanned;

/** A key's room in keyWords: 64 words, the longest key's 250 bytes... */
export const KEY_WORDS = 64;
/** ...for this many keys (a get's batch: get.ts). */
export const KEY_SLOTS = 16;

/**
 * The words of the keys scanKey read, KEY_WORDS each: its bytes four at a time as little-endian words (the ones
 * murmur3 mixes), the last 1-3 bytes in a last word whose other bytes are 0. The lookup compares them with the
 * item's key a word at a time (assoc.ts keyEqualsWords) instead of putting each word together again from bytes.
 * A key too long for its room runs on into the next ones (past the last, into nothing: a typed array drops writes
 * out of its bounds); it ends its batch and is never looked up.
 */
const words = new Int32Array(KEY_SLOTS * KEY_WORDS);
export const keyWords: Int32Array = words;
// (scanKey writes `scanned` and `words`: a module's exported binding is read through its cell even in the module, as
// an imported one is; docs/architecture.md, "Imported constants")

/**
 * A key of a text command line: from p up to the next space or `end`. Returns where it ends, and
 * leaves its hash in scannedKey.hv, read in the same pass as the scan (the get path otherwise walks
 * the key's bytes once to find its end and once more to hash it), and its words in keyWords from `at`.
 */
export function scanKey(buf: Uint8Array, p: number, end: number, at: number): number {
  let h = 0;
  let i = p;
  for (; i + 4 <= end; i += 4) {
    const b0 = buf[i], b1 = buf[i + 1], b2 = buf[i + 2], b3 = buf[i + 3];
    if (b0 === 0x20 || b1 === 0x20 || b2 === 0x20 || b3 === 0x20) break;
    const k = b0 | (b1 << 8) | (b2 << 16) | (b3 << 24);
    words[at++] = k;
    h = mixBlock(h, k);
  }
  const tail = i; // fewer than 4 key bytes remain before a space or the end
  while (i < end && buf[i] !== 0x20) i++;
  const last = tailWord(buf, tail, i - tail);
  scanned.hv = finish(h, last, i - p);
  words[at] = last;
  return i;
}

/**
 * The nkey bytes of the key scanKey left at `at` in keyWords, written into `view` from p, a word a step: a reply's key
 * (get.ts writeValue) from the words the lookup compared, where copying it from the item's bytes took two DataViews a
 * step (W1 under callgrind: 166 -> 132 instructions for a 10-byte key).
 */
export function putKeyWords(view: DataView, p: number, at: number, nkey: number): void {
  const full = nkey >> 2;
  for (let j = 0; j < full; j++) view.setInt32(p + 4 * j, words[at + j], true);
  const rem = nkey & 3;
  if (rem === 0) return;
  const w = words[at + full], q = p + 4 * full;
  view.setUint8(q, w);
  if (rem > 1) view.setUint8(q + 1, w >> 8);
  if (rem > 2) view.setUint8(q + 2, w >> 16);
}

/** The last 1-3 bytes of a key as a little-endian word (0 for none). */
function tailWord(buf: Uint8Array, i: number, rem: number): number {
  if (rem === 0) return 0;
  let k = buf[i];
  if (rem > 1) k |= buf[i + 1] << 8;
  if (rem > 2) k |= buf[i + 2] << 16;
  return k;
}

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3's tail (`tail`: the last len & 3 bytes as a word, tailWord) and finalization. */
function finish(h: number, tail: number, len: number): number {
  if ((len & 3) !== 0) {
    let k = Math.imul(tail, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  // 30 bits: a small integer (Smi) for V8 even with pointer compression, so returning it never allocates a
  // HeapNumber; bucket and lock indexes use at most 30 low bits (hashpower is capped at 30).
  return h & 0x3fffffff;
}
