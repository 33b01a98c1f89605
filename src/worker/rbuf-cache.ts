// memcached's per-thread read buffer cache (thread.c's rbuf_cache) as `-o read_buf_mem_limit` bounds it:
// every worker may have limit / threads bytes of 16 KB buffers out, shared by two users. A connection holds
// a read buffer while it has input still to work off (a partial command, a value still arriving, a get paused
// for a client that is not reading); replies not yet sent take response objects, packed 13 to a buffer
// ("bundles"), the last bundle kept for reuse. An object is free once transmit() has sent its reply: a
// connection whose replies the socket could not take keeps theirs until the client reads them, and a command
// waiting for its value holds the object of its reply-to-be.
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
  declare readonly limit: number;
  /** Buffers held by connections as read buffers. */
  private rbufs = 0;
  /** Response objects of the replies the running connection is collecting, since its last flush point or write. */
  private resps = 0;
  /**
   * Objects of the replies its last flush point passed, not yet written: memcached would have sent them there,
   * and still holds them if the socket cannot take them (the write that follows is queued).
   */
  private flushed = 0;
  /**
   * Objects of replies the running connection handed to the socket before memcached would have sent them (a reply
   * past OUT_FLUSH_AT, sent as it grows): memcached holds them until its next conn_mwrite (the next flush point,
   * the -R batch's end, the read worked off), so they count as out until then.
   */
  private early = 0;
  /**
   * Objects held by connections other than the running one's batch: a command waiting for its value, replies
   * queued for a client that has not read them, a get's keys not yet answered (respReserve).
   */
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
    const resps = this.resps + this.held + this.early;
    const needsBundle = resps % RESP_PER_BUNDLE === 0 && !(resps === 0 && this.bundleKept);
    if (needsBundle) {
      if (this.buffersOut() >= this.limit) return false;
      this.bundleKept = true;
    }
    this.resps++;
    return true;
  }

  /**
   * n objects at once, for the keys of a get, held until each key takes its own (respResume): n; or, when fewer
   * are left, how many there were, and none is taken.
   */
  respReserve(n: number): number {
    let got = 0;
    while (got < n && this.respStart()) got++;
    this.resps -= got;
    if (got === n) this.held += n;
    return got;
  }

  /** A flush point (conn_mwrite): the replies so far are memcached's to send now; Cachalot writes them later. */
  respsFlushPoint(): void {
    this.flushed = this.resps;
    this.resps = 0;
    this.early = 0; // memcached's transmit there sends them too, and the socket took them
  }

  /** The collected replies were dropped (conn_release_items): their objects are free. */
  respsDone(): void {
    this.resps = 0;
    this.early = 0;
  }

  /** The write took every byte: what it carried is sent, and its objects are free (resp_finish). */
  respsSent(): void {
    this.resps = 0;
    this.flushed = 0;
    this.early = 0;
  }

  /**
   * A write before memcached's (a reply past OUT_FLUSH_AT) took every byte: the replies past a flush point are
   * free as memcached's transmit there freed them, the ones since stay out until the next (early).
   */
  respsSentEarly(): void {
    this.early += this.resps;
    this.resps = 0;
    this.flushed = 0;
  }

  /**
   * The write was queued: the socket could not take it all, and the objects of its replies stay out until the
   * client reads them (memcached's connection waits in conn_mwrite with them). Answers how many: the writing
   * connection's to give back (respsUnhold).
   */
  respsQueued(): number {
    const n = this.resps + this.flushed;
    this.held += n;
    this.resps = 0;
    this.flushed = 0;
    // the connection stops here (its batch ends): memcached's transmit would send these first, as the socket did
    this.early = 0;
    return n;
  }

  /** The running command stops to wait for its value: its object (the last collected) stays out meanwhile. */
  respHold(): void {
    this.resps--;
    this.held++;
  }

  /** A held object is among the replies being collected again: more of the value came, or a get's key is answered. */
  respResume(): void { this.held--; this.resps++; }

  /**
   * The running connection stops to wait for the rest of a value: memcached sends nothing from conn_nread, so the
   * objects of its replies since its last flush point (collected, or written early) stay out, the connection's,
   * until the value is in (respsUnpark) or the connection closes (respsUnhold). Answers how many.
   */
  respsPark(): number {
    const n = this.resps + this.early;
    this.held += n;
    this.resps = 0;
    this.early = 0;
    return n;
  }

  /** The value is in: n parked objects are among the replies being collected again, sent with the store's. */
  respsUnpark(n: number): void { this.held -= n; this.resps += n; }

  /** n held objects are free: their replies were read, or their connection closed. */
  respsUnhold(n: number): void { this.held -= n; }

  /** memcached's rbuf_alloc for a connection that holds none: false when none is left (read_buf_oom). */
  rbufAlloc(): boolean {
    if (this.limit !== 0 && this.buffersOut() >= this.limit) return false;
    this.rbufs++;
    return true;
  }

  /** rbuf_release: the connection worked off all its input, or closed. */
  rbufRelease(): void { this.rbufs--; }

  private buffersOut(): number {
    const resps = this.resps + this.held + this.early;
    const bundles = resps === 0 ? (this.bundleKept ? 1 : 0) : Math.ceil(resps / RESP_PER_BUNDLE);
    return this.rbufs + bundles;
  }
}
