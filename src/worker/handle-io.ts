// A connection's reads and writes straight on its libuv TCP handle: memcached's read() into the
// thread's buffer and its transmit(). Node's socket stream sits between JS and the handle with a
// Writable state machine, a WriteWrap and a callback per write and symbol-keyed lookups per read;
// under one-request-per-read load that layer cost more user time than parsing and the store
// together (bench/RESULTS.md, round 4). The socket object stays: it owns the handle's lifetime,
// its 'close', pause/resume and shutdown on end. Only the data path goes around it.
//
// The handle calls are the ones Node's own net module makes (stream_wrap's WriteWrap,
// writeBuffer, the onread hook and streamBaseState); where this Node does not offer them,
// `openHandleIo` answers null and the connection keeps the stream path.

import type { Socket } from 'node:net';

/** The part of a libuv stream handle (TCPWrap / PipeWrap) used here. */
type StreamHandle = {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writev(req: WriteReq, chunks: Uint8Array[], allBuffers: boolean): number;
  readStop(): number;
  readonly writeQueueSize: number;
  onread: ((this: StreamHandle, ab: ArrayBuffer | undefined) => unknown) | undefined;
};

/** A stream_wrap WriteWrap as its completion finds it. */
type WriteReq = {
  oncomplete: (this: WriteReq, status: number) => void;
  io: HandleIo | null;
  data: Uint8Array | Uint8Array[] | null;
  /** Called once libuv no longer points into data (an async writev of attached values). */
  done: (() => void) | null;
};

type StreamBinding = {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
};

/** What the connection does with what the handle reports. */
export type HandleHooks = {
  /** n bytes arrived in the socket's user buffer (its `onread` buffer, see worker.ts). */
  onRead(n: number): void;
  /** n bytes arrived in the view named by readInto. */
  onReadInto(n: number): void;
  /** The peer closed (UV_EOF) or the read failed (a negative errno): the connection is over. */
  onReadEnd(status: number): void;
  /** Every queued write has reached the kernel. */
  onDrain(): void;
  /** A queued write failed (negative errno). */
  onWriteError(status: number): void;
};

function loadStreamBinding(): StreamBinding | null {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamBinding> }).binding('stream_wrap');
    if (typeof binding.WriteWrap !== 'function' || !(binding.streamBaseState instanceof Int32Array)) return null;
    if (typeof binding.kReadBytesOrError !== 'number' || typeof binding.kLastWriteWasAsync !== 'number') return null;
    return binding as StreamBinding;
  } catch {
    return null;
  }
}

const binding = loadStreamBinding();

function onWriteComplete(this: WriteReq, status: number): void {
  const io = this.io;
  const done = this.done;
  this.io = null;
  this.data = null;
  this.done = null;
  if (done !== null) done();
  if (io === null || io.detached) return;
  if (status < 0) io.hooks.onWriteError(status);
  else if (io.queued() === 0) io.hooks.onDrain();
}

function newWriteReq(b: StreamBinding): WriteReq {
  const req = new b.WriteWrap();
  req.oncomplete = onWriteComplete;
  req.io = null;
  req.data = null;
  req.done = null;
  return req;
}

export class HandleIo {
  readonly handle: StreamHandle;
  readonly hooks: HandleHooks;
  /** The worker's read buffer, where reads land unless readInto named a view for the next one. */
  readonly readBuffer: Uint8Array;
  /** Where libuv reads next. Only the hook's return value changes it (useUserBuffer would push a new listener per call). */
  private current: Uint8Array;
  /** Where the connection wants the next read (null: readBuffer); takes effect when the current read is handled. */
  private wanted: Uint8Array | null = null;
  /** Set once the connection is closed: a late completion must not reach its next user. */
  detached = false;
  private readonly state: Int32Array;
  private readonly readBytes: number;
  private readonly wasAsync: number;
  private readonly binding: StreamBinding;
  /** Reused while writes complete at once; a write the kernel could not take keeps its own. */
  private req: WriteReq;

  constructor(handle: StreamHandle, hooks: HandleHooks, readBuffer: Uint8Array, b: StreamBinding) {
    this.handle = handle;
    this.hooks = hooks;
    this.readBuffer = readBuffer;
    this.current = readBuffer;
    this.binding = b;
    this.state = b.streamBaseState;
    this.readBytes = b.kReadBytesOrError;
    this.wasAsync = b.kLastWriteWasAsync;
    this.req = newWriteReq(b);
  }

  /**
   * Hand data to the kernel, or queue it in libuv when the socket is full; then the caller must
   * not touch `data` again. Answers 0 or a negative errno.
   */
  write(data: Uint8Array): number {
    const req = this.req;
    const err = this.handle.writeBuffer(req, data);
    if (err !== 0) return err;
    if (this.state[this.wasAsync] !== 0) {
      req.io = this;
      req.data = data; // libuv points into it until the write completes
      this.req = newWriteReq(this.binding);
    }
    return 0;
  }

  /**
   * write() for several chunks in one writev; `done` runs once libuv no longer points into them
   * (at once unless the write had to be queued). Answers 0 or a negative errno.
   */
  writev(chunks: Uint8Array[], done: () => void): number {
    const req = this.req;
    const err = this.handle.writev(req, chunks, true);
    if (err === 0 && this.state[this.wasAsync] !== 0) {
      req.io = this;
      req.data = chunks;
      req.done = done;
      this.req = newWriteReq(this.binding);
      return 0;
    }
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
   * handle is closed, so the memory behind it must stay owned until the socket's 'close'.
   */
  cancelReadInto(): boolean {
    this.wanted = null;
    if (this.current === this.readBuffer) return false;
    this.handle.readStop();
    return true;
  }

  /**
   * The read hook. Bytes, the end of the stream and read errors all go to the connection, which
   * closes the socket itself: Node's end-of-stream path (an 'end' event, a shutdown request, then
   * 'finish' and destroy) cost more than the request under connection churn.
   */
  takeReads(onStreamRead: (this: StreamHandle, ab: ArrayBuffer | undefined) => unknown): void {
    const { state, readBytes } = this;
    const io = this; // inside the hook, `this` is the handle
    this.handle.onread = function onread(this: StreamHandle, ab: ArrayBuffer | undefined): unknown {
      const n = state[readBytes];
      if (n === 0) return onStreamRead.call(this, ab);
      if (n < 0) { io.wanted = null; io.hooks.onReadEnd(n); return undefined; }
      const landed = io.current;
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

/**
 * Drive this socket's handle directly. The socket already reads into a user buffer (Node's
 * `onread` mode), so pause() and resume() stop and start the handle; its reads now skip the
 * stream's handler. Null where this Node lacks the calls: the caller keeps the stream path.
 */
export function openHandleIo(socket: Socket, readBuffer: Uint8Array, hooks: HandleHooks): HandleIo | null {
  // readBuffer must be the buffer the socket already reads into (worker.ts adoptReadBuffer).
  if (binding === null) return null;
  const handle = (socket as unknown as { _handle: Partial<StreamHandle> | null })._handle;
  if (handle === null || typeof handle.writeBuffer !== 'function' || typeof handle.readStop !== 'function') return null;
  const onStreamRead = handle.onread;
  if (typeof onStreamRead !== 'function') return null;
  const io = new HandleIo(handle as StreamHandle, hooks, readBuffer, binding);
  io.takeReads(onStreamRead);
  return io;
}
