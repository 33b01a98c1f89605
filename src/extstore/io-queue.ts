// memcached's extstore IO queue (a connection's io_queue of type IO_QUEUE_EXTSTORE, storage.c's storage_submit_cb and
// _storage_get_item_cb): a command that needs a value on flash does not read it in the worker. Before it looks its
// key up, the read is queued on the connection (Store.extQueueIfOnFlash), the connection waits in conn_io_queue,
// not read, while the worker serves its others, and the reads go to IO threads (here libuv's thread pool, through
// fs.read). When the last of them is back the command goes on (drive-machine.ts connWaitForReads) and its lookup
// takes the object read (storageFetch) instead of reading it.
//
// An object read is checked when it is used, not when it arrives: the header must still point where it was read
// from and the page still be in the version it had when the read was queued (a page's version changes only when
// it is freed, so an unchanged version means the bytes read are the ones written there), then its CRC, key and
// length, as a read in place is.
//
// Memory: the objects read wait in buffers of their own, outside -m, up to READ_BYTES_MAX a worker (one object
// always goes, whatever its size). A command that would go past it reads in place, in the worker.

import fs from 'node:fs';
import type { Extstore } from './engine.ts';

/** Bytes of objects a worker may have read or being read at once. */
const READ_BYTES_MAX = 16 * 1024 * 1024;

/** CACHALOT_DEBUG_EXT_READ_HOLD_MS: every read's completion waits that long (a test's slow device). */
const HOLD_MS = Number(process.env.CACHALOT_DEBUG_EXT_READ_HOLD_MS ?? 0) || 0;

/** One object's read: where it is, and once back, its bytes (ok: all of them were read; if not, a miss). */
type ObjRead = {
  page: number; version: number; offset: number; len: number; buf: Buffer;
  /** Submitted and not back; back; all of it read. */
  out: boolean; back: boolean; ok: boolean;
};

/** This worker's bytes in buffers of ObjRead. */
let bytesHeld = 0;

export class ExtIoQueue {
  private declare readonly ext: Extstore;
  private readonly onDone: () => void;
  /** Reads wanted (not yet submitted), submitted (out), or back and not yet used. */
  private reads: ObjRead[] = [];
  private pending = 0;
  /** Bumped when the connection closes: a read of an earlier life that comes back is only let go. */
  private life = 0;

  /** `onDone`: every submitted read is back (called from the event loop). */
  constructor(ext: Extstore, onDone: () => void) {
    this.ext = ext;
    this.onDone = onDone;
  }

  /** The read back for this object, taken (its buffer is the caller's), or null. */
  take(page: number, version: number, offset: number): ObjRead | null {
    const reads = this.reads;
    for (let i = 0; i < reads.length; i++) {
      const r = reads[i];
      if (!r.back || r.page !== page || r.version !== version || r.offset !== offset) continue;
      reads.splice(i, 1);
      bytesHeld -= r.len;
      return r;
    }
    return null;
  }

  /**
   * A read of this object, queued unless it is already: true while it is not back. False once it is, or when
   * this worker's buffers are full (the caller then reads it in place).
   */
  want(page: number, version: number, offset: number, len: number): boolean {
    for (const r of this.reads) if (r.page === page && r.version === version && r.offset === offset) return !r.back;
    if (bytesHeld > 0 && bytesHeld + len > READ_BYTES_MAX) return false;
    bytesHeld += len;
    this.reads.push({ page, version, offset, len, buf: Buffer.allocUnsafe(len), out: false, back: false, ok: false });
    return true;
  }

  /** Send the reads wanted to the IO threads; onDone follows once all are back. */
  submit(): void {
    const life = this.life;
    for (const r of this.reads) {
      if (r.out || r.back) continue;
      r.out = true;
      this.pending++;
      this.ext.ioQueued(1);
      fs.read(this.ext.fdOf(r.page), r.buf, 0, r.len, this.ext.fileOffset(r.page, r.offset), (err, n) => {
        const ok = err === null && n === r.len;
        if (HOLD_MS > 0) setTimeout(() => this.readBack(r, life, ok), HOLD_MS);
        else this.readBack(r, life, ok);
      });
    }
  }

  private readBack(r: ObjRead, life: number, ok: boolean): void {
    this.ext.ioQueued(-1);
    r.out = false;
    if (life !== this.life) { bytesHeld -= r.len; return; } // its connection closed meanwhile
    r.back = true;
    r.ok = ok;
    if (--this.pending === 0) this.onDone();
  }

  /**
   * The reads not used go (the get ended, or found its keys elsewhere); on a close, the ones still out let go of
   * their buffers when they come back.
   */
  clear(): void {
    if (this.reads.length === 0) return;
    if (this.pending > 0) { this.life++; this.pending = 0; }
    for (const r of this.reads) if (!r.out) bytesHeld -= r.len;
    this.reads = [];
  }
}
