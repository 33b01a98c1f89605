// The floor of bench/floor.ts with its socket I/O through io_uring instead of libuv: an experiment
// (round 40, bench/RESULTS.md) on whether a worker that submits every ready connection's send and
// receive with one io_uring_enter per wake costs fewer system calls, and so less CPU, per request
// than libuv's epoll_wait + read + write. Same command line, same protocol subset, same answers as
// bench/floor.ts; `FLOOR=uring npm run bench` runs it in the floor's place (bench/servers.ts).
//
//   node bench/floor-uring.ts -p PORT|-1 -t THREADS [-l ADDR] (other memcached flags are ignored);
//   MEMCACHED_PORT_FILENAME is written as the servers write it. SIGUSR2 prints each worker's wakes,
//   io_uring_enter calls and completions so far.
//
// Each worker thread has its own SO_REUSEPORT listening socket (made through node:ffi, not libuv)
// and its own ring: a multishot ACCEPT on the listener, then per connection a RECV and, when it has
// answers, one SEND out of its out buffer. Two ways of waiting (FLOOR_URING_MODE):
// - poll (default): the worker stays an ordinary Node event loop. libuv watches the ring's
//   descriptor (uv_poll, readable while completions wait) and calls back into JavaScript through a
//   node:ffi callback, which reaps every completion, answers, and submits all the SENDs and RECVs
//   that follow with one io_uring_enter. Costs per wake: that enter and libuv's epoll_pwait, which
//   the ring's task work interrupts (EINTR, then again), and one more epoll_pwait with timeout 0
//   that libuv makes after every node:ffi callback. Without COOP_TASKRUN (FLOOR_URING_SETUP=256)
//   every completion interrupts the thread (TWA_SIGNAL): dear on a quiet machine.
// - block: the worker waits in io_uring_enter itself (submit and wait in one call, min_complete 1),
//   a POLL_ADD on libuv's own epoll descriptor bringing it back to libuv when libuv has work (a
//   message); it re-enters through setImmediate. One system call per wake. The ring is set up with
//   SINGLE_ISSUER|DEFER_TASKRUN there (task work runs only inside the enter).
// FLOOR_URING_MULTISHOT=1: one multishot RECV per connection into a provided-buffer ring instead of
// a RECV into the connection's buffer per read. FLOOR_URING_SETUP: io_uring_setup's flags, a number
// (DEFER_TASKRUN in poll mode hangs: the ring's descriptor is not woken by deferred task work).

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type * as Ffi from 'node:ffi';
import { copyBytes } from '../src/libc/bytes.ts';
import { BIG_KEY_LETTER, BIG_VALUE, SMALL_VALUE } from './workloads.ts';
import { GET, SET, keyEnd, keyStart, forEachLine, parseFloorArgs, skipSetData, startsWith, valueBlock, writeFloorPortFile } from './floor-lines.ts';

const IN_BUFFER = 64 * 1024;
const OUT_BUFFER = 64 * 1024;
const RING_ENTRIES = 1024;


// ---- C, through node:ffi -------------------------------------------------------------------

function loadFfi(): typeof Ffi {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {}; // node:ffi warns once, as it loads, that it is experimental
  try {
    return process.getBuiltinModule('node:ffi');
  } finally {
    process.emitWarning = emitWarning;
  }
}

