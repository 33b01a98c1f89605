// The reused out buffer: replies of every command of one read are appended here and leave in one
// write (memcached's resp objects + iovecs, flattened). Digits are written byte by byte: no
// String(n) on the hot path. A large value is not copied: it is attached, a view of the item's
// own memory with the item's reference, and leaves in the same writev as the bytes around it
// (memcached's iovec pointing into the item).

import { copyBytes } from '../libc/bytes.ts';
import { libcCallable, releasePages } from '../libc/ffi.ts';
import type { ReadBufCache } from './rbuf-cache.ts';

const CRLF_0 = 0x0d;
const CRLF_1 = 0x0a;
const INITIAL_SIZE = 16 * 1024;
/** Replies up to this long leave through a view made once per length (see pending). */
const SMALL_VIEW = 4096;

/** Digits of the largest integer uint() writes (2^53 - 1). */
export const UINT_MAX_DIGITS = 16;

/**
 * n (a non-negative integer below 2^53) in decimal at b[at..]; returns the position after it. The
 * caller has reserved UINT_MAX_DIGITS bytes: a reply line is reserved once and written with this.
 */
export function putUint(b: Buffer, at: number, n: number): number {
  if (n < 10) { b[at] = 0x30 + n; return at + 1; }
  let digits = 1;
  for (let p = 10; p <= n; p *= 10) digits++;
  const end = at + digits;
  at = end;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    b[--at] = 0x30 + (n - q * 10);
    n = q;
  }
  b[--at] = 0x30 + n;
  return end;
}

function viewOf(b: Buffer): DataView { return new DataView(b.buffer, b.byteOffset, b.length); }

/**
 * The next size of a buffer that must grow: doubled while small; past 256 KB by a quarter (in whole pages), since
 * a buffer lent to a queued write is held whole: a reply of 520 KB held 1 MB when every growth doubled.
 */
function grown(size: number): number {
  return size < 256 * 1024 ? size * 2 : Math.ceil((size * 1.25) / 4096) * 4096;
}

/**
 * Let a reply buffer's memory go now, not when the garbage collector finds it. Left to the collector, buffers let go
 * by clients that never read their replies piled up in a worker that then went idle (no allocation, no collection):
 * RSS rose by hundreds of MB a round of such clients. Only for a buffer nothing else points into: the out buffer's
 * own, made by allocUnsafeSlow (Node's pool is shared). Its whole pages are advised away (MADV_DONTNEED through
 * node:ffi), which keeps V8's promise that no ArrayBuffer is ever detached (settleDetachPromise); without node:ffi
 * it is detached, which frees it at once.
 */
function free(ab: ArrayBufferLike): void {
  if (!(ab instanceof ArrayBuffer) || ab.detached) return;
  if (!releasePages(ab)) ab.transfer(0);
}

/**
 * V8 compiles typed-array code on an isolate-wide promise that no ArrayBuffer was ever detached: a typed array held
 * in a module's const is then read with its memory's address and length built into the code, and other accesses skip
 * a check of the buffer. The first detach breaks it for good, and every function compiled on it is thrown away at
 * once: left to free()'s first detach (the first reply that outgrows its buffer: a 16 KB value), that was nearly the
 * whole request path of a busy worker, which then ran in V8's middle tier for 1-3.5 s (bench/RESULTS.md, round 51).
 * So before the thread compiles anything: where free() can give pages back without detaching (node:ffi), the promise
 * is kept (W1's compiled code ran 6% fewer instructions a request for it, round 55); where it cannot, it is broken
 * here, once, before anything depends on it.
 */
export function settleDetachPromise(): void {
  if (!libcCallable()) new ArrayBuffer(0).transfer();
}

/** An attached value: sent after buf's bytes [.., at), from its item's memory; `it` is the reference held. */
type Attached = { at: number; view: Uint8Array; it: number };

/**
 * What a connection keeps of its replies while it waits for the rest of a value (drive-machine.ts valueAwaited):
 * memcached sends nothing from conn_nread or conn_swallow, so the replies since the last flush point wait with the
 * connection, out of the worker's buffer, until the value is in (unpark) or the connection closes (dropParked).
 * `bytes` and `attached` are those replies (attached `at`s are offsets into bytes), `held` the items they name
 * (hold), `resps` their response objects under -o read_buf_mem_limit (ReadBufCache.respsPark).
 */
export type ParkedReplies = { bytes: Buffer; attached: Attached[]; held: number[]; resps: number };

const EMPTY = Buffer.alloc(0);

