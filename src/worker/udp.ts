// memcached's UDP connections (-U): try_read_udp, transmit_udp and build_udp_header. Each worker binds
// its own socket on the UDP port (SO_REUSEPORT: the kernel spreads the datagrams; memcached gives each
// thread a dup of one socket) and answers it through one Conn that never closes, as memcached's UDP
// conn_read connections. A datagram is one request: an 8-byte frame header (request id, sequence
// number, datagram count, reserved) and then commands of any protocol, all answered; what it leaves
// unfinished (a line cut short, a value not all there) is dropped with it.
//
// Replies go out per response object, as memcached sends them: each command starts one, and so does each key
// of a text get after the first. A response is split into datagrams of at most UDP_MAX_PAYLOAD_SIZE bytes,
// each with the request id, its sequence number and the response's datagram count. An empty response is
// memcached's too: a reply left out (text noreply, a meta quiet miss) sends nothing, and an empty one (a
// get's missed key, quit, a binary quiet command) sends one empty datagram only when it heads a batch:
// memcached transmits the responses queued at each of its flush points (conn_mwrite: a text get's END, mn, a
// binary error or noop), one datagram run per response, and an empty response that follows a sent one in the
// same batch is finished with it. So `quit` alone, `get a b` missing `a`, and `mn` then `get a b` send one;
// `version` then `quit` does not (seen from memcached 1.6.18).

import type { Conn } from './conn.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { ConnRow, setAddress } from '../stats/conn-table.ts';

export const UDP_HEADER_SIZE = 8;
export const UDP_MAX_PAYLOAD_SIZE = 1400;
const UDP_DATA_SIZE = UDP_MAX_PAYLOAD_SIZE - UDP_HEADER_SIZE;
const USHRT_MAX = 0xffff;

/** The part of a node:dgram socket a UDP connection uses. */
export type DatagramSocket = {
  send(msg: Uint8Array, port: number, address: string): void;
  getSendQueueSize(): number;
  getSendQueueCount(): number;
};

/**
 * Replies waiting in libuv for the kernel to take them, past which a request is dropped unanswered: a client
 * asking for large values faster than the socket sends them would otherwise grow the queue without bound
 * (memcached stops reading its UDP socket until it can write again; datagrams sent meanwhile are lost too).
 */
const SEND_QUEUE_LIMIT = 4 * 1024 * 1024;
/**
 * Datagrams of one reply that libuv may queue (the kernel's socket buffer full) before the rest of the reply is
 * dropped: at least this, and two values of -I, as a TCP client that does not read may fall behind by before it
 * is hung up on (transmit.ts MIN_BACKLOG_LIMIT).
 */
const MIN_REPLY_QUEUE_LIMIT = 16 * 1024 * 1024;
/** Datagrams are written into a buffer of this size, reused while the kernel takes each one at once. */
const SCRATCH_SIZE = 64 * 1024;

/** A UDP connection's socket, the datagram being answered, and where in the out buffer each response starts. */
export class UdpPort {
  declare readonly socket: DatagramSocket;
  requestId = 0;
  address = '';
  port = 0;
  /** Out-buffer offsets where a response begins (memcached's resp_start) ... */
  private readonly starts: number[] = [];
  /** ... and whether it is sent when empty (a get's key that missed, quit, a binary command). */
  private readonly keepEmpty: boolean[] = [];
  /** memcached's flush points, each as the number of responses begun before it: the next begins a batch. */
  private readonly batches: number[] = [];
  /** A datagram has gone out for the current batch (an empty response after it is not sent). */
  private sentInBatch = false;
  /** Where datagrams are made: from scratchAt on, the bytes no send in libuv's queue still points into. */
  private scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
  private scratchAt = 0;

  /** Bytes queued in libuv past which the rest of a reply is dropped (MIN_REPLY_QUEUE_LIMIT). */
  private declare readonly replyQueueLimit: number;

  constructor(socket: DatagramSocket, itemSizeMax: number) {
    this.socket = socket;
    this.replyQueueLimit = Math.max(MIN_REPLY_QUEUE_LIMIT, 2 * itemSizeMax);
  }