const ffi = loadFfi();
const { lib, functions: c } = ffi.dlopen(null, {
  // variadic in C: every argument passed as a 64-bit integer, as syscall's va_arg(long) reads them
  syscall: { arguments: ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64'], return: 'i64' },
  mmap: { arguments: ['pointer', 'u64', 'i32', 'i32', 'i32', 'i64'], return: 'pointer' },
  calloc: { arguments: ['u64', 'u64'], return: 'pointer' },
  socket: { arguments: ['i32', 'i32', 'i32'], return: 'i32' },
  setsockopt: { arguments: ['i32', 'i32', 'i32', 'pointer', 'u32'], return: 'i32' },
  bind: { arguments: ['i32', 'pointer', 'u32'], return: 'i32' },
  listen: { arguments: ['i32', 'i32'], return: 'i32' },
  getsockname: { arguments: ['i32', 'pointer', 'pointer'], return: 'i32' },
  close: { arguments: ['i32'], return: 'i32' },
  __errno_location: { arguments: [], return: 'pointer' },
  uv_poll_init: { arguments: ['pointer', 'pointer', 'i32'], return: 'i32' },
  uv_poll_start: { arguments: ['pointer', 'i32', 'pointer'], return: 'i32' },
  uv_poll_stop: { arguments: ['pointer'], return: 'i32' },
  uv_close: { arguments: ['pointer', 'pointer'], return: 'void' },
  uv_backend_fd: { arguments: ['pointer'], return: 'i32' },
});

function errno(): number { return ffi.getInt32(c.__errno_location()); }

function check(what: string, ret: number | bigint): number {
  const n = Number(ret);
  if (n < 0) throw new Error(`${what} failed: errno ${errno()}`);
  return n;
}

/** A JS buffer's address as a Number (below 2^53 on x86_64); the caller keeps the buffer referenced. */
function addressOf(b: Uint8Array): number { return Number(ffi.getRawPointer(b)); }

const SYS_IO_URING_SETUP = 425n;
const SYS_IO_URING_ENTER = 426n;
const IORING_ENTER_GETEVENTS = 1;
const IORING_SETUP_DEFER_TASKRUN = 1 << 13;
const IORING_FEAT_SINGLE_MMAP = 1;
const IORING_OFF_SQES = 0x10000000n;
const IORING_OP_POLL_ADD = 6;
const IORING_OP_ACCEPT = 13;
const IORING_OP_ASYNC_CANCEL = 14;
const IORING_OP_SEND = 26;
const IORING_OP_RECV = 27;
const IORING_ACCEPT_MULTISHOT = 1;
const IORING_CQE_F_MORE = 2;
const IORING_CQE_F_BUFFER = 1;
const IORING_RECV_MULTISHOT = 2;
const IOSQE_BUFFER_SELECT = 1 << 5;
const SYS_IO_URING_REGISTER = 427n;
const IORING_REGISTER_PBUF_RING = 22;
const MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
const PROT_READ_WRITE = 3;
const MAP_SHARED_POPULATE = 0x01 | 0x8000;
const MAP_FAILED = 0xffffffffffffffffn;
const MSG_NOSIGNAL = 0x4000;
const SOCK_CLOEXEC = 0o2000000;
const EAGAIN = 11, EINTR = 4, ENOBUFS = 105;

// ---- the ring ------------------------------------------------------------------------------------

/** One thread's io_uring: its SQ and CQ rings and SQE array mapped into views. */
class Ring {
  readonly fd: number;
  private readonly defer: boolean;
  private readonly params = new Uint32Array(new ArrayBuffer(120)); // struct io_uring_params, 120 bytes (kept: the kernel wrote it)
  private readonly ring32: Uint32Array;
  private readonly ringI32: Int32Array;
  private readonly sqe32: Uint32Array;
  private readonly sqe8: Uint8Array;
  private readonly sqe16: Uint16Array;
  private readonly sqTailIdx: number; // indexes into ring32
  private readonly sqMask: number;
  private readonly sqEntries: number;
  private readonly cqHeadIdx: number;
  private readonly cqTailIdx: number;
  private readonly cqMask: number;
  private readonly cqes: number; // index into ring32 of the first CQE
  private sqTail = 0;
  private cqHead = 0;
  pending = 0; // SQEs written since the last enter
  enters = 0;

  constructor(flags: number) {
    this.defer = (flags & IORING_SETUP_DEFER_TASKRUN) !== 0;
    this.params[2] = flags;
    this.fd = check('io_uring_setup', c.syscall(SYS_IO_URING_SETUP, BigInt(RING_ENTRIES), ffi.getRawPointer(this.params), 0n, 0n, 0n, 0n));
    const p = this.params;
    const [sqEntries, cqEntries, , , , features] = p;
    if ((features & IORING_FEAT_SINGLE_MMAP) === 0) throw new Error('io_uring without IORING_FEAT_SINGLE_MMAP');
    // struct io_sqring_offsets at byte 40, io_cqring_offsets at byte 80 (u32 fields: head, tail, ring_mask, ...)
    const sq = 10, cq = 20;
    const sqSize = p[sq + 6] + sqEntries * 4; // sq_off.array + the index array
    const cqSize = p[cq + 5] + cqEntries * 16; // cq_off.cqes + the CQEs
    const ringSize = Math.max(sqSize, cqSize);
    const ringPtr = c.mmap(0n, BigInt(ringSize), PROT_READ_WRITE, MAP_SHARED_POPULATE, this.fd, 0n);
    if (ringPtr === MAP_FAILED) throw new Error(`mmap of the rings failed: errno ${errno()}`);
    const sqesPtr = c.mmap(0n, BigInt(sqEntries * 64), PROT_READ_WRITE, MAP_SHARED_POPULATE, this.fd, IORING_OFF_SQES);
    if (sqesPtr === MAP_FAILED) throw new Error(`mmap of the SQEs failed: errno ${errno()}`);
    const ringAb = ffi.toArrayBuffer(ringPtr, ringSize, false);
    this.ring32 = new Uint32Array(ringAb);
    this.ringI32 = new Int32Array(ringAb);
    const sqesAb = ffi.toArrayBuffer(sqesPtr, sqEntries * 64, false);
    this.sqe32 = new Uint32Array(sqesAb);
    this.sqe16 = new Uint16Array(sqesAb);
    this.sqe8 = new Uint8Array(sqesAb);
    this.sqTailIdx = p[sq + 1] >> 2;
    this.sqMask = this.ring32[p[sq + 2] >> 2];
    this.sqEntries = sqEntries;
    const array = p[sq + 6] >> 2;
    for (let i = 0; i < sqEntries; i++) this.ring32[array + i] = i; // SQ index array: slot i is SQE i, for good
    this.cqHeadIdx = p[cq + 0] >> 2;
    this.cqTailIdx = p[cq + 1] >> 2;
    this.cqMask = this.ring32[p[cq + 2] >> 2];
    this.cqes = p[cq + 5] >> 2;
    this.sqTail = this.ring32[this.sqTailIdx];
    this.cqHead = this.ring32[this.cqHeadIdx];
  }

  /** A zeroed SQE, its index (in 32-bit words) in sqe32, for the caller to fill in. */
  private sqe(opcode: number, fd: number, userData: number): number {
    if (this.pending === this.sqEntries) this.submit();
    const at = (this.sqTail & this.sqMask) * 16;
    this.sqe32.fill(0, at, at + 16);
    this.sqe8[at * 4] = opcode;
    this.sqe32[at + 1] = fd;
    this.sqe32[at + 8] = userData; // user_data, low half (the high half stays 0)
    this.sqTail = (this.sqTail + 1) >>> 0;
    this.pending++;
    return at;
  }

  private static setAddr(words: Uint32Array, at: number, addr: number): void {
    const hi = Math.floor(addr / 4294967296);
    words[at] = addr - hi * 4294967296;
    words[at + 1] = hi;
  }

  /** RECV/SEND of len bytes at addr (sqe: addr at byte 16, len at 24, msg_flags at 28). */
  io(opcode: number, fd: number, addr: number, len: number, msgFlags: number, userData: number): void {
    const at = this.sqe(opcode, fd, userData);
    Ring.setAddr(this.sqe32, at + 4, addr);
    this.sqe32[at + 6] = len;
    this.sqe32[at + 7] = msgFlags;
  }

  /** Multishot ACCEPT on a listening socket (ioprio carries IORING_ACCEPT_MULTISHOT). */
  acceptMultishot(fd: number, userData: number): void {
    const at = this.sqe(IORING_OP_ACCEPT, fd, userData);
    this.sqe16[at * 2 + 1] = IORING_ACCEPT_MULTISHOT;
    this.sqe32[at + 7] = SOCK_CLOEXEC;
  }

  /** ASYNC_CANCEL of the request with this user_data (sqe->addr). */
  cancel(target: number, userData: number): void {
    const at = this.sqe(IORING_OP_ASYNC_CANCEL, -1, userData);
    this.sqe32[at + 4] = target;
  }

  /** Multishot RECV into buffers of the provided-buffer ring bgid (ioprio RECV_MULTISHOT, flags BUFFER_SELECT). */
  recvMultishot(fd: number, bgid: number, userData: number): void {
    const at = this.sqe(IORING_OP_RECV, fd, userData);
    this.sqe8[at * 4 + 1] = IOSQE_BUFFER_SELECT;
    this.sqe16[at * 2 + 1] = IORING_RECV_MULTISHOT;
    this.sqe16[at * 2 + 20] = bgid; // buf_group, byte 40
  }

  /** POLL_ADD (one-shot, POLLIN) of a descriptor. */
  pollIn(fd: number, userData: number): void {
    const at = this.sqe(IORING_OP_POLL_ADD, fd, userData);
    this.sqe32[at + 7] = 1; // poll32_events: POLLIN
  }

  /**
   * io_uring_enter of every SQE written since the last (with GETEVENTS under DEFER_TASKRUN: runs its task work);
   * with wait, also waits for a completion when there is none.
   */
  submit(wait = false): void {
    const n = this.pending;
    if (n === 0 && !this.defer && !wait) return;
    Atomics.store(this.ring32, this.sqTailIdx, this.sqTail);
    this.pending = 0;
    this.enters++;
    for (;;) {
      const ret = Number(c.syscall(SYS_IO_URING_ENTER, BigInt(this.fd), BigInt(n), wait ? 1n : 0n,
        BigInt(this.defer || wait ? IORING_ENTER_GETEVENTS : 0), 0n, 0n));
      if (ret >= 0 || errno() !== EINTR) {
        if (ret < 0) process.stderr.write(`io_uring_enter: errno ${errno()}\n`);
        return;
      }
    }
  }

  /** Each completion waiting, in order: f(user_data low half, res, flags). */
  reap(f: (userData: number, res: number, flags: number) => void): number {
    let head = this.cqHead, n = 0;
    const tail = Atomics.load(this.ring32, this.cqTailIdx);
    while (head !== tail) {
      const at = this.cqes + (head & this.cqMask) * 4;
      head = (head + 1) >>> 0;
      n++;
      // the slot may be reused once the head passes it: read it first
      f(this.ring32[at], this.ringI32[at + 2], this.ring32[at + 3]);
    }
    this.cqHead = head;
    Atomics.store(this.ring32, this.cqHeadIdx, head);
    return n;
  }

  cqEmpty(): boolean { return Atomics.load(this.ring32, this.cqTailIdx) === this.cqHead; }
}

/**
 * A provided-buffer ring (IORING_REGISTER_PBUF_RING): `count` buffers of `size` bytes in one anonymous mapping, handed
 * to the kernel, which picks one for each multishot RECV completion; each goes back (give) once its bytes are answered.
 */
class BufRing {
  readonly bytes: Buffer;
  readonly size: number;
  private readonly base: number;
  private readonly entries32: Uint32Array;
  private readonly entries16: Uint16Array;
  private readonly mask: number;
  private tail = 0;

  constructor(ring: Ring, bgid: number, count: number, size: number) {
    this.size = size;
    const ringPtr = c.mmap(0n, BigInt(count * 16), PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0n);
    const bufPtr = c.mmap(0n, BigInt(count * size), PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0n);
    if (ringPtr === MAP_FAILED || bufPtr === MAP_FAILED) throw new Error(`mmap of the buffer ring failed: errno ${errno()}`);
    const ringAb = ffi.toArrayBuffer(ringPtr, count * 16, false);
    this.entries32 = new Uint32Array(ringAb);
    this.entries16 = new Uint16Array(ringAb);
    this.bytes = Buffer.from(ffi.toArrayBuffer(bufPtr, count * size, false));
    this.base = Number(bufPtr);
    this.mask = count - 1;
    // struct io_uring_buf_reg { u64 ring_addr; u32 ring_entries; u16 bgid; u16 flags; u64 resv[3]; }
    const reg = new Uint32Array(new ArrayBuffer(40));
    reg[0] = Number(ringPtr & 0xffffffffn); reg[1] = Number(ringPtr >> 32n);
    reg[2] = count;
    reg[3] = bgid;
    check('IORING_REGISTER_PBUF_RING', c.syscall(SYS_IO_URING_REGISTER, BigInt(ring.fd), BigInt(IORING_REGISTER_PBUF_RING),
      ffi.getRawPointer(reg), 1n, 0n, 0n));
    for (let bid = 0; bid < count; bid++) this.give(bid);
  }

  /** Buffer bid back to the kernel: an entry { u64 addr; u32 len; u16 bid; u16 resv } at the tail, then the tail. */
  give(bid: number): void {
    const at = (this.tail & this.mask) * 4;
    const addr = this.base + bid * this.size;
    const hi = Math.floor(addr / 4294967296);
    this.entries32[at] = addr - hi * 4294967296;
    this.entries32[at + 1] = hi;
    this.entries32[at + 2] = this.size;
    this.entries16[at * 2 + 6] = bid;
    this.tail = (this.tail + 1) & 0xffff;
    Atomics.store(this.entries16, 7, this.tail); // the tail overlays entry 0's resv
  }
}

// ---- connections and answers ---------------------------------------------------------------------

const OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2, OP_CANCEL = 3;
/** The user_data of the POLL_ADD on libuv's own epoll descriptor (block mode): no slot has it. */
const LIBUV_READY = 0xfffffffc;
/** The provided-buffer group's id. */
const BGID = 1;

const VALUE_SP = Buffer.from('VALUE ', 'latin1');
const SMALL_BLOCK = valueBlock(SMALL_VALUE);
const BIG_BLOCK = valueBlock(BIG_VALUE);
const BIG_LETTER = BIG_KEY_LETTER.charCodeAt(0);
const END_REPLY = Buffer.from('END\r\n', 'latin1');
const STORED_REPLY = Buffer.from('STORED\r\n', 'latin1');
const ERROR_REPLY = Buffer.from('ERROR\r\n', 'latin1');

/** One connection: its descriptor, its in and out buffers (the kernel's while a RECV or SEND is in flight). */
class Conn {
  readonly fd: number;
  readonly slot: number;
  readonly inBuf = Buffer.allocUnsafeSlow(IN_BUFFER);
  readonly inAddr = addressOf(this.inBuf);
  out = Buffer.allocUnsafeSlow(OUT_BUFFER);
  outAddr = addressOf(this.out);
  /** An out buffer outgrown while a SEND from it was in flight: referenced until that SEND completes. */
  retired: Buffer | null = null;
  outLen = 0;
  outSent = 0;
  receiving = false;
  sending = false;
  closing = false;
  carry: Buffer | null = null;
  skip = 0;

  constructor(fd: number, slot: number) { this.fd = fd; this.slot = slot; }

  room(n: number): void {
    if (this.outLen + n <= this.out.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.out.length * 2, this.outLen + n));
    this.out.copy(bigger, 0, 0, this.outLen);
    if (this.sending) this.retired = this.out;
    this.out = bigger;
    this.outAddr = addressOf(bigger);
  }

  put(from: Uint8Array, start: number, end: number): void {
    copyBytes(this.out, this.outLen, from, start, end - start);
    this.outLen += end - start;
  }

  /** A whole reply of its own (STORED, ERROR, END). */
  reply(bytes: Buffer): void {
    this.room(bytes.length);
    this.put(bytes, 0, bytes.length);
  }
}