export function noParkedReplies(): ParkedReplies { return { bytes: EMPTY, attached: [], held: [], resps: 0 }; }

export function parkedIsEmpty(p: ParkedReplies): boolean {
  return p.bytes.length === 0 && p.attached.length === 0 && p.held.length === 0 && p.resps === 0;
}

/** A copy of n parked bytes: from Node's shared pool when small, else a buffer of its own, freed when let go (unparked). */
function parkedCopy(n: number): Buffer { return n > SMALL_VIEW ? Buffer.allocUnsafeSlow(n) : Buffer.allocUnsafe(n); }

function freeParked(b: Buffer): void { if (b.length > SMALL_VIEW) free(b.buffer); }

export class OutBuffer {
  declare buf: Buffer;
  /** A DataView over buf (made with it): a get's key goes in 4 bytes a step (hash.ts putKeyWords). */
  declare view: DataView;
  pos = 0;
  private attached: Attached[] = [];
  private attachedBytes = 0;
  /**
   * Items whose bytes replies here were copied from, referenced until those replies are sent, as
   * memcached's resp->item keeps them: an mg or a binary get. An incr on such an item in the same batch
   * then finds it held by someone else and links a new item, where it would rewrite the number in place.
   * The buffer is the worker's: a connection that stops mid-read (a value still arriving) takes its held items
   * along (park), so no other connection's flush lets them go.
   */
  private held: number[] = [];
  /** Of size(), the bytes already counted in bytes_written (uncounted()). */
  private counted = 0;
  /** What passed one of memcached's flush points (conn_mwrite): buf's bytes and attached values. */
  private committedPos = 0;
  private committedAttached = 0;
  /** Drops an attached value's item reference (the store's itemRelease). */
  private readonly release: (it: number) => void;
  /** Takes one more reference on an item already referenced here (the store's itemHold). */
  private readonly retain: (it: number) => void;
  /** The response objects memcached would hold for what is collected here: passed at a flush point, freed when dropped. */
  private declare readonly cache: ReadBufCache | null;
  /** views[n]: buf's first n bytes, kept while buf is (a write takes an exact-length view). */
  private views: Array<Buffer | undefined> = [];
  /** The last view longer than SMALL_VIEW: large replies of one workload tend to share a length. */
  private bigView: Buffer | null = null;
  /** Bytes of the buffers lent to writes libuv queued (lend), until they are given back (giveBack). */
  lentBytes = 0;
  /** Bytes the worker's connections have parked (park), until they are put back (unpark) or dropped (dropParked). */
  parkedBytes = 0;

  constructor(release: (it: number) => void, retain: (it: number) => void, cache: ReadBufCache | null = null, size = INITIAL_SIZE) {
    this.buf = Buffer.allocUnsafeSlow(size); // never from the shared pool: a buffer of its own, freed whole (free)
    this.view = viewOf(this.buf);
    this.release = release;
    this.retain = retain;
    this.cache = cache;
    this.forgetViews();
  }

  /** Bytes to send: those written here and the attached values. */
  size(): number { return this.pos + this.attachedBytes; }

  /**
   * The bytes collected since the last call (or the last send), now counted in bytes_written: memcached counts
   * what it sends at each flush point, so a stats or stats reset later in the same read sees them sent.
   */
  uncounted(): number {
    const n = this.size() - this.counted;
    this.counted += n;
    return n;
  }

  /** Send view (bytes of item it, whose reference the caller hands over) after what is written so far. */
  attach(view: Uint8Array, it: number): void {
    this.attached.push({ at: this.pos, view, it });
    this.attachedBytes += view.length;
  }

  hasAttached(): boolean { return this.attached.length !== 0; }

  /** Values sent from their items have passed a flush point (memcached would send them, and let go, now). */
  hasCommittedAttached(): boolean { return this.committedAttached !== 0; }

  /** Keep item it (whose reference the caller hands over) referenced until the replies are sent. */
  hold(it: number): void { this.held.push(it); }

  /** Items are referenced until the replies here are sent (hold), or were by replies already written early. */
  holdsItems(): boolean { return this.held.length !== 0; }

  /** Bytes written here (not attached) that have passed a flush point. */
  committedBytes(): number { return this.committedPos; }

  /** Bytes to send that have not passed a flush point (commit): written here and attached. */
  uncommittedSize(): number {
    let n = this.pos - this.committedPos;
    for (let i = this.committedAttached; i < this.attached.length; i++) n += this.attached[i].view.length;
    return n;
  }

