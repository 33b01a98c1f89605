// A connection's libuv stream handle, driven directly: memcached's conn and its fd. Reads land in
// the worker's buffer and call the connection (read()), replies go out with writeBuffer / writev
// (transmit()), and the connection closes the handle itself (close(), or shutdown first while
// replies are still queued). There is no net.Socket: its stream machinery cost more user time
// per request than parsing and the store together, and building and destroying one per
// connection was most of the cost of connection churn (bench/RESULTS.md, round 4).
//
// The handle calls are the ones Node's own net module makes (stream_wrap's WriteWrap and
// ShutdownWrap, writeBuffer, writev, readStart/readStop, useUserBuffer, the onread hook and
// streamBaseState, close). Node 26, which package.json pins, has them all; `checkHandleIo` says
// at startup if a Node does not.

import { getSystemErrorName } from 'node:util';
import type { ConnIo, IoHooks } from './conn-io.ts';
import type { ConnHandle } from '../dispatcher/accept.ts';

/** The part of a libuv stream handle (TCPWrap / PipeWrap) used here. */
type StreamHandle = AddressHandle & {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: Uint8Array[], allBuffers: boolean): number;
  readStart(): number;
  readStop(): number;
  shutdown(req: ShutdownReq): number;
  close(callback: () => void): void;
  /** uv_tcp_close_reset (a TCPWrap's; a PipeWrap has none): close with an RST. Not while a shutdown is pending. */
  reset?(callback: () => void): number;
  useUserBuffer(buf: Uint8Array): void;
  readonly writeQueueSize: number;
  onread: ((this: StreamHandle, ab: ArrayBuffer | undefined) => unknown) | undefined;
};

export type PeerName = { address?: string; port?: number; family?: string };

/** The part of a handle that names the connection's two ends (a TCPWrap's; a PipeWrap has neither). */
export type AddressHandle = { getpeername?(out: PeerName): number; getsockname?(out: PeerName): number };

/** The peer's (or the local) address of a handle, in out, cleared first: an empty address when it has none. */
export function handleAddress(handle: AddressHandle, end: 'peer' | 'local', out: PeerName): PeerName {
  out.address = ''; out.family = ''; out.port = 0;
  if (end === 'peer') handle.getpeername?.(out);
  else handle.getsockname?.(out);
  return out;
}

/** A stream_wrap WriteWrap as its completion finds it. */
type WriteReq = {
  oncomplete: (this: WriteReq, status: number) => void;
  io: HandleIo | null;
  data: Uint8Array | Uint8Array[] | null;
  /** Called once libuv no longer points into data (an async writev of attached values). */
  done: (() => void) | null;
};

type ShutdownReq = { oncomplete: (this: ShutdownReq, status: number) => void; io: HandleIo };

type StreamBinding = {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
};

function loadStreamBinding(): StreamBinding | null {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamBinding> }).binding('stream_wrap');
    if (typeof binding.WriteWrap !== 'function' || typeof binding.ShutdownWrap !== 'function') return null;
    if (!(binding.streamBaseState instanceof Int32Array)) return null;
    if (typeof binding.kReadBytesOrError !== 'number' || typeof binding.kLastWriteWasAsync !== 'number') return null;
    return binding as StreamBinding;
  } catch {
    return null;
  }
}

const binding = loadStreamBinding();

/** Why this Node cannot drive handles directly, or null when it can (checked when a worker starts). */
export function checkHandleIo(): string | null {
  return binding === null ? "this Node has no stream_wrap binding (WriteWrap, ShutdownWrap, streamBaseState); Cachalot runs on Node 26" : null;
}

function onWriteComplete(this: WriteReq, status: number): void {
  const io = this.io;
  const done = this.done;
  this.io = null;
  this.data = null;
  this.done = null;
  if (done !== null) done();
  if (io === null || io.closed) return;
  if (status < 0) io.hooks.onWriteError(status);
  else if (io.queued() === 0) {
    io.hooks.onDrain();
    if (io.resetWhenDrained) io.closeAfterWrites(true);
  }
}

function newWriteReq(b: StreamBinding): WriteReq {
  const req = new b.WriteWrap();
  req.oncomplete = onWriteComplete;
  req.io = null;
  req.data = null;
  req.done = null;
  return req;
}

/**
 * The WriteWrap for this thread's next write. A write that completes at once leaves nothing in
 * libuv that points at its request, so one serves every connection of the thread instead of one
 * made per connection (a request is a native object; under connection churn every connection
 * made one). A write libuv has to queue keeps its request until it completes, and the next write
 * gets a new one.
 */
let spareReq: WriteReq | null = null;