function getReply(conn: Conn, line: Uint8Array, from: number, to: number): void {
  let at = from;
  while (at < to) {
    at = keyStart(line, at, to);
    const end = keyEnd(line, at, to);
    if (end === at) break;
    const value = line[at] === BIG_LETTER ? BIG_BLOCK : SMALL_BLOCK;
    conn.room(VALUE_SP.length + end - at + value.length);
    conn.put(VALUE_SP, 0, VALUE_SP.length);
    conn.put(line, at, end);
    conn.put(value, 0, value.length);
    at = end;
  }
  conn.reply(END_REPLY);
}

function answerLine(conn: Conn, line: Uint8Array, from: number, to: number): void {
  if (startsWith(line, from, to, GET)) getReply(conn, line, from + 4, to);
  else if (startsWith(line, from, to, SET)) { if (skipSetData(conn, line, from, to)) conn.reply(STORED_REPLY); }
  else conn.reply(ERROR_REPLY);
}

/** Answer every whole line in the in buffer's [start, end); keep a cut line for the next read. */
function onData(conn: Conn, bytes: Buffer, start: number, end: number): void {
  forEachLine(conn, bytes.subarray(start, end), answerLine);
}

// ---- a worker thread -----------------------------------------------------------------------------

class Floor {
  private readonly ring: Ring;
  private readonly listenFd: number;
  private readonly conns: (Conn | null)[] = [];
  private readonly freeSlots: number[] = [];
  /** uv_poll_t, malloc'd (libuv keeps its address) and never freed: the thread's lifetime. */
  private readonly pollHandle: bigint;
  private readonly onPoll: bigint;
  wakes = 0;
  cqesSeen = 0;

