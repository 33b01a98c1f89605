// A worker thread: memcached's LIBEVENT_THREAD. Its own event loop adopts the sockets the
// dispatcher hands over (thread_libevent_process's 'c' case, here a message carrying the socket)
// and drives every connection through the state machine. All workers share one store.

import { parentPort, workerData } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { Store } from '../store/store.ts';
import type { StoreShared } from '../store/store.ts';
import type { Settings } from '../settings.ts';
import { ServerCtl, Ctl } from '../server-ctl.ts';
import { ConnTable, ConnRow, ipv4ToInt } from '../stats/conn-table.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { WorkerContext } from './context.ts';
import { Conn, ConnPool, ConnState } from './conn.ts';
import { connClose, connCloseWithReason, connHooks, driveMachine, onConnData, onConnDrain } from './drive-machine.ts';

export type WorkerInit = {
  store: StoreShared;
  ctl: SharedArrayBuffer;
  connTable: SharedArrayBuffer;
  settings: Settings;
  thread: number;
  startedAt: number;
};

/** Messages from the dispatcher: memcached's CQ_ITEM plus the notify-pipe letter. */
export type WorkerMessage =
  | { type: 'conn'; socket: Socket; row: number; transport: 'tcp' | 'unix' }
  | { type: 'stop' };

/** Messages to the dispatcher. */
export type DispatcherMessage =
  | { type: 'ready'; thread: number }
  | { type: 'stopped'; thread: number }
  | { type: 'shutdown'; how: 'graceful' | 'immediate' };

const init = workerData as WorkerInit;
const port = parentPort!;
const store = new Store(init.store, init.thread);
const ctx = new WorkerContext(store, init.settings, new ServerCtl(init.ctl), new ConnTable(init.connTable),
  init.thread, init.startedAt, (how) => port.postMessage({ type: 'shutdown', how } satisfies DispatcherMessage));
const pool = new ConnPool(ctx);
const conns = new Map<number, Conn>(); // by conn-table row

connHooks.onClosed = (c: Conn): void => {
  const row = ConnTable.rowOf(c.id);
  if (conns.get(row) !== c) return;
  conns.delete(row);
  ctx.ctl.add(Ctl.currConns, -1);
  ctx.stats.row[ThreadStat.curr_conns]--;
  ctx.connTable.free(row);
};

/** conn_new: adopt a socket handed over by the dispatcher. */
function connNew(socket: Socket, row: number, transport: 'tcp' | 'unix'): void {
  const c = pool.take();
  c.reset(ConnTable.idOf(row), socket, transport);
  c.row = row;
  conns.set(row, c);
  ctx.stats.row[ThreadStat.curr_conns]++;
  describeConn(c, socket, row);
  if (transport === 'tcp') socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => onConnData(c, chunk));
  socket.on('drain', () => onConnDrain(c));
  socket.on('error', (err: Error) => { c.closeReason = err.message; });
  socket.on('close', () => {
    if (c.state !== ConnState.closed) connClose(c);
    pool.give(c);
  });
  if (ctx.verbosity() > 0) ctx.log(`<${c.id} new auto-negotiating client connection`);
  connSetWaiting(c);
  socket.resume();
}

function connSetWaiting(c: Conn): void {
  c.state = ConnState.waiting;
  ctx.connTable.set(c.row, ConnRow.state, ConnState.waiting);
}

function describeConn(c: Conn, socket: Socket, row: number): void {
  const t = ctx.connTable;
  t.set(row, ConnRow.transport, c.transport === 'unix' ? 2 : 1);
  t.set(row, ConnRow.ipv4, ipv4ToInt(socket.remoteAddress));
  t.set(row, ConnRow.port, socket.remotePort ?? 0);
  t.set(row, ConnRow.localIpv4, ipv4ToInt(socket.localAddress));
  t.set(row, ConnRow.localPort, socket.localPort ?? 0);
  t.set(row, ConnRow.thread, ctx.thread);
  t.set(row, ConnRow.lastCmd, store.currentTime());
}

/** -o idle_timeout: memcached's conn_idle checks, once a second. */
function kickIdleConns(): void {
  const now = store.currentTime();
  const limit = ctx.settings.idleTimeout;
  for (const c of conns.values()) {
    if (c.state !== ConnState.waiting || now - c.lastCmdTime <= limit) continue;
    ctx.stats.row[ThreadStat.idle_kicks]++;
    connCloseWithReason(c, 'idle timeout');
    driveMachine(c);
  }
}

function stopAll(): void {
  for (const c of conns.values()) {
    if (c.state === ConnState.closed) continue;
    connCloseWithReason(c, 'server shutting down');
    driveMachine(c);
  }
  port.postMessage({ type: 'stopped', thread: ctx.thread } satisfies DispatcherMessage);
}

/** thread_libevent_process: one case per message type. */
function onWorkerMessage(msg: WorkerMessage): void {
  switch (msg.type) {
    case 'conn': connNew(msg.socket, msg.row, msg.transport); break;
    case 'stop': stopAll(); break;
  }
}

port.on('message', onWorkerMessage);
if (ctx.settings.idleTimeout > 0) setInterval(kickIdleConns, 1000).unref();
port.postMessage({ type: 'ready', thread: ctx.thread } satisfies DispatcherMessage);
