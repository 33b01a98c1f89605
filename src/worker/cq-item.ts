// memcached's CQ_ITEM: what the dispatcher hands a worker with a new connection (cq_push, then the
// notify pipe's 'c'). Here the message itself carries it: the accepted handle, moved with it (a unix-socket
// connection's descriptor instead: dispatcher/unix-socket.ts), the connection's row in the shared table, and
// what its listener says (TLS, a forced protocol, the unix socket).
//
// An array of the handle and two small integers, not an object: a worker deserializes every message
// it is sent, and V8 rebuilds an object property by property (each name looked up in the string
// table, each field a map transition), where an array of small integers is read straight into its
// elements. Under connection churn (bench workload 5) the object's properties cost a worker about as
// much as rebuilding the handle itself (bench/RESULTS.md, round 23).

import type { ConnHandle } from '../dispatcher/accept.ts';
import type { Protocol } from '../settings/settings.ts';

export type CqItem = readonly [handle: ConnHandle | number, row: number, listener: number];

/** A listener's protocol, by its code in bits 1-2 of CqItem's third element (0: none forced). */
const PROTOCOLS: readonly (Protocol | null)[] = [null, 'auto', 'ascii', 'binary'];
const TLS_BIT = 1;
const UNIX_BIT = 8;

export function cqItem(handle: ConnHandle, row: number, tls: boolean, protocol: Protocol | null): CqItem {
  return [handle, row, (tls ? TLS_BIT : 0) | (PROTOCOLS.indexOf(protocol) << 1)];
}

/** A unix-socket connection's item: its descriptor (the dispatcher's copy, now the worker's), -B's protocol. */
export function cqUnixItem(fd: number, row: number): CqItem { return [fd, row, UNIX_BIT]; }

/** The descriptor of a unix-socket connection's item; -1 for any other. */
export function cqUnixFd(item: CqItem): number { return (item[2] & UNIX_BIT) !== 0 ? item[0] as number : -1; }

/** A new connection's CQ item is the one message to a worker that is an array. */
export function isCqItem(msg: object): msg is CqItem { return Array.isArray(msg); }

export function cqTls(item: CqItem): boolean { return (item[2] & TLS_BIT) !== 0; }

export function cqProtocol(item: CqItem): Protocol | null { return PROTOCOLS[item[2] >> 1] ?? null; }