  /** Block mode: the thread waits in io_uring_enter, not in libuv's epoll_wait (see block()). */
  private readonly blockMode: boolean;
  private readonly libuvFd: number;
  private libuvReady = false;
  private readonly blockLoop = () => this.block();
  private readonly onCqe = (ud: number, res: number, flags: number) => this.complete(ud, res, flags);
  /** Multishot RECVs into a provided-buffer ring (FLOOR_URING_MULTISHOT=1), else one RECV at a time into each connection's buffer. */
  private readonly bufs: BufRing | null;

  constructor(listenFd: number, flags: number, blockMode: boolean, multishot: boolean) {
    this.listenFd = listenFd;
    this.blockMode = blockMode;
    this.ring = new Ring(flags);
    this.bufs = multishot ? new BufRing(this.ring, BGID, 256, 16 * 1024) : null;
    this.ring.acceptMultishot(listenFd, OP_ACCEPT);
    this.ring.submit();
    this.libuvFd = c.uv_backend_fd(ffi.getCurrentEventLoop());
    this.pollHandle = c.calloc(1n, 512n);
    if (blockMode) { this.onPoll = 0n; setImmediate(this.blockLoop); return; }
    // void (*uv_poll_cb)(uv_poll_t *handle, int status, int events)
    this.onPoll = lib.registerCallback({ arguments: ['pointer', 'i32', 'i32'], return: 'void' }, () => {
      try {
        this.wake();
      } catch (err) {
        process.stderr.write(`floor-uring: ${(err as Error).stack}\n`);
        process.exit(1);
      }
    });
    check('uv_poll_init', c.uv_poll_init(ffi.getCurrentEventLoop(), this.pollHandle, this.ring.fd));
    check('uv_poll_start', c.uv_poll_start(this.pollHandle, 1 /* UV_READABLE */, this.onPoll));
  }

