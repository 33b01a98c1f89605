// The C library's calls that Node has no binding for, through node:ffi (Node >= 26.1, experimental; package.json
// pins a Node that has it). Loaded on first use, in the thread that asks, with its ExperimentalWarning kept off
// stderr: the tests compare what the server prints there with memcached's, byte for byte. Where this Node has no
// node:ffi (or it was turned off with --no-experimental-ffi) the calls answer null and the caller says so.

import type * as Ffi from 'node:ffi';

/** The calls used, with C's types: int is i32, and -1 with errno set is the failure. */
type Calls = {
  mlock2(addr: bigint, len: bigint, flags: number): number;
  munlock(addr: bigint, len: bigint): number;
  fcntl(fd: number, cmd: number, arg: bigint): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: bigint, len: number): number;
  connect(fd: number, addr: bigint, len: number): number;
  read(fd: number, buf: bigint, count: bigint): number;
  write(fd: number, buf: bigint, count: bigint): number;
  listen(fd: number, backlog: number): number;
  close(fd: number): number;
  setrlimit(resource: number, rlim: bigint): number;
  madvise(addr: bigint, len: bigint, advice: number): number;
  getsockopt(fd: number, level: number, name: number, value: bigint, len: bigint): number;
  setsockopt(fd: number, level: number, name: number, value: bigint, len: number): number;
  malloc_trim(pad: bigint): number;
  __errno_location(): bigint;
};

/** The calls, with node:ffi for the pointers they take and errno. */
type Libc = { c: Calls; ffi: typeof Ffi };

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  let ffi: typeof Ffi | null = null;
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {}; // node:ffi warns once, as it loads, that it is experimental
  try {
    ffi = process.getBuiltinModule('node:ffi') ?? null;
  } catch {
    ffi = null;
  } finally {
    process.emitWarning = emitWarning;
  }
  try {
    libc = ffi === null ? null : {
      ffi,
      c: ffi.dlopen(null, {
        mlock2: { arguments: ['pointer', 'u64', 'u32'], return: 'i32' },
        munlock: { arguments: ['pointer', 'u64'], return: 'i32' },
        // variadic in C: its third argument an int (passed in the register a pointer takes) or a pointer
        fcntl: { arguments: ['i32', 'i32', 'pointer'], return: 'i32' },
        socket: { arguments: ['i32', 'i32', 'i32'], return: 'i32' },
        bind: { arguments: ['i32', 'pointer', 'u32'], return: 'i32' },
        connect: { arguments: ['i32', 'pointer', 'u32'], return: 'i32' },
        // ssize_t in C: taken as its low 32 bits, which hold any count asked for here and -1
        read: { arguments: ['i32', 'pointer', 'u64'], return: 'i32' },
        write: { arguments: ['i32', 'pointer', 'u64'], return: 'i32' },
        listen: { arguments: ['i32', 'i32'], return: 'i32' },
        close: { arguments: ['i32'], return: 'i32' },
        setrlimit: { arguments: ['i32', 'pointer'], return: 'i32' },
        madvise: { arguments: ['pointer', 'u64', 'i32'], return: 'i32' },
        getsockopt: { arguments: ['i32', 'i32', 'i32', 'pointer', 'pointer'], return: 'i32' },
        setsockopt: { arguments: ['i32', 'i32', 'i32', 'pointer', 'u32'], return: 'i32' },
        malloc_trim: { arguments: ['u64'], return: 'i32' },
        __errno_location: { arguments: [], return: 'pointer' },
      }).functions as Calls,
    };
  } catch {
    libc = null; // the process image does not export them (not glibc)
  }
  return libc;
}

/** errno, read right after the call that failed (the same thread). */
function errno(l: Libc): number { return l.ffi.getInt32(l.c.__errno_location()); }

/** The address of a buffer's memory (the buffer outlives the call: it is the caller's). */
function addressOf(l: Libc, memory: ArrayBufferLike | Uint8Array): bigint {
  return l.ffi.getRawPointer(memory instanceof Uint8Array ? memory : new Uint8Array(memory));
}

/** Whether this Node can make the calls here at all (node:ffi there, the C library's symbols found). */
export function libcCallable(): boolean { return loadLibc() !== null; }

