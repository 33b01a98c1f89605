// The one byte copy every layer uses (store items, the out buffer): fast at every size.

const bufferCopy = Buffer.prototype.copy;
const SMALL_COPY = 48; // Buffer.prototype.copy costs ~85 ns whatever the size; a byte loop wins below this

/**
 * memcpy between Uint8Arrays: Buffer.prototype.copy works on any Uint8Array `this`, makes no view and
 * allocates nothing (a byte loop over shared memory is ~30x slower for large copies; subarray + set
 * allocates a view and costs ~100 ns even for a 10-byte key).
 */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i];
  } else {
    bufferCopy.call(src, dst, dstOff, srcOff, srcOff + n);
  }
}
