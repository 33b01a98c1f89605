// Words every thread of the server shares, beside the store: connection counts the dispatcher
// enforces -c with, the live verbosity, the listener's state. Int32 words changed with Atomics.
//
//   [ curr_conns | total_conns | rejected_conns | listen_disabled_num | accepting_conns |
//     verbosity | conn_structures | time_in_listen_disabled_ms ]

import type { Socket } from 'node:net';
import type { ConnTable } from './stats/conn-table.ts';
import { REPLY } from './protocol/replies.ts';

export const Ctl = {
  currConns: 0, totalConns: 1, rejectedConns: 2, listenDisabledNum: 3, acceptingConns: 4,
  verbosity: 5, connStructures: 6, timeInListenDisabledMs: 7,
} as const;
const CTL_WORDS = 16;

export function createServerCtl(verbosity: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(CTL_WORDS * 4);
  const i32 = new Int32Array(sab);
  i32[Ctl.acceptingConns] = 1;
  i32[Ctl.verbosity] = verbosity;
  return sab;
}

export class ServerCtl {
  readonly i32: Int32Array;
  constructor(sab: SharedArrayBuffer) { this.i32 = new Int32Array(sab); }
  get(word: number): number { return Atomics.load(this.i32, word); }
  add(word: number, n: number): number { return Atomics.add(this.i32, word, n) + n; }
  set(word: number, v: number): void { Atomics.store(this.i32, word, v); }
}

/**
 * conn_listening's -c check, for whichever thread accepted: the new connection's row in the
 * connection table, counted in curr/total_connections; or -1, counted in rejected_connections
 * (the caller then answers with refuseConn). Atomic, so workers accepting on one unix socket agree.
 */
export function admitConn(ctl: ServerCtl, table: ConnTable, maxConns: number): number {
  const row = ctl.add(Ctl.currConns, 1) > maxConns ? -1 : table.claim();
  if (row < 0) {
    ctl.add(Ctl.currConns, -1);
    ctl.add(Ctl.rejectedConns, 1);
    return -1;
  }
  ctl.add(Ctl.totalConns, 1);
  if (row + 1 > ctl.get(Ctl.connStructures)) ctl.set(Ctl.connStructures, row + 1);
  return row;
}

/** memcached's answer to a connection over -c, then the hang-up. */
export function refuseConn(socket: Socket): void {
  socket.on('error', () => {});
  socket.end(REPLY.ERROR_TOO_MANY_CONNS);
}