  /** The ring's descriptor is readable: reap, answer, and submit all that follows with one enter. */
  private wake(): void {
    this.wakes++;
    for (let round = 0; round < 8; round++) {
      this.cqesSeen += this.ring.reap(this.onCqe);
      // what completed inline during an enter (mostly SENDs) queues nothing: then this wake is done
      if (this.ring.pending === 0 && round > 0) break;
      this.ring.submit();
      if (this.ring.cqEmpty()) break;
    }
  }

  /**
   * Block mode: serve the ring, waiting in io_uring_enter (submit and wait in one call), until libuv's own epoll
   * descriptor is readable (a message, a platform task: a POLL_ADD on it completes); then return to libuv and come
   * back through setImmediate once it has run. The ring's descriptor is not in libuv's epoll set at all. (libuv's
   * timers would need an IORING_OP_TIMEOUT for the next one; the floor has none.)
   */
  private block(): void {
    this.ring.pollIn(this.libuvFd, LIBUV_READY);
    for (;;) {
      this.wakes++;
      this.cqesSeen += this.ring.reap(this.onCqe);
      if (this.libuvReady) break;
      this.ring.submit(true);
    }
    this.libuvReady = false;
    this.ring.submit();
    setImmediate(this.blockLoop);
  }

  private complete(userData: number, res: number, flags: number): void {
    if (userData === LIBUV_READY) { this.libuvReady = true; return; }
    const op = userData & 3;
    if (op === OP_ACCEPT) { this.accepted(res, flags); return; }
    if (op === OP_CANCEL) return;
    const conn = this.conns[userData >>> 2];
    if (conn == null) return;
    if (op === OP_RECV) {
      if ((flags & IORING_CQE_F_MORE) === 0) conn.receiving = false; // a multishot RECV ends without F_MORE
      const bufs = this.bufs;
      if (res > 0) {
        if (bufs !== null && (flags & IORING_CQE_F_BUFFER) !== 0) {
          const bid = flags >>> 16;
          if (!conn.closing) onData(conn, bufs.bytes, bid * bufs.size, bid * bufs.size + res);
          bufs.give(bid);
        } else if (!conn.closing) {
          onData(conn, conn.inBuf, 0, res);
        }
        if (conn.closing) { this.close(conn); return; }
        this.sendIfAny(conn);
        if (!conn.receiving) this.recv(conn);
      } else if (res < 0 && (res === -EAGAIN || res === -EINTR || res === -ENOBUFS) && !conn.closing) {
        if (!conn.receiving) this.recv(conn);
      } else {
        this.close(conn); // 0: the peer closed; an error; ECANCELED: we cancelled it
      }
    } else { // OP_SEND
      conn.sending = false;
      if (res > 0) {
        conn.outSent += res;
        if (conn.outSent === conn.outLen) { conn.outSent = conn.outLen = 0; conn.retired = null; }
        else this.sendIfAny(conn);
      } else if (res === -EAGAIN || res === -EINTR) {
        this.sendIfAny(conn);
      } else {
        this.close(conn);
      }
      if (conn.closing) this.close(conn);
    }
  }

