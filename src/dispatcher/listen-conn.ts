// memcached's listen_conn, one per listening socket, and how its accept_new_conns stops and restarts them. Out of
// descriptors (or full, under -o no_maxconns_fast) memcached stops watching its listeners and sets their backlog to
// 0 (listen(sfd, 0)): new clients wait in the kernel's queue, connected and unanswered, until it listens again.
//
// libuv cannot stop watching a listening handle but by closing it, descriptor and all. So the dispatcher holds a
// descriptor of its own for every listening socket, from the start (a copy of the one Node bound, or the unix
// socket it binds itself), and libuv accepts through another copy: closing libuv's handle leaves the socket
// listening, listen(2) through node:ffi shortens its backlog, and a new copy lets libuv accept again (its listen
// sets the backlog back). Without node:ffi there is no copy: the socket is closed while not accepting (clients
// are refused meanwhile) and bound again on its address.

import type net from 'node:net';
import { closeFd, dupCloexec, listenBacklog, setSocketMark } from '../libc/ffi.ts';
import { strerror } from '../libc/errno.ts';
import { writeErr } from '../libc/stdio.ts';
import { v6Only, type ListenSpec } from '../settings/listen-spec.ts';
import { listeningFd } from './accept.ts';

export type ListenConn = {
  /** libuv's handle on the socket: accepting while the dispatcher accepts, closed while it does not. */
  server: net.Server;
  readonly spec: ListenSpec;
  /** The port it is bound to (a TCP listener's, for binding again without node:ffi). */
  readonly port: number;
  /** The dispatcher's own descriptor of the socket; -1 without node:ffi. */
  readonly fd: number;
};

/** The dispatcher's own copy of a listening server's descriptor; -1 where none can be had. */
export function keepListening(server: net.Server): number {
  const fd = listeningFd(server);
  const copy = fd >= 0 ? dupCloexec(fd) : null;
  return copy !== null && copy >= 0 ? copy : -1;
}

/**
 * -o sock_cookie_id: memcached's setsockopt(SO_MARK) on a TCP or UDP listening socket (the connections accepted
 * from it take its mark); when refused (neither CAP_NET_ADMIN nor CAP_NET_RAW), its perror, and the socket
 * serves unmarked. memcached marks a socket before it binds it; this one is marked once bound, before anything
 * is accepted from it. `say`: whether a refusal is printed (memcached's one UDP socket is each worker's here).
 */
export function markSocket(fd: number, mark: number, say = true): void {
  if (mark === 0) return;
  const err = fd < 0 ? null : setSocketMark(fd, mark);
  if (err !== 0 && say) writeErr(`setsockopt: ${strerror(err ?? ENOSYS)}\n`); // no node:ffi: as a kernel without SO_MARK
}

const ENOSYS = 38;

/** accept_new_conns(false) for one listener: libuv lets go of it, and new clients queue in the kernel. */
export function stopAccepting(l: ListenConn): void {
  l.server.close();
  if (l.fd >= 0) listenBacklog(l.fd, 0);
}

/** What a server listens on: an address to bind, or a descriptor of a socket already bound (Node's listen(handle)). */
export type ListenTarget = net.ListenOptions | { fd: number; backlog: number };

/**
 * What libuv listens on to accept from it again: a new copy of the descriptor, or its address (without node:ffi).
 * null when no descriptor is to be had now (out of them: the caller tries again later).
 */
export function listenAgainOn(l: ListenConn, backlog: number): ListenTarget | null {
  if (l.fd < 0) return { host: l.spec.host ?? undefined, port: l.port, backlog, ipv6Only: v6Only(l.spec) };
  const copy = dupCloexec(l.fd);
  return copy !== null && copy >= 0 ? { fd: copy, backlog } : null;
}

/** The dispatcher's descriptor goes with the server (shutdown). */
export function forgetListener(l: ListenConn): void {
  if (l.fd >= 0) closeFd(l.fd);
}
