// The one byte copy every layer uses (store items, the out buffer): fast at every size.

type NativeCopy = (src: Uint8Array, dst: Uint8Array, dstOff: number, srcOff: number, n: number) => number;

/**
 * The memmove behind Buffer.prototype.copy (the buffer binding's `copy`, which clamps to both
 * arrays' bounds itself). Called directly it skips copy's two layers of argument checks, written in
 * JS: ~37 ns a call against ~52 ns. Node 26, which package.json pins, has it; any other falls back.
 */
const nativeCopy: NativeCopy = ((): NativeCopy => {
  try {
    const binding = (process as unknown as { binding(name: string): { copy?: unknown } }).binding('buffer');
    if (typeof binding.copy === 'function') return binding.copy as NativeCopy;
  } catch { /* no process.binding: fall back */ }
  const bufferCopy = Buffer.prototype.copy;
  return (src, dst, dstOff, srcOff, n) => bufferCopy.call(src, dst, dstOff, srcOff, srcOff + n);
})();
const SMALL_COPY = 16; // a native call costs ~37 ns whatever the size; a byte loop wins below this

/**
 * memcpy between Uint8Arrays (either may be over shared memory): makes no view and allocates
 * nothing (a byte loop over shared memory is ~30x slower for large copies; subarray + set allocates
 * a view and costs ~100 ns even for a 10-byte key).
 */
export function copyBytes(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i];
  } else {
    nativeCopy(src, dst, dstOff, srcOff, n);
  }
}

/** A C string's bytes: up to the first NUL, as C's string functions read a buffer (a view, no copy). */
export function cString(b: Uint8Array): Buffer {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const nul = buf.indexOf(0);
  return nul < 0 ? buf : buf.subarray(0, nul);
}
