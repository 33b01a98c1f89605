// What a connection reads and writes through: memcached's c->read / c->sendmsg / c->write, which
// are the socket calls or, on a TLS listener, OpenSSL's. HandleIo drives a plain connection's libuv
// handle directly (the hot path); TlsIo (tls/tls-io.ts) drives a TLS one through Node's tls module.

import type { PeerName } from './handle-io.ts';

/** What the connection does with what its I/O reports. */
export type IoHooks = {
  /** n bytes arrived in the worker's read buffer. */
  onRead(n: number): void;
  /** n bytes arrived in the view named by readInto. */
  onReadInto(n: number): void;
  /** The peer closed (UV_EOF) or the read failed (a negative errno): the connection is over. */
  onReadEnd(status: number): void;
  /** Every queued write has reached the kernel. */
  onDrain(): void;
  /** A queued write failed (negative errno). */
  onWriteError(status: number): void;
  /** The handle is closed: nothing more will be read into or written from anything. */
  onClosed(): void;
};

export interface ConnIo {
  /** Set by close(): closing or closed; a late completion must not reach the connection. */
  readonly closed: boolean;
  /** The last write had to be queued: until it completes, what it was given must not change. */
  readonly lastWriteQueued: boolean;
  /**
   * Nothing points into a queued write's data once the queue has drained (onDrain) or the handle is closed
   * (onClosed), so its buffer may be freed then (libuv's handle; a TLS socket's writes are Node's to hold).
   */
  readonly lendable: boolean;
  /**
   * The read being handled follows one that filled its buffer, so it came in the same poll event: libuv reads on
   * until a read comes short or meets EAGAIN, as memcached's conn_nread reads a value's rest in the event it began
   * in while the bytes are there.
   */
  readonly continuesRead: boolean;
  /** Start (or, after pause, resume) reading. */
  resume(): void;
  /** Stop reading: a client that does not read its replies is not read from either. */
  pause(): void;
  /** Send data; once it returns, the caller must not touch data again if lastWriteQueued. 0 or a negative errno. */
  write(data: Uint8Array): number;
  /** write() for several chunks; `done` runs once nothing points into them any more. 0 or a negative errno. */
  writev(chunks: Uint8Array[], done: () => void): number;
  /** Bytes written but not yet taken by the kernel. */
  queued(): number;
  /** Let the next read land in view (a value's rest, straight into its item); an I/O may ignore it. */
  readInto(view: Uint8Array): void;
  /** Stop reading; true when a read may still land in the view readInto named, until onClosed. */
  cancelReadInto(): boolean;
  /** memcached's conn_close: close now; queued writes are dropped. onClosed follows. */
  close(): void;
  /**
   * Close once the queued replies are written; with `reset`, then with a TCP reset, as memcached's close(2) of a
   * socket it had not read all of (an I/O without one closes as usual).
   */
  closeAfterWrites(reset?: boolean): void;
  /** The peer's address in out; an empty address for a unix socket. */
  peerName(out: PeerName): PeerName;
  /** The local address the connection arrived on. */
  sockName(out: PeerName): PeerName;
}
