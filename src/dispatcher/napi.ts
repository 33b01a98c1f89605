// -N: memcached's select_thread_by_napi_id. A connection's socket says which NIC receive queue its packets come
// through (SO_INCOMING_NAPI_ID, read by incomingNapiId through node:ffi); memcached gives each worker one such id,
// in the order the ids first come, so that a queue's connections are served by the worker whose core polls it
// (doc/napi_ids.txt). A socket with no id (loopback, a NIC without busy polling) goes round-robin and counts in
// round_robin_fallback; an id that finds every worker taken by others resets the assignment, counted in
// unexpected_napi_ids.

/** Each worker's NAPI id, handed out in order of the ids' first coming (memcached's thread->napi_id). */
export class NapiThreads {
  private declare readonly ids: number[];
  /** memcached's last_thread_by_napi_id: the workers up to it have an id. */
  private last = -1;

  constructor(threads: number) { this.ids = new Array<number>(threads).fill(0); }

  /** The worker for a socket whose NAPI id is `id` (not 0); `unexpected` when every worker had another id. */
  select(id: number): { thread: number; unexpected: boolean } {
    const found = this.find(id);
    if (found >= 0) return { thread: found, unexpected: false };
    this.ids.fill(0); // reset_threads_napi_id, and the search again finds the first worker free
    this.last = -1;
    return { thread: this.find(id), unexpected: true };
  }

  /** The worker that has `id`, or the next without one, which takes it; -1 when all have others. */
  private find(id: number): number {
    for (let i = 0; i < this.ids.length; i++) {
      if (i > this.last) {
        this.ids[i] = id;
        this.last = i;
        return i;
      }
      if (this.ids[i] === id) return i;
    }
    return -1;
  }
}