  private accepted(res: number, flags: number): void {
    if ((flags & IORING_CQE_F_MORE) === 0) this.ring.acceptMultishot(this.listenFd, OP_ACCEPT); // rearm
    if (res < 0) return;
    const slot = this.freeSlots.pop() ?? this.conns.length;
    const conn = new Conn(res, slot);
    this.conns[slot] = conn;
    this.recv(conn);
  }

  private recv(conn: Conn): void {
    conn.receiving = true;
    if (this.bufs !== null) { this.ring.recvMultishot(conn.fd, BGID, conn.slot * 4 + OP_RECV); return; }
    this.ring.io(IORING_OP_RECV, conn.fd, conn.inAddr, conn.inBuf.length, 0, conn.slot * 4 + OP_RECV);
  }

  private sendIfAny(conn: Conn): void {
    if (conn.sending || conn.closing || conn.outSent === conn.outLen) return;
    conn.sending = true;
    this.ring.io(IORING_OP_SEND, conn.fd, conn.outAddr + conn.outSent, conn.outLen - conn.outSent, MSG_NOSIGNAL,
      conn.slot * 4 + OP_SEND);
  }

  /** Close once nothing of the connection's is in flight (a RECV still waiting is cancelled first). */
  private close(conn: Conn): void {
    if (!conn.closing) {
      conn.closing = true;
      if (conn.receiving) this.ring.cancel(conn.slot * 4 + OP_RECV, conn.slot * 4 + OP_CANCEL);
    }
    if (conn.receiving || conn.sending || this.conns[conn.slot] !== conn) return;
    c.close(conn.fd);
    this.conns[conn.slot] = null;
    this.freeSlots.push(conn.slot);
  }

