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

/**
 * copyBytes for short runs between DataViews (a key from the store's arena into the out buffer):
 * 4 bytes a step, where a byte loop costs ~2 ns a byte and Buffer.prototype.copy ~50-80 ns a call.
 * Offsets need no alignment. For runs past ~64 bytes copyBytes is faster.
 */
export function copyViewBytes(dst: DataView, dstOff: number, src: DataView, srcOff: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) dst.setInt32(dstOff + i, src.getInt32(srcOff + i, true), true);
  for (; i < n; i++) dst.setUint8(dstOff + i, src.getUint8(srcOff + i));
}