/** A call's outcome: 0, or C's errno when it failed; null when this Node cannot make the call. */
export type CallResult = { errno: number } | null;

/** mlock2(2) of the memory behind a shared buffer, with these MLOCK_* flags. */
export function mlock2(memory: SharedArrayBuffer, flags: number): CallResult {
  const l = loadLibc();
  if (l === null) return null;
  return { errno: l.c.mlock2(addressOf(l, memory), BigInt(memory.byteLength), flags) === 0 ? 0 : errno(l) };
}

/** munlock(2) of what mlock2 locked. */
export function munlock(memory: SharedArrayBuffer): void {
  const l = loadLibc();
  if (l !== null) l.c.munlock(addressOf(l, memory), BigInt(memory.byteLength));
}

/** mlock2's flag (linux/mman.h): lock pages as they are touched, not all at once. */
export const MLOCK_ONFAULT = 1;

/** fcntl's F_DUPFD_CLOEXEC (fcntl.h on Linux). */
const F_DUPFD_CLOEXEC = 1030;

/** A new descriptor for fd's open file (the lowest free one, close-on-exec), or -errno; null when this Node cannot call C. */
export function dupCloexec(fd: number): number | null {
  const l = loadLibc();
  if (l === null) return null;
  return returnOrErrno(l, l.c.fcntl(fd, F_DUPFD_CLOEXEC, 0n));
}

/** A call's return value when it did not fail, else -errno (for calls that return a descriptor). */
function returnOrErrno(l: Libc, ret: number): number { return ret >= 0 ? ret : -errno(l); }

/** 0 when a call succeeded, else errno (for calls that return 0 or -1). */
function zeroOrErrno(l: Libc, ret: number): number { return ret === 0 ? 0 : errno(l); }

const AF_UNIX = 1;
const EINTR = 4;
const EINVAL = 22;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
/** sizeof(struct sockaddr_un): sun_family, then sun_path's 108 bytes. */
const SOCKADDR_UN_SIZE = 110;

/**
 * A unix stream socket bound to `path` as memcached's server_socket_unix binds it: sun_path strncpy'd from the
 * path (107 bytes at most, zero-filled) and the whole sockaddr_un bound, so an empty path is the abstract name of
 * 108 zero bytes. The descriptor, or -errno and the call that failed; null when this Node cannot call C.
 */
export function bindUnixSocket(path: string): { fd: number; failed: 'socket' | 'bind' | null } | null {
  const l = loadLibc();
  if (l === null) return null;
  const fd = returnOrErrno(l, l.c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0) return { fd, failed: 'socket' };
  const err = zeroOrErrno(l, l.c.bind(fd, addressOf(l, sockaddrUn(path)), SOCKADDR_UN_SIZE));
  if (err === 0) return { fd, failed: null };
  l.c.close(fd);
  return { fd: -err, failed: 'bind' };
}

/** A struct sockaddr_un for `path`: sun_path strncpy'd from it (107 bytes at most), zero-filled. */
function sockaddrUn(path: string): Uint8Array {
  const addr = new Uint8Array(SOCKADDR_UN_SIZE);
  addr[0] = AF_UNIX; // sa_family_t, little-endian
  addr.set(Buffer.from(path).subarray(0, SOCKADDR_UN_SIZE - 3), 2);
  return addr;
}

/**
 * A blocking unix stream socket connected to `path`, as a C client connects (the whole sockaddr_un given): the
 * descriptor, or -errno and the call that failed; null when this Node cannot call C.
 */
export function connectUnixSocket(path: string): { fd: number; failed: 'socket' | 'connect' | null } | null {
  const l = loadLibc();
  if (l === null) return null;
  const fd = returnOrErrno(l, l.c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd < 0) return { fd, failed: 'socket' };
  for (;;) {
    const err = zeroOrErrno(l, l.c.connect(fd, addressOf(l, sockaddrUn(path)), SOCKADDR_UN_SIZE));
    if (err === 0) return { fd, failed: null };
    if (err === EINTR) continue;
    l.c.close(fd);
    return { fd: -err, failed: 'connect' };
  }
}

