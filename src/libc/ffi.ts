// The C library's calls that Node has no binding for, through node:ffi (Node >= 26.1, experimental; package.json
// pins a Node that has it). Loaded on first use, in the thread that asks, with its ExperimentalWarning kept off
// stderr: the tests compare what the server prints there with memcached's, byte for byte. Where this Node has no
// node:ffi (or it was turned off with --no-experimental-ffi) the calls answer null and the caller says so.

import type * as Ffi from 'node:ffi';

/** The calls used, with C's types: int is i32, and -1 with errno set is the failure. */
type Calls = {
  mlock2(addr: bigint, len: bigint, flags: number): number;
  munlock(addr: bigint, len: bigint): number;
  fcntl(fd: number, cmd: number, arg: number): number;
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
        fcntl: { arguments: ['i32', 'i32', 'i32'], return: 'i32' }, // variadic in C; its third argument an int here
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

/** The address of a shared buffer's memory (the buffer outlives the call: it is the caller's). */
function addressOf(l: Libc, memory: SharedArrayBuffer): bigint { return l.ffi.getRawPointer(new Uint8Array(memory)); }

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
  const copy = l.c.fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return copy >= 0 ? copy : -errno(l);
}
