// The unix socket (-s): bound, listened on and accepted from by the dispatcher, as memcached's main thread does
// with every listener. It is bound through node:ffi, as memcached's server_socket_unix binds it: so the dispatcher
// holds its descriptor (listen-conn.ts) and libuv, which never bound it, does not unlink the file when the
// dispatcher stops accepting from it. Node moves only TCP handles between threads, so an accepted unix connection
// crosses to its worker as a descriptor: the dispatcher takes a copy of it (fcntl F_DUPFD_CLOEXEC) and closes its
// own handle; the worker wraps the copy in a pipe handle of its own (handle-io.ts adoptUnixFd).

import fs from 'node:fs';
import { handleFd } from './accept.ts';
import type { ConnHandle } from './accept.ts';
import { bindUnixSocket, dupCloexec, libcCallable } from '../libc/ffi.ts';
import { errnoCode } from '../libc/errno.ts';

/**
 * The path memcached binds: sun_path as strncpy(sun_path, path, 107) leaves it in a zeroed sockaddr_un bound
 * whole. A longer path is cut to 107 bytes; an empty one is the abstract name of 108 zero bytes.
 */
export function sunPath(path: string): string {
  if (path === '') return '\0'.repeat(108);
  const bytes = Buffer.from(path);
  return bytes.length > 107 ? bytes.subarray(0, 107).toString() : path;
}

/**
 * socket() and bind() of server_socket_unix (the path as memcached gives it to sun_path: see sunPath): the bound
 * socket's descriptor, or the failed call and its error (its code named as Node names a failed call's).
 */
export function bindUnix(given: string): number | { call: string; error: Error } {
  const r = bindUnixSocket(given);
  if (r === null) return { call: 'socket', error: new Error('this Node has no node:ffi') };
  if (r.failed === null) return r.fd;
  const code = errnoCode(-r.fd);
  return { call: r.failed, error: Object.assign(new Error(`${r.failed} ${code}`), { code, errno: r.fd }) };
}

/** A socket file a server before left behind goes; anything else at the path stays (bind then fails). */
export function removeStaleSocket(path: string): void {
  if (path.startsWith('\0')) return; // abstract: no file
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch { /* not there, or not ours to remove: bind says */ }
}

/** -a: the socket file's mode (not for an abstract name, which has no file). */
export function applySocketMask(path: string, mask: number): void {
  if (!path.startsWith('\0')) fs.chmodSync(path, mask & 0o777);
}

type PipeHandle = { close(callback: () => void): void };

/**
 * The accepted connection's descriptor for a worker: a copy, with the dispatcher's handle closed. A negative errno
 * when no copy could be made (the handle is then left open, for the caller to refuse the connection on).
 */
export function handOffDescriptor(handle: ConnHandle): number {
  const fd = dupCloexec(handleFd(handle));
  if (fd === null) throw new Error('cachalot: this Node has no node:ffi to hand unix-socket connections to workers');
  if (fd >= 0) (handle as unknown as PipeHandle).close(() => {});
  return fd;
}

/** Whether connections can be handed over at all (node:ffi there): asked once, before listening. */
export function canHandOff(): boolean { return libcCallable(); }