/**
 * SO_RCVTIMEO and SO_SNDTIMEO of a blocking socket: a read or write that waits this long fails (EAGAIN). 0 or
 * errno; null when this Node cannot call C.
 */
export function setIoTimeout(fd: number, seconds: number): number | null {
  const l = loadLibc();
  if (l === null) return null;
  const timeval = new BigInt64Array([BigInt(seconds), 0n]); // struct timeval: tv_sec, tv_usec
  const at = addressOf(l, new Uint8Array(timeval.buffer));
  return zeroOrErrno(l, l.c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, at, 16)) || zeroOrErrno(l, l.c.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, at, 16));
}

const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;

/** write(2) of all of `bytes` on a blocking descriptor, a short write or EINTR taken up again: 0, or errno. */
export function writeAll(fd: number, bytes: Uint8Array): number {
  const l = loadLibc();
  if (l === null) return EINVAL;
  const buf = Buffer.from(bytes); // (its own memory, off V8's heap for any size that matters, held by this frame)
  for (let done = 0; done < buf.length;) {
    const n = l.c.write(fd, addressOf(l, buf.subarray(done)), BigInt(buf.length - done));
    if (n < 0) {
      const err = errno(l);
      if (err === EINTR) continue;
      return err;
    }
    done += n;
  }
  return 0;
}

/** read(2) on a blocking descriptor until `n` bytes have come, the end, or an error: the bytes read. */
export function readUpTo(fd: number, n: number): Buffer {
  const l = loadLibc();
  const buf = Buffer.allocUnsafeSlow(Math.max(n, 1));
  let got = 0;
  while (l !== null && got < n) {
    const r = l.c.read(fd, addressOf(l, buf.subarray(got)), BigInt(n - got));
    if (r < 0 && errno(l) === EINTR) continue;
    if (r <= 0) break;
    got += r;
  }
  return buf.subarray(0, got);
}

/** listen(2): a listening socket's backlog set anew; 0 or errno, null when this Node cannot call C. */
export function listenBacklog(fd: number, backlog: number): number | null {
  const l = loadLibc();
  return l === null ? null : zeroOrErrno(l, l.c.listen(fd, backlog));
}

/** close(2) of a descriptor this process made through these calls. */
export function closeFd(fd: number): void {
  loadLibc()?.c.close(fd);
}

/** The resources setrlimit sets here (sys/resource.h on Linux). */
export const RLIMIT_CORE = 4;
export const RLIMIT_NOFILE = 7;

/**
 * setrlimit(2) of this process's limit, soft and hard (Infinity: RLIM_INFINITY); 0 or errno, null when this Node
 * cannot call C.
 */
export function setOwnRlimit(resource: number, soft: number, hard: number): number | null {
  const l = loadLibc();
  if (l === null) return null;
  const rlim = new BigUint64Array([rlimValue(soft), rlimValue(hard)]); // struct rlimit { rlim_cur; rlim_max; }
  return zeroOrErrno(l, l.c.setrlimit(resource, addressOf(l, new Uint8Array(rlim.buffer))));
}

function rlimValue(n: number): bigint { return n === Infinity ? 0xffffffffffffffffn : BigInt(n); }

/** fcntl's F_OFD_SETLK (the same on every Linux architecture) and struct flock's F_WRLCK. */
const F_OFD_SETLK = 37;
const F_WRLCK = 1;
/** sizeof(struct flock) on 64-bit Linux: l_type, l_whence (shorts), padding, l_start, l_len (64-bit), l_pid, padding. */
const FLOCK_SIZE = 32;

/**
 * An open file description lock for writing on all of fd's file (l_whence SEEK_SET, l_start 0, l_len 0: to its
 * end, however it grows), not waiting: 0 once held, else errno (EAGAIN: another holds it); null when this Node
 * cannot call C.
 */
export function ofdWriteLock(fd: number): number | null {
  const l = loadLibc();
  if (l === null) return null;
  const flock = new Uint8Array(FLOCK_SIZE);
  flock[0] = F_WRLCK; // l_type, little-endian
  return zeroOrErrno(l, l.c.fcntl(fd, F_OFD_SETLK, addressOf(l, flock)));
}

