// Words every thread of the server shares, beside the store: the connection counts (-c itself is enforced on
// the connection table's ids, stats/conn-table.ts), the live verbosity, the listener's state, and the extstore
// settings. Int32 words changed with Atomics.
//
//   [ curr_conns | total_conns | rejected_conns | listen_disabled_num | accepting_conns |
//     verbosity | conn_structures | time_in_listen_disabled_ms | ssl_handshake_errors | ssl_new_sessions |
//     last cert refresh | cert generation | napi ids | round_robin_fallback | unexpected_napi_ids | listen conns |
//     16..23: extstore's uint settings, in EXT_UINT_SETTINGS order | 24..25: ext_max_frag (a Float64) ]

import type { Socket } from 'node:net';
import type { ConnTable } from './stats/conn-table.ts';
import { REPLY } from './protocol/replies.ts';
import { defaultExtSettings, type ExtSettings } from './settings/ext-settings.ts';

export const Ctl = {
  currConns: 0, totalConns: 1, rejectedConns: 2, listenDisabledNum: 3, acceptingConns: 4,
  verbosity: 5, connStructures: 6, timeInListenDisabledMs: 7,
  /** TLS (tls/certificates.ts): memcached's counters, the last refresh_certs time, and how many there were. */
  sslHandshakeErrors: 8, sslNewSessions: 9, certRefreshTime: 10, certGeneration: 11,
  /**
   * -N, and memcached's round_robin_fallback (connections handed out round-robin for want of a NAPI id) and
   * unexpected_napi_ids (ids that found every worker taken: dispatcher/napi.ts).
   */
  napiIds: 12, roundRobinFallback: 13, unexpectedNapiIds: 14,
  /** The listening sockets: memcached's curr_conns counts them too (stats.ts). */
  listenConns: 15,
} as const;
const CTL_WORDS = 32;

const EXT_BASE = 16, EXT_MAX_FRAG_F64 = 12; // Float64 index: byte 96

/**
 * The extstore settings start as -o gave them (settings/ext-settings.ts) and `extstore <name> <value>` changes
 * them; like a memcached built with extstore but started without a path, Cachalot shows them and they change
 * nothing else.
 */
export function createServerCtl(verbosity: number, napiIds = 0, ext: ExtSettings = defaultExtSettings()): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(CTL_WORDS * 4);
  const i32 = new Int32Array(sab);
  i32[Ctl.acceptingConns] = 1;
  i32[Ctl.verbosity] = verbosity;
  i32[Ctl.napiIds] = napiIds;
  ext.uints.forEach((v, i) => { i32[EXT_BASE + i] = v; });
  new Float64Array(sab)[EXT_MAX_FRAG_F64] = ext.maxFrag;
  return sab;
}

export class ServerCtl {
  declare readonly i32: Int32Array;
  private declare readonly f64: Float64Array;
  constructor(sab: SharedArrayBuffer) { this.i32 = new Int32Array(sab); this.f64 = new Float64Array(sab); }
  /** An extstore setting by its index in EXT_UINT_SETTINGS (uint32). */
  extSetting(i: number): number { return Atomics.load(this.i32, EXT_BASE + i) >>> 0; }
  setExtSetting(i: number, v: number): void { Atomics.store(this.i32, EXT_BASE + i, v | 0); }
  extMaxFrag(): number { return this.f64[EXT_MAX_FRAG_F64]; }
  setExtMaxFrag(v: number): void { this.f64[EXT_MAX_FRAG_F64] = v; }
  get(word: number): number { return Atomics.load(this.i32, word); }
  add(word: number, n: number): number { return Atomics.add(this.i32, word, n) + n; }
  set(word: number, v: number): void { Atomics.store(this.i32, word, v); }
}

/**
 * conn_listening's -c check, for whichever thread accepted: the new connection's row, the lowest free one (as the
 * kernel gives memcached its lowest free descriptor), counted in curr/total_connections; or -1 when its id is
 * `refuseFrom` or more (memcached's maxconns_fast refuses a descriptor of -c - 1 or more), counted in
 * rejected_connections (the caller then answers with refuseConn). Atomic: the dispatcher admits, workers release
 * as connections close.
 */
export function admitConn(ctl: ServerCtl, table: ConnTable, refuseFrom: number): number {
  const row = table.claim();
  if (row < 0 || table.idOf(row) >= refuseFrom) {
    if (row >= 0) table.free(row);
    ctl.add(Ctl.rejectedConns, 1);
    return -1;
  }
  ctl.add(Ctl.currConns, 1);
  ctl.add(Ctl.totalConns, 1);
  if (row + 1 > ctl.get(Ctl.connStructures)) ctl.set(Ctl.connStructures, row + 1);
  return row;
}

/** A connection admitted and then not handed to a worker after all (no descriptor for it): counted as refused. */
export function unadmitConn(ctl: ServerCtl, table: ConnTable, row: number): void {
  table.free(row);
  ctl.add(Ctl.currConns, -1);
  ctl.add(Ctl.totalConns, -1);
  ctl.add(Ctl.rejectedConns, 1);
}

/**
 * memcached's answer to a connection over -c, then the hang-up: its write() and close(), with no shutdown
 * between (a close with the client's bytes unread is then a TCP reset, as memcached's is). The socket is closed
 * once the line is out; it is never read, so waiting for the client's end would hold its descriptor for good.
 */
export function refuseConn(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  socket.write(REPLY.ERROR_TOO_MANY_CONNS, () => socket.destroy());
}
