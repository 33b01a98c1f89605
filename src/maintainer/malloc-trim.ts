// glibc keeps what a thread's malloc arena once held: the buffers, handles and requests of a burst of clients,
// freed, stay in the process's RSS as free chunks for good (memcached's own allocations are its slabs, so it has
// nothing like this). Every TRIM_INTERVAL_MS the maintainer hands those free pages back to the kernel
// (malloc_trim: the arenas are walked under their locks, a millisecond or two when there is nothing to release).
// Pages a worker frees and takes again within the interval fault back in; that costs a steady load little.

import { trimMalloc } from "../libc/ffi.ts";

export const TRIM_INTERVAL_MS = 10_000;

export class MallocTrimmer {
  private declare nextMs: number;
  private readonly trim: () => boolean | null;

  constructor(nowMs: number, trim: () => boolean | null = trimMalloc) {
    this.nextMs = nowMs + TRIM_INTERVAL_MS;
    this.trim = trim;
  }

  /** Trims once the interval has passed since the last trim; never again where this Node cannot call C. */
  round(nowMs: number): void {
    if (nowMs < this.nextMs) return;
    this.nextMs = this.trim() === null ? Infinity : nowMs + TRIM_INTERVAL_MS;
  }
}