  /**
   * The running connection waits for the rest of a value: into p go the replies not yet past a flush point (their
   * bytes and attached values, which memcached would send only once the value is in) and the items every reply
   * here holds. What passed a flush point stays, to be sent now, as memcached sent it there.
   */
  park(p: ParkedReplies): void {
    const from = this.committedPos, n = this.pos - from, base = p.bytes.length;
    if (n > 0) {
      const bytes = parkedCopy(base + n);
      p.bytes.copy(bytes, 0);
      this.buf.copy(bytes, base, from, this.pos);
      freeParked(p.bytes);
      p.bytes = bytes;
      this.parkedBytes += n;
    }
    const a = this.attached;
    for (let i = this.committedAttached; i < a.length; i++) {
      p.attached.push({ at: a[i].at - from + base, view: a[i].view, it: a[i].it });
      this.attachedBytes -= a[i].view.length;
    }
    a.length = this.committedAttached;
    this.pos = from;
    if (this.counted > this.size()) this.counted = this.size();
    this.parkHeld(p);
  }

  /** Into p go the items the replies here hold (they are being sent now, but memcached would hold them on). */
  parkHeld(p: ParkedReplies): void {
    const h = this.held;
    if (h.length === 0) return;
    for (let i = 0; i < h.length; i++) p.held.push(h[i]);
    h.length = 0;
  }

  /**
   * The value is in: parked replies go back into the buffer, which holds nothing else (the connection's drive
   * began with the value's rest), not yet past a flush point; p is emptied. Not their response objects (p.resps).
   */
  unpark(p: ParkedReplies): void {
    if (this.size() !== 0 || this.held.length !== 0) throw new Error('parked replies put back behind other replies');
    this.copyFrom(p.bytes, 0, p.bytes.length);
    for (const a of p.attached) { this.attached.push(a); this.attachedBytes += a.view.length; }
    for (const it of p.held) this.held.push(it);
    this.committedPos = 0;
    this.committedAttached = 0;
    this.letGoParked(p);
  }

  /** Parked replies that will never be sent (their connection closed): the items they named are let go. */
  dropParked(p: ParkedReplies): void {
    for (const a of p.attached) this.release(a.it);
    for (const it of p.held) this.release(it);
    this.letGoParked(p);
  }

  private letGoParked(p: ParkedReplies): void {
    this.parkedBytes -= p.bytes.length;
    freeParked(p.bytes);
    p.bytes = EMPTY;
    p.attached = [];
    p.held = [];
  }

  /** The replies are sent, or will never be: let go of the items they named. */
  releaseHeld(): void {
    const h = this.held;
    if (h.length === 0) return; // the common case, every text get's flush point: no length store
    for (let i = 0; i < h.length; i++) this.release(h[i]);
    h.length = 0;
  }

  /** With values attached: buf's runs and the values' views, in order (the iovecs of one writev). */
  chunks(): Uint8Array[] {
    const out: Uint8Array[] = [];
    let from = 0;
    for (const a of this.attached) {
      if (a.at > from) out.push(this.buf.subarray(from, a.at));
      out.push(a.view);
      from = a.at;
    }
    if (this.pos > from) out.push(this.buf.subarray(from, this.pos));
    return out;
  }

  /**
   * Before a write in the middle of a read (connFlush's midRead): the items of replies not yet past a flush
   * point stay referenced until one (or the read's end) is reached, as memcached's responses keep them,
   * whenever the write itself lets go of them.
   */
  holdUncommittedAttached(): void {
    for (let i = this.committedAttached; i < this.attached.length; i++) {
      const it = this.attached[i].it;
      this.retain(it);
      this.held.push(it);
    }
  }

  /** The attached values' item references, now the caller's to release once their write is done. */
  takeAttached(): number[] {
    const its = this.attached.map((a) => a.it);
    this.attached = [];
    this.attachedBytes = 0;
    this.committedAttached = 0;
    return its;
  }

  private forgetViews(): void {
    this.views = new Array<Buffer | undefined>(SMALL_VIEW + 1).fill(undefined);
    this.bigView = null;
  }

  /** Room for n more bytes, growing (copying what is there) when needed. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length;
    while (size < this.pos + n) size = grown(size);
    const old = this.buf;
    this.replace(size);
    old.copy(this.buf, 0, 0, this.pos);
    free(old.buffer);
  }

  bytes(src: Uint8Array): void {
    this.copyFrom(src, 0, src.length);
  }

  copyFrom(src: Uint8Array, start: number, len: number): void {
    this.reserve(len);
    copyBytes(this.buf, this.pos, src, start, len);
    this.pos += len;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.pos++] = b;
  }

  space(): void { this.byte(0x20); }

  crlf(): void {
    this.reserve(2);
    this.buf[this.pos++] = CRLF_0;
    this.buf[this.pos++] = CRLF_1;
  }

  /** A non-negative integer below 2^53 in decimal. */
  uint(n: number): void {
    this.reserve(UINT_MAX_DIGITS);
    this.pos = putUint(this.buf, this.pos, n);
  }