const MADV_DONTNEED = 4;
const MADV_HUGEPAGE = 14;
const OS_PAGE = 4096n;

/**
 * madvise(2) of a stretch of a buffer's memory, in whole OS pages: those within it (`inward`: a page it shares with
 * other memory is left alone), or those it touches. False without node:ffi.
 */
function adviseStretch(memory: ArrayBufferLike, offset: number, length: number, advice: number, inward: boolean): boolean {
  const l = loadLibc();
  if (l === null) return false;
  const at = addressOf(l, memory) + BigInt(offset);
  const start = (inward ? at + OS_PAGE - 1n : at) / OS_PAGE * OS_PAGE;
  const end = (inward ? at + BigInt(length) : at + BigInt(length) + OS_PAGE - 1n) / OS_PAGE * OS_PAGE;
  if (end > start) l.c.madvise(start, end - start, advice);
  return true;
}

/**
 * MADV_DONTNEED of a stretch of a shared buffer's memory (one private anonymous mapping): it stops being resident
 * and reads as zeros when next touched, so its content must be of no use to any thread. (Refused for locked
 * pages, -k's: they stay.)
 */
export function dropPages(memory: SharedArrayBuffer, offset: number, length: number): void {
  adviseStretch(memory, offset, length, MADV_DONTNEED, true);
}

/**
 * MADV_DONTNEED of the whole pages inside a buffer nothing will read again (a reply buffer let go): they stop being
 * resident now, while the buffer itself waits for the garbage collector. False without node:ffi.
 */
export function releasePages(memory: ArrayBuffer): boolean {
  return adviseStretch(memory, 0, memory.byteLength, MADV_DONTNEED, true);
}

/**
 * glibc's malloc_trim(0): every malloc arena's free pages given back to the kernel (its top trimmed, the free
 * pages inside it advised away). True when some memory was released, false when none, null when this Node cannot
 * call C.
 */
export function trimMalloc(): boolean | null {
  const l = loadLibc();
  return l === null ? null : l.c.malloc_trim(0n) === 1;
}

/**
 * MADV_HUGEPAGE of a shared buffer's memory, as memcached's alloc_large_chunk advises its item memory: the kernel
 * backs its aligned 2 MB stretches with transparent huge pages (whether it can is the kernel's business; memcached
 * does not check either). A large buffer is a mapping of its own (glibc's calloc), so the pages at its ends are
 * advised whole, and the mapping stays one. False when this Node cannot call C.
 */
export function adviseHugePages(memory: SharedArrayBuffer): boolean {
  return adviseStretch(memory, 0, memory.byteLength, MADV_HUGEPAGE, false);
}

const SOL_SOCKET = 1;
const SO_INCOMING_NAPI_ID = 56;

/**
 * The NAPI id of the NIC receive queue a connected socket's packets come through (getsockopt SO_INCOMING_NAPI_ID);
 * 0 when it has none (loopback, a unix socket, a NIC without busy polling) or the call fails, as memcached takes
 * both; null when this Node cannot call C.
 */
export function incomingNapiId(fd: number): number | null {
  const l = loadLibc();
  if (l === null) return null;
  const value = new Int32Array(2); // the id, then its length (socklen_t)
  value[1] = 4;
  const bytes = new Uint8Array(value.buffer);
  const at = addressOf(l, bytes);
  return l.c.getsockopt(fd, SOL_SOCKET, SO_INCOMING_NAPI_ID, at, at + 4n) === 0 ? value[0] : 0;
}

const SO_MARK = 36;

/**
 * setsockopt(SO_MARK) of a socket: memcached's sock_cookie_id on Linux, the mark packet filters and routing rules
 * see on its packets (CAP_NET_ADMIN or CAP_NET_RAW is needed: EPERM without). 0 or errno; null when this Node
 * cannot call C.
 */
export function setSocketMark(fd: number, mark: number): number | null {
  const l = loadLibc();
  if (l === null) return null;
  const value = new Uint32Array([mark >>> 0]);
  return zeroOrErrno(l, l.c.setsockopt(fd, SOL_SOCKET, SO_MARK, addressOf(l, new Uint8Array(value.buffer)), 4));
}
