// MurmurHash3 x86_32 over key bytes (memcached's default hash_algorithm is murmur3 too), top 2 bits dropped.
// Math.imul keeps every step in 32 bits: no allocation, no BigInt.

export function hash(buf: Uint8Array, off: number, len: number): number {
  let h = 0; // seed 0
  const end4 = off + (len & ~3);
  let i = off;
  for (; i < end4; i += 4) {
    let k = buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rem = len & 3;
  if (rem !== 0) {
    let k = buf[i];
    if (rem > 1) k ^= buf[i + 1] << 8;
    if (rem > 2) k ^= buf[i + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
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
