// memcached's per-thread read buffer cache (thread.c's rbuf_cache) as `-o read_buf_mem_limit` bounds it:
// every worker may have limit / threads bytes of 16 KB buffers out, shared by two users. A connection holds
// a read buffer while it has input still to work off (a partial command, a value still arriving); replies
// not yet sent take response objects, packed 13 to a buffer ("bundles"), the last bundle kept for reuse, and
// a command waiting for its value holds the object of its reply-to-be.
// Cachalot reads into one buffer per worker and collects replies in one out buffer, so nothing here holds
// memory: it counts what memcached's connections would hold, so that the limit refuses what memcached's
// refuses (a multi-get past the objects left, commands stacked past them, a connection with no buffer
// left to read into), with memcached's replies and counters. Without the option nothing is counted.

/** memcached's READ_BUFFER_SIZE: the cache's unit. */
export const READ_BUFFER_SIZE = 16384;
/**
 * memcached 1.6.18's MAX_RESP_PER_BUNDLE on 64-bit Linux: a 16 KB buffer less the bundle's 24-byte header,
 * over the 1184 bytes of an mc_resp (its 1 KB wbuf, iovecs and UDP fields).
 */
export const RESP_PER_BUNDLE = 13;

export class ReadBufCache {
  /** Buffers this thread may have out (thread.c: at least 1), or 0: no limit. */
  readonly limit: number;
  /** Buffers held by connections as read buffers. */
  private rbufs = 0;
  /** Response objects of replies collected and not yet sent. */
  private resps = 0;
  /** Response objects held by connections waiting for a value: each command's reply is its own until sent. */
  private held = 0;
  /** resp_free keeps the thread's last bundle instead of freeing it: once one was made, one stays out. */
  private bundleKept = false;

  constructor(readBufMemLimit: number, threads: number) {
    if (readBufMemLimit === 0) { this.limit = 0; return; }
    const perThread = Math.floor(readBufMemLimit / threads);
    this.limit = perThread < READ_BUFFER_SIZE ? 1 : Math.floor(perThread / READ_BUFFER_SIZE);
  }

  /**
   * memcached's resp_start: false when the object would need a bundle past the limit (response_obj_oom).
   * Called only under a limit (WorkerContext.readBufLimited).
   */
  respStart(): boolean {
    const resps = this.resps + this.held;
    const needsBundle = resps % RESP_PER_BUNDLE === 0 && !(resps === 0 && this.bundleKept);
    if (needsBundle) {
      if (this.buffersOut() >= this.limit) return false;
      this.bundleKept = true;
    }
    this.resps++;
    return true;
  }

  /** The collected replies were sent (or dropped): their objects are free (resp_finish). */
  respsDone(): void { this.resps = 0; }

  /** A connection stops to wait for its command's value: that command's object stays out meanwhile. */
  respHold(): void { this.held++; }

  /** More of the value came: the object is among the replies being collected again. */
  respResume(): void { this.held--; this.resps++; }

  /** The connection closed while it waited: the object is free. */
  respUnhold(): void { this.held--; }

  /** memcached's rbuf_alloc for a connection that holds none: false when none is left (read_buf_oom). */
  rbufAlloc(): boolean {
    if (this.limit !== 0 && this.buffersOut() >= this.limit) return false;
    this.rbufs++;
    return true;
  }

  /** rbuf_release: the connection worked off all its input, or closed. */
  rbufRelease(): void { this.rbufs--; }

  private buffersOut(): number {
    const resps = this.resps + this.held;
    const bundles = resps === 0 ? (this.bundleKept ? 1 : 0) : Math.ceil(resps / RESP_PER_BUNDLE);
    return this.rbufs + bundles;
  }
}