  /** The poll handle stopped and closed: a worker's loop may not be closed with it open (node asserts). */
  stop(): void {
    if (this.blockMode) return;
    c.uv_poll_stop(this.pollHandle);
    c.uv_close(this.pollHandle, 0n);
  }

  stats(): string { return `wakes ${this.wakes} enters ${this.ring.enters} cqes ${this.cqesSeen}`; }
}

/** A listening TCP socket on host:port with SO_REUSEPORT, TCP_NODELAY and SO_KEEPALIVE (accepted sockets inherit them). */
function listenSocket(host: string, port: number): { fd: number; port: number } {
  const fd = check('socket', c.socket(2 /* AF_INET */, 1 /* SOCK_STREAM */ | SOCK_CLOEXEC, 0));
  const one = new Int32Array(new ArrayBuffer(4)); // ArrayBuffers of their own: off the V8 heap, never moved
  one[0] = 1;
  const onePtr = ffi.getRawPointer(one);
  for (const [level, name] of [[1, 2 /* SO_REUSEADDR */], [1, 15 /* SO_REUSEPORT */], [1, 9 /* SO_KEEPALIVE */],
    [6, 1 /* TCP_NODELAY */]]) check('setsockopt', c.setsockopt(fd, level, name, onePtr, 4));
  const addr = new Uint8Array(new ArrayBuffer(16)); // struct sockaddr_in
  addr[0] = 2; // sin_family, little-endian
  addr[2] = port >> 8; addr[3] = port & 0xff; // sin_port, network order
  addr.set(host.split('.').map(Number), 4);
  const addrPtr = ffi.getRawPointer(addr);
  check('bind', c.bind(fd, addrPtr, 16));
  check('listen', c.listen(fd, 1024));
  const len = new Uint32Array(new ArrayBuffer(4));
  len[0] = 16;
  check('getsockname', c.getsockname(fd, addrPtr, ffi.getRawPointer(len)));
  return { fd, port: (addr[2] << 8) | addr[3] };
}