  /** A response begins at `at` in the out buffer. */
  respStart(at: number, keepEmpty: boolean): void {
    this.starts.push(at);
    this.keepEmpty.push(keepEmpty);
  }

  /** A new request: nothing is queued or sent for it yet. */
  begin(): void { this.forget(); this.sentInBatch = false; }

  /** memcached's flush point (conn_mwrite): the responses begun from here on are a new batch. */
  flushPoint(): void { this.batches.push(this.starts.length); }

  /** The latest response is one memcached sends even when empty (a get's key, quit, a metadump, a watch). */
  keepLastEmpty(): void {
    if (this.keepEmpty.length > 0) this.keepEmpty[this.keepEmpty.length - 1] = true;
  }

  /**
   * The out buffer was cut back to `at`, its last flush point (a get refused whole): every response begun
   * since is gone, empty ones too, and the error that follows is a response of its own (memcached's
   * conn_release_items culls the unsent responses, then resp_start for the error).
   */
  truncated(at: number): void {
    while (this.starts.length > 0 && this.starts[this.starts.length - 1] >= at) { this.starts.pop(); this.keepEmpty.pop(); }
    while (this.batches.length > 0 && this.batches[this.batches.length - 1] > this.starts.length) this.batches.pop();
    this.respStart(at, false);
  }

  forget(): void { this.starts.length = 0; this.keepEmpty.length = 0; this.batches.length = 0; }

  /** transmit_udp: bytes [0, end) of data as datagrams, response by response; answers the bytes sent. */
  transmit(data: Uint8Array, end: number): number {
    let sent = 0;
    if (this.starts.length === 0 || this.starts[0] > 0) { // (replies outside any command)
      this.starts.unshift(0); this.keepEmpty.unshift(false);
      for (let b = 0; b < this.batches.length; b++) this.batches[b]++;
    }
    let batch = 0;
    for (let i = 0; i < this.starts.length; i++) {
      while (batch < this.batches.length && this.batches[batch] <= i) { batch++; this.sentInBatch = false; }
      // (a response begun past `end` was dropped with the replies after the last flush point)
      const from = Math.min(this.starts[i], end), to = Math.min(i + 1 < this.starts.length ? this.starts[i + 1] : end, end);
      if (to > from) sent += this.sendResponse(data, from, to);
      else if (this.keepEmpty[i] && !this.sentInBatch) sent += this.sendDatagram(data, 0, 0, 0, 0);
      else continue;
      this.sentInBatch = true;
    }
    // a flush point after the last response begins the batch of whatever comes next (this buffer is reused)
    if (batch < this.batches.length) this.sentInBatch = false;
    this.forget();
    return sent;
  }

  /**
   * A response's datagrams. Where the kernel stops taking them, libuv queues copies; past replyQueueLimit queued
   * the rest are dropped, as a full socket buffer drops datagrams (memcached waits for the socket instead,
   * pointing into its items, where the queue here holds copies).
   */
  private sendResponse(data: Uint8Array, from: number, to: number): number {
    const total = Math.min(Math.ceil((to - from) / UDP_DATA_SIZE), USHRT_MAX);
    let sent = 0;
    for (let seq = 0, at = from; at < to; seq++, at += UDP_DATA_SIZE) {
      if (this.socket.getSendQueueSize() > this.replyQueueLimit) break;
      sent += this.sendDatagram(data, at, Math.min(to, at + UDP_DATA_SIZE), seq & USHRT_MAX, total);
    }
    return sent;
  }