function writeReq(b: StreamBinding): WriteReq {
  if (spareReq === null) spareReq = newWriteReq(b);
  return spareReq;
}

function onShutdownComplete(this: ShutdownReq): void {
  this.io.close();
}

export class HandleIo implements ConnIo {
  declare readonly handle: StreamHandle;
  declare readonly hooks: IoHooks;
  /** The worker's read buffer, where reads land unless readInto named a view for the next one. */
  declare readonly readBuffer: Uint8Array;
  /** Set by close(): the handle is closing or closed; a late completion must not reach the connection. */
  closed = false;
  /** closeAfterWrites asked libuv for a shutdown: the handle can no longer be closed with a reset. */
  private shuttingDown = false;
  /** closeAfterWrites asked for a reset behind queued writes: it comes once they are written. */
  resetWhenDrained = false;
  /**
   * The last write or writev had to be queued in libuv. When it went out at once the queue is empty:
   * libuv tries a write at once only when nothing is queued before it.
   */
  lastWriteQueued = false;
  readonly lendable = true;
  continuesRead = false;
  /** The last read filled the buffer it landed in, so libuv read on at once (uv__read stops at a short read or EAGAIN). */
  private lastReadFilled = false;
  private reading = false;
  /** Where libuv reads next. Only the hook's return value changes it (useUserBuffer would push a new listener per call). */
  private declare current: Uint8Array;
  /** Where the connection wants the next read (null: readBuffer); takes effect when the current read is handled. */
  private wanted: Uint8Array | null = null;
  private declare readonly state: Int32Array;
  private declare readonly wasAsync: number;
  private declare readonly binding: StreamBinding;

  constructor(handle: StreamHandle, hooks: IoHooks, readBuffer: Uint8Array, b: StreamBinding) {
    this.handle = handle;
    this.hooks = hooks;
    this.readBuffer = readBuffer;
    this.current = readBuffer;
    this.binding = b;
    this.state = b.streamBaseState;
    this.wasAsync = b.kLastWriteWasAsync;
    handle.useUserBuffer(readBuffer);
    this.takeReads(b.kReadBytesOrError);
  }

  /** Start (or, after pause, resume) reading. */
  resume(): void {
    if (this.reading || this.closed) return;
    this.reading = true;
    const err = this.handle.readStart();
    if (err < 0) this.hooks.onReadEnd(err);
  }

  /** Stop reading: a client that does not read its replies is not read from either. */
  pause(): void {
    if (!this.reading) return;
    this.reading = false;
    this.lastReadFilled = false; // libuv's reading stops here: the read after a resume is a new poll event's
    this.handle.readStop();
  }

  /**
   * Hand data to the kernel, or queue it in libuv when the socket is full; then the caller must
   * not touch `data` again. Answers 0 or a negative errno.
   */
  write(data: Uint8Array): number {
    const req = writeReq(this.binding);
    const err = this.handle.writeBuffer(req, data);
    if (err !== 0) { spareReq = null; return err; } // a failed write's request is not reused
    this.lastWriteQueued = this.state[this.wasAsync] !== 0;
    if (this.lastWriteQueued) {
      req.io = this;
      req.data = data; // libuv points into it until the write completes
      spareReq = null;
    }
    return 0;
  }

  /**
   * write() for several chunks in one writev; `done` runs once libuv no longer points into them
   * (at once unless the write had to be queued). Answers 0 or a negative errno.
   */
  writev(chunks: Uint8Array[], done: () => void): number {
    const req = writeReq(this.binding);
    const err = this.handle.writev(req, chunks, true);
    this.lastWriteQueued = err === 0 && this.state[this.wasAsync] !== 0;
    if (this.lastWriteQueued) {
      req.io = this;
      req.data = chunks;
      req.done = done;
      spareReq = null;
      return 0;
    }
    if (err !== 0) spareReq = null;
    done();
    return err;
  }

  /** Bytes waiting in libuv for the kernel to take them. */
  queued(): number { return this.handle.writeQueueSize; }

  /**
   * Let the read after the one being handled land in view (a value's rest, straight into its item).
   * Called outside a read it takes effect one read later: that read lands in readBuffer as usual.
   */
  readInto(view: Uint8Array): void { this.wanted = view; }

  /**
   * The connection closes: stop reading. True when libuv may still write into a view until the
   * handle is closed, so the memory behind it must stay owned until onClosed.
   */
  cancelReadInto(): boolean {
    this.wanted = null;
    if (this.current === this.readBuffer) return false;
    this.pause();
    return true;
  }

