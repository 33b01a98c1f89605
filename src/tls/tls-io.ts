// A connection on a TLS listener: memcached's ssl_read / ssl_sendmsg / ssl_write. The handle the
// dispatcher handed over is wrapped in Node's tls.TLSSocket (server side); decrypted input is copied
// into the worker's read buffer and goes to the connection exactly as a plain read does, and replies
// are encrypted on write. The state machine cannot tell the two apart (worker/conn-io.ts).
//
// Not the hot path: it costs a TLSSocket per connection and a copy per read, as memcached's TLS
// connections cost OpenSSL's buffers and copies.

import net from 'node:net';
import tls from 'node:tls';
import { SSL_VERIFY_FAIL_IF_NO_PEER_CERT } from '../settings/tls-settings.ts';
import type { ConnIo, IoHooks } from '../worker/conn-io.ts';
import { handleAddress } from '../worker/handle-io.ts';
import type { AddressHandle, PeerName } from '../worker/handle-io.ts';

const UV_EOF = -4095;
const UV_EPROTO = -71; // a TLS failure has no errno of its own

/** What the worker keeps for its TLS connections: the current certificates and memcached's counters. */
export interface TlsListener {
  /** The context new connections take (refresh_certs replaces it for connections still to come). */
  context(): tls.SecureContext;
  readonly verifyMode: number;
  /** With ssl_session_cache, the server Node asks for sessions by id (session-cache.ts); else null. */
  readonly sessionServer: net.Server | null;
  /** memcached's ssl_handshake_errors. */
  handshakeFailed(): void;
  /** A handshake finished (ssl_new_sessions). */
  handshakeDone(socket: tls.TLSSocket): void;
}

/** Node's TLSWrap: its verification result, which only tls.Server reads for its own sockets. */
type VerifyingHandle = { verifyError?(): Error | null };

export class TlsIo implements ConnIo {
  declare readonly readBuffer: Buffer;
  closed = false;
  lastWriteQueued = false;
  readonly lendable = false;
  readonly continuesRead = false; // Node's TLS socket hands over decrypted records, not the socket's reads
  private declare readonly socket: tls.TLSSocket;
  private declare readonly handle: AddressHandle;
  private declare readonly hooks: IoHooks;
  private declare readonly listener: TlsListener;
  private secure = false;
  private ending = false;

  constructor(handle: object, readBuffer: Buffer, hooks: IoHooks, listener: TlsListener) {
    this.handle = handle as AddressHandle;
    this.readBuffer = readBuffer;
    this.hooks = hooks;
    this.listener = listener;
    // Half open, as a plain connection is: the client's close_notify or FIN ends its input, and the commands read
    // before it still run and are answered (the TLS socket takes allowHalfOpen from this one; without it Node
    // would end and close the connection at once, dropping what the -R turns had not yet worked off).
    const raw = new net.Socket({ handle, readable: true, writable: true, allowHalfOpen: true } as net.SocketConstructorOpts);
    this.socket = new tls.TLSSocket(raw, {
      isServer: true, secureContext: listener.context(),
      requestCert: listener.verifyMode !== 0,
      rejectUnauthorized: (listener.verifyMode & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) !== 0,
      ...(listener.sessionServer !== null ? { server: listener.sessionServer } : {}),
    });
    this.socket.pause();
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('secure', () => this.onSecure());
    this.socket.on('end', () => { if (!this.closed) this.hooks.onReadEnd(UV_EOF); });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    this.socket.on('close', () => this.onClose());
  }

  resume(): void { if (!this.closed) this.socket.resume(); }

  pause(): void { this.socket.pause(); }

  /**
   * Node holds on to data only while a write is pending (writableLength > 0): then lastWriteQueued
   * tells the caller to leave the buffer alone, as libuv's queued writes do.
   */
  write(data: Uint8Array): number {
    if (this.closed || this.ending) return 0;
    this.socket.write(data, this.afterWrite);
    this.lastWriteQueued = this.socket.writableLength > 0;
    return 0;
  }

  writev(chunks: Uint8Array[], done: () => void): number {
    const err = this.write(Buffer.concat(chunks)); // a copy: the items can be let go at once
    done();
    return err;
  }

  queued(): number { return this.socket.writableLength; }

  /** Decrypted bytes come from Node's buffers, never straight into an item: a value's rest is copied in. */
  readInto(_view: Uint8Array): void {}

  cancelReadInto(): boolean { return false; }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }

  /** memcached's SSL_shutdown, then close: close_notify and FIN follow the replies still queued. */
  closeAfterWrites(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.socket.pause();
    if (!this.secure) { this.close(); return; }
    this.socket.end(() => this.close());
  }

  peerName(out: PeerName): PeerName { return handleAddress(this.handle, 'peer', out); }

  sockName(out: PeerName): PeerName { return handleAddress(this.handle, 'local', out); }

  /** A TLS record's worth at a time, through the worker's buffer like a plain read. */
  private onData(chunk: Buffer): void {
    const rb = this.readBuffer;
    for (let at = 0; at < chunk.length && !this.closed;) {
      const n = Math.min(chunk.length - at, rb.length);
      chunk.copy(rb, 0, at, at + n);
      at += n;
      this.hooks.onRead(n);
    }
  }

  private readonly afterWrite = (err?: Error | null): void => {
    if (this.closed) return;
    if (err) this.hooks.onWriteError(errnoOf(err));
    else if (this.socket.writableLength === 0) this.hooks.onDrain();
  };

  /**
   * The handshake is done. A client certificate that does not verify ends the connection (memcached's
   * OpenSSL fails the handshake for it, with ssl_verify_mode 1 as with 2 and 3); a missing one does only
   * under 2 and 3, and OpenSSL has already refused it.
   */
  private onSecure(): void {
    if (this.listener.verifyMode !== 0 && this.socket.getPeerX509Certificate() !== undefined && !this.peerVerified()) {
      this.listener.handshakeFailed();
      this.close();
      return;
    }
    this.secure = true;
    this.listener.handshakeDone(this.socket);
  }

  private peerVerified(): boolean {
    const wrap = (this.socket as unknown as { _handle: VerifyingHandle | null })._handle;
    return typeof wrap?.verifyError === 'function' && wrap.verifyError() === null;
  }

  /** A TLS failure before the handshake is done counts; a client that only connects and leaves does not. */
  private onError(err: NodeJS.ErrnoException): void {
    if (!this.secure && !this.closed && typeof err.code === 'string' && err.code.startsWith('ERR_SSL')) this.listener.handshakeFailed();
    if (!this.closed) this.hooks.onReadEnd(errnoOf(err));
  }

  private onClose(): void {
    this.closed = true;
    this.hooks.onClosed();
  }
}

function errnoOf(err: NodeJS.ErrnoException): number {
  return typeof err.errno === 'number' && err.errno < 0 ? err.errno : UV_EPROTO;
}

/** A TLS listener's connection (the worker loads this module only with -Z). */
export function openTlsIo(handle: object, readBuffer: Buffer, hooks: IoHooks, listener: TlsListener): TlsIo {
  return new TlsIo(handle, readBuffer, hooks, listener);
}