  /**
   * One datagram, made in the scratch buffer (the out buffer is reused before node:dgram is done with it).
   * send() hands it to the kernel before it returns (the worker's sockets look addresses up at once:
   * worker.ts peerAsIs), so a send the kernel took leaves libuv's queue empty and nothing pointing into the
   * scratch, and the next datagram reuses its bytes; one libuv had to queue keeps them. Were sends put off to
   * a later tick, a reply of many datagrams would come out garbled: test/udp.test.ts compares one of 72.
   */
  private sendDatagram(data: Uint8Array, from: number, to: number, seq: number, total: number): number {
    const len = UDP_HEADER_SIZE + to - from;
    if (this.scratchAt + len > this.scratch.length) { // the old one stays with the sends that point into it
      this.scratch = Buffer.allocUnsafe(SCRATCH_SIZE);
      this.scratchAt = 0;
    }
    const d = this.scratch.subarray(this.scratchAt, this.scratchAt + len);
    d[0] = this.requestId >> 8; d[1] = this.requestId & 0xff;
    d[2] = seq >> 8; d[3] = seq & 0xff;
    d[4] = total >> 8; d[5] = total & 0xff;
    d[6] = 0; d[7] = 0;
    d.set(data.subarray(from, to), UDP_HEADER_SIZE);
    this.socket.send(d, this.port, this.address);
    this.scratchAt = this.socket.getSendQueueCount() === 0 ? 0 : this.scratchAt + len;
    return len;
  }
}

/** The ceiling of memcached's search for the largest UDP send buffer (MAX_SENDBUF_SIZE). */
const MAX_SENDBUF_SIZE = 256 * 1024 * 1024;

/**
 * memcached's maximize_sndbuf: the largest SO_SNDBUF setsockopt takes, by binary search from the default up to
 * 256 MB, so the datagrams of a long reply wait in the kernel instead of in the send queue. Linux caps the size
 * itself (net.core.wmem_max) and refuses none, so the search ends at 256 MB, as memcached's does. Answers the
 * size before and the last size set, for -vv's line.
 */
export function maximizeSendBuffer(socket: { getSendBufferSize(): number; setSendBufferSize(size: number): void }): [number, number] {
  const before = socket.getSendBufferSize();
  let min = before, max = MAX_SENDBUF_SIZE, lastGood = 0;
  while (min <= max) {
    const avg = Math.floor((min + max) / 2);
    try { socket.setSendBufferSize(avg); lastGood = avg; min = avg + 1; } catch { max = avg - 1; }
  }
  return [before, lastGood];
}

/**
 * The descriptor of a bound node:dgram socket, or -1. Node keeps its libuv handle under a symbol of its own
 * ('state symbol'), whose `fd` is the descriptor, as a net.Server's _handle has one.
 */
export function udpSocketFd(socket: object): number {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (state === undefined) return -1;
  const handle = (socket as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[state]?.handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

/** What a UDP port asks for its receive queue (the kernel caps it at net.core.rmem_max, and doubles it). */
const UDP_RCVBUF = 4 * 1024 * 1024;

/**
 * A larger receive queue than the kernel's default (~256 small datagrams): memcached's threads all read its one UDP
 * socket, and keep up with a client's burst (libmemcached's UDP test sends 1025 sets back to back); here one
 * client's datagrams reach one worker's socket, a datagram per callback, so the burst waits in the queue instead
 * of overflowing it. Kernel memory, only while datagrams wait; as much as net.core.rmem_max allows.
 */
export function enlargeReceiveBuffer(socket: { setRecvBufferSize(size: number): void }): void {
  try { socket.setRecvBufferSize(UDP_RCVBUF); } catch { /* refused: the default queue */ }
}

/**
 * try_read_udp: take one datagram as the connection's input. False when it is not a request memcached
 * answers: 8 bytes or fewer, or one datagram of several (memcached drops multi-datagram requests).
 */
export function udpTakeRequest(c: Conn, udp: UdpPort, msg: Buffer, address: string, port: number): boolean {
  if (msg.length <= UDP_HEADER_SIZE) return false;
  c.ctx.stats.row[ThreadStat.bytes_read] += msg.length;
  if (udp.socket.getSendQueueSize() > SEND_QUEUE_LIMIT) return false;
  udp.requestId = msg[0] * 256 + msg[1];
  if (msg[4] !== 0 || msg[5] !== 1) return false;
  udp.address = address;
  udp.port = port;
  udp.begin();
  c.rbuf = msg;
  c.rpos = UDP_HEADER_SIZE;
  c.rend = msg.length;
  const t = c.ctx.connTable;
  setAddress(t, c.row, ConnRow.ipv4, ConnRow.ipv6, address, address.includes(':') ? 'IPv6' : 'IPv4');
  t.set(c.row, ConnRow.port, port);
  return true;
}