  /**
   * memcached's conn_close: close the handle now. What the kernel holds is still delivered (as after
   * close(2)); writes still queued in libuv are cancelled. onClosed follows.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pause();
    this.handle.close(() => this.hooks.onClosed());
  }

  /**
   * Close once the replies queued in libuv are written (a shutdown request first), else at once. `reset`: the
   * peer sent bytes memcached would not have read yet, and its close(2) of a TCP socket with unread input sends
   * an RST (the kernel drops what it had not delivered; the peer reads what arrived, then gets ECONNRESET): a TCP
   * handle closes that way too, once libuv's queue is in the kernel. A unix socket has no such close here.
   */
  closeAfterWrites(reset = false): void {
    if (this.closed) return;
    const canReset = reset && !this.shuttingDown && this.handle.reset !== undefined;
    if (canReset && this.queued() === 0) { this.closeWithReset(); return; }
    this.pause();
    // memcached writes what it queued (conn_mwrite) before it closes: the reset waits for the queue as the FIN would
    if (canReset) { this.resetWhenDrained = true; return; }
    if (this.queued() === 0) { this.close(); return; }
    this.shuttingDown = true;
    const req = new this.binding.ShutdownWrap();
    req.oncomplete = onShutdownComplete;
    req.io = this;
    if (this.handle.shutdown(req) !== 0) this.close();
  }

  private closeWithReset(): void {
    this.closed = true;
    this.pause();
    // Node marks the handle closing even when libuv refused (only a failed SO_LINGER could, on a shutdown-free
    // TCP handle): no close() could follow, so the connection is let go of all the same
    if (this.handle.reset?.(() => this.hooks.onClosed()) !== 0) this.hooks.onClosed();
  }

  /** The peer's address in out (TCP); an empty address for a unix socket. Answers out. */
  peerName(out: PeerName): PeerName { return handleAddress(this.handle, 'peer', out); }

  /** The local address the connection arrived on, in out as peerName. */
  sockName(out: PeerName): PeerName { return handleAddress(this.handle, 'local', out); }

  /**
   * The read hook. Bytes, the end of the stream and read errors all go to the connection; the
   * hook's return value is the buffer of the next read when it changes (a view into an item).
   */
  private takeReads(readBytes: number): void {
    const state = this.state;
    const io = this; // inside the hook, `this` is the handle
    this.handle.onread = function onread(this: StreamHandle): unknown {
      const n = state[readBytes];
      if (n === 0) { io.lastReadFilled = false; return undefined; } // EAGAIN: the next read is a new poll event's
      if (n < 0) { io.wanted = null; io.hooks.onReadEnd(n); return undefined; }
      const landed = io.current;
      io.continuesRead = io.lastReadFilled;
      io.lastReadFilled = n === landed.length;
      io.wanted = null;
      if (landed === io.readBuffer) io.hooks.onRead(n);
      else io.hooks.onReadInto(n);
      const next = io.wanted ?? io.readBuffer;
      if (next === io.current) return undefined;
      io.current = next;
      return next; // Node's user-buffer listener reads into what the hook returns
    };
  }
}

type PipeBinding = { Pipe: new (type: number) => { open(fd: number): number }; constants: { SOCKET: number } };

function loadPipeBinding(): PipeBinding | null {
  try {
    const b = (process as unknown as { binding(name: string): Partial<PipeBinding> }).binding('pipe_wrap');
    return typeof b.Pipe === 'function' && typeof b.constants?.SOCKET === 'number' ? b as PipeBinding : null;
  } catch {
    return null;
  }
}

const pipeBinding = loadPipeBinding();

/**
 * A unix-socket connection handed over as a descriptor (dispatcher/unix-socket.ts): this thread's own libuv pipe
 * handle around it, as Node's net.Socket({ fd }) makes one. The handle owns the descriptor from here on.
 */
export function adoptUnixFd(fd: number): ConnHandle {
  if (pipeBinding === null) throw new Error('cachalot worker: this Node has no pipe_wrap binding');
  const handle = new pipeBinding.Pipe(pipeBinding.constants.SOCKET);
  const err = handle.open(fd);
  if (err !== 0) throw new Error(`cachalot worker: a unix-socket connection's descriptor ${fd}: ${errnoName(err)}`);
  return handle as unknown as ConnHandle;
}

/** Drive an accepted connection's handle (from the dispatcher, a TCP handle moved here or a unix one adopted). */
export function openHandleIo(handle: object, readBuffer: Uint8Array, hooks: IoHooks): HandleIo {
  if (binding === null) throw new Error(checkHandleIo() ?? 'no stream_wrap binding');
  return new HandleIo(handle as StreamHandle, hooks, readBuffer, binding);
}

/** A read error's name for the -vv close line. */
export function errnoName(status: number): string {
  try { return getSystemErrorName(status); } catch { return `error ${status}`; }
}