function serveThread(port: number, host: string): void {
  const listening = listenSocket(host, port);
  const blockMode = process.env.FLOOR_URING_MODE === 'block';
  const floor = new Floor(listening.fd, Number(process.env.FLOOR_URING_SETUP ?? (blockMode ? '12288' : '0')), blockMode,
    process.env.FLOOR_URING_MULTISHOT === '1');
  parentPort!.on('message', (m) => {
    if (m === 'stats') parentPort!.postMessage(floor.stats());
    if (m === 'stop') { floor.stop(); setImmediate(() => parentPort!.postMessage('stopped')); }
  });
  parentPort!.postMessage(listening.port);
}

async function main(): Promise<void> {
  const args = parseFloorArgs(process.argv.slice(2));
  let port = args.port;
  const workers: Worker[] = [];
  for (let i = 0; i < args.threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { port, host: args.host } });
    workers.push(worker);
    port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    worker.on('error', (err: Error) => { process.stderr.write(`floor-uring worker: ${err.stack}\n`); process.exit(1); });
  }
  writeFloorPortFile(port);
  // SIGUSR2: each worker's wakes, enters and completions so far, on stderr
  process.on('SIGUSR2', () => {
    for (const w of workers) {
      w.once('message', (s) => process.stderr.write(`floor-uring: ${s}\n`));
      w.postMessage('stats');
    }
  });
  process.on('SIGTERM', () => {
    setTimeout(() => process.exit(0), 1000).unref();
    let left = workers.length;
    for (const w of workers) {
      w.removeAllListeners('message');
      w.on('message', (m) => { if (m === 'stopped' && --left === 0) process.exit(0); });
      w.postMessage('stop');
    }
  });
}

if (isMainThread) await main();
else {
  const { port, host } = workerData as { port: number; host: string };
  serveThread(port, host);
}