  /** A signed integer. */
  int(n: number): void {
    if (n < 0) { this.byte(0x2d); n = -n; }
    this.uint(n);
  }

  ascii(s: string): void {
    this.reserve(s.length);
    this.pos += this.buf.write(s, this.pos, "latin1");
  }

  /**
   * Take back everything appended at or after buffer position pos (a command's partial reply),
   * attached values included: their references are released.
   */
  truncate(pos: number): void {
    const a = this.attached;
    while (a.length > 0 && a[a.length - 1].at >= pos) this.dropLastAttached();
    // Cut back to nothing, the items named are let go; cut back to a command's start, they wait for the flush.
    if (pos === 0) this.releaseHeld();
    this.pos = pos;
    if (this.counted > this.size()) this.counted = this.size();
    if (this.committedPos > pos) this.committedPos = pos;
    if (this.committedAttached > a.length) this.committedAttached = a.length;
  }

  private dropLastAttached(): void {
    const last = this.attached.pop()!;
    this.attachedBytes -= last.view.length;
    this.release(last.it);
  }

  /**
   * memcached sends its queued responses at set points (conn_mwrite: a text get's END, mn, a binary
   * error or noop, quit, a read that needs more input); a connection closed for bad input in between
   * loses the responses queued since. commit() marks such a point, dropUncommitted() is the loss.
   */
  commit(): void {
    this.committedPos = this.pos;
    this.committedAttached = this.attached.length;
    this.releaseHeld(); // memcached sends here, then lets go of the items (conn_release_items)
    this.cache?.respsFlushPoint();
  }

  dropUncommitted(): void {
    while (this.attached.length > this.committedAttached) this.dropLastAttached();
    this.releaseHeld(); // early for the committed replies' items, which is harmless: their bytes are copied
    this.pos = this.committedPos;
    if (this.counted > this.size()) this.counted = this.size();
    this.cache?.respsDone(); // conn_release_items
  }

  /**
   * The bytes to send; the caller then calls `sent()`. A small reply reuses the view made for its
   * length the first time: a new view per write was 0.7% of a worker's time under W1. A large one
   * reuses the last large view when the length repeats (W4's 16 KB gets: 0.4% of the server's samples).
   */
  pending(): Buffer {
    const n = this.pos;
    if (n > SMALL_VIEW) {
      const big = this.bigView;
      if (big !== null && big.length === n) return big;
      return (this.bigView = this.buf.subarray(0, n));
    }
    let v = this.views[n];
    if (v === undefined) { v = this.buf.subarray(0, n); this.views[n] = v; }
    return v;
  }

  /**
   * After the write of pending() (or chunks()): when libuv had to queue it (not written through at
   * once), the memory is libuv's until the write completes, so take a fresh buffer. Answers the one
   * left to the write (to lend), else null.
   */
  sent(retained: boolean, keepHeld = false): ArrayBuffer | null {
    let left: ArrayBuffer | null = null;
    if (retained) {
      left = this.buf.buffer as ArrayBuffer;
      this.replace(Math.max(INITIAL_SIZE, Math.min(this.buf.length, 256 * 1024)));
    } else if (this.buf.length > 1024 * 1024) { // don't hoard a huge one
      const old = this.buf;
      this.replace(INITIAL_SIZE);
      free(old.buffer);
    }
    this.pos = 0;
    this.committedPos = 0;
    this.counted = 0;
    if (!keepHeld) this.releaseHeld();
    return left; // (the response objects of what was written: connFlush)
  }

  /** A buffer sent() left to a queued write, counted until giveBack. */
  lend(lent: ArrayBuffer): void { this.lentBytes += lent.byteLength; }

  /** The write that held a lent buffer is done or cancelled: nothing points into it any more, so it is freed now. */
  giveBack(lent: ArrayBuffer): void {
    this.lentBytes -= lent.byteLength;
    free(lent);
  }

  private replace(size: number): void {
    this.buf = Buffer.allocUnsafeSlow(size); // never from the shared pool: a buffer of its own, freed whole (free)
    this.view = viewOf(this.buf);
    this.forgetViews();
  }
}
