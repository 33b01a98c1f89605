// A worker thread: memcached's LIBEVENT_THREAD. Its own event loop adopts the connections the
// dispatcher hands over (thread_libevent_process's 'c' case, here a message carrying the handle)
// and drives every connection through the state machine. All workers share one store.

import { parentPort, workerData } from 'node:worker_threads';
import net from 'node:net';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { Store } from '../store/store.ts';
import type { StoreShared } from '../store/create.ts';
import type { Settings } from '../settings/settings.ts';
import { ServerCtl, Ctl, admitConn } from '../server-ctl.ts';
import { ConnTable, ConnRow, setAddress, Transport } from '../stats/conn-table.ts';
import { ThreadStat } from '../stats/thread-stats.ts';
import { PrefixStats } from '../stats/prefix-stats.ts';
import { WorkerContext } from './context.ts';
import { Conn, ConnPool, ConnState, EMPTY, Proto } from './conn.ts';
import { connClose, connCloseWithReason, connReleaseItem, connHooks, connSetState, driveMachine, noteCommandTime, onConnDrain, onConnIoDone, onConnRead, onConnReadEnd, onConnReadInto } from './drive-machine.ts';
import { ExtIoQueue } from '../extstore/io-queue.ts';
import { connGiveBackLent } from './transmit.ts';
import { settleDetachPromise } from './out-buffer.ts';
import { readBuffer } from './read-buffer.ts';
import { adoptUnixFd, checkHandleIo, errnoName, openHandleIo } from './handle-io.ts';
import { enlargeReceiveBuffer, maximizeSendBuffer, UdpPort, udpSocketFd, udpTakeRequest } from './udp.ts';
import { markSocket } from '../dispatcher/listen-conn.ts';
import type { PeerName } from './handle-io.ts';
import type { ConnIo, IoHooks } from './conn-io.ts';
import type { openTlsIo } from '../tls/tls-io.ts';
import type { CertFiles } from '../tls/secure-context.ts';
import type { Protocol } from '../settings/settings.ts';
import { G } from '../store/layout.ts';
import { CloseReason, LogEvent, LogFlag } from '../logger/logger.ts';
import type { ConnHandle } from '../dispatcher/accept.ts';
import { cqProtocol, cqTls, cqUnixFd, isCqItem } from './cq-item.ts';
import type { CqItem } from './cq-item.ts';
import { authfileInstall } from '../auth/authfile.ts';
import type { AuthEntries } from '../auth/authfile.ts';
import { saslInstall } from '../auth/sasl-plain.ts';
import type { SaslSetup } from '../auth/sasl-conf.ts';

export type WorkerInit = {
  store: StoreShared;
  ctl: SharedArrayBuffer;
  connTable: SharedArrayBuffer;
  /** The connection table's first id: memcached's first listener's descriptor (main/start-descriptors.ts). */
  firstConnId: number;
  prefixStats: SharedArrayBuffer;
  settings: Settings;
  thread: number;
  /** -Z: the session ticket keys every worker's TLS context shares (tls/secure-context.ts). */
  tlsTicketKeys: Uint8Array | null;
  /** -Z with -o ssl_session_cache: the session cache every worker's TLS sockets share (tls/session-cache.ts). */
  tlsSessionCache: SharedArrayBuffer | null;
  /** -Z: the certificate files as the main thread read them at start, before -u (tls/secure-context.ts). */
  tlsFiles: CertFiles | null;
  /** -Y: the auth file's entries as the main thread read them at start. */
  authEntries: AuthEntries | null;
  /** -S: where PLAIN's passwords come from and what List Mechs offers, as the main thread set it up at start. */
  sasl: SaslSetup | null;
};

/** Messages from the dispatcher: a new connection's CQ_ITEM (cq-item.ts), or another notify-pipe letter. */
export type WorkerMessage =
  | CqItem
  | { type: 'listen-udp'; host: string; port: number; first: boolean; v6Only: boolean } // listen-spec.ts v6Only
  | { type: 'authfile'; entries: AuthEntries } // -Y read again after a SIGHUP
  | { type: 'stop' };

/** Messages to the dispatcher. */
export type DispatcherMessage =
  | { type: 'ready'; thread: number }
  | { type: 'stopped'; thread: number }
  | { type: 'udp-listening'; port: number; error: string }
  | { type: 'shutdown'; how: 'graceful' | 'immediate' };

settleDetachPromise(); // before anything is compiled (out-buffer.ts)
const noHandleIo = checkHandleIo();
if (noHandleIo !== null) throw new Error(`cachalot worker: ${noHandleIo}`);

const init = workerData as WorkerInit;
const port = parentPort!;
const store = new Store(init.store, init.thread);
const ctx = new WorkerContext(store, init.settings, new ServerCtl(init.ctl), new ConnTable(init.connTable, init.firstConnId),
  new PrefixStats(init.prefixStats, init.settings.prefixDelimiter),
  init.thread, (how) => port.postMessage({ type: 'shutdown', how } satisfies DispatcherMessage));
store.verbosity = () => ctx.verbosity();
store.extLive = ctx.ctl; // a get's recache reads ext_recache_rate as `extstore recache_rate` last set it
if (init.authEntries !== null) authfileInstall(init.authEntries);
if (init.sasl !== null) saslInstall(init.sasl);
/**
 * -Z: how this worker opens a TLS listener's connections. node:tls and node:crypto are loaded only then:
 * in every thread of a server without TLS they would cost ~1 MB of RSS for nothing.
 */
let openTls: typeof openTlsIo | null = null;
if (init.tlsTicketKeys !== null) {
  const [{ WorkerCertificates }, tlsIo] = await Promise.all([import('../tls/certificates.ts'), import('../tls/tls-io.ts')]);
  ctx.certificates = new WorkerCertificates(init.settings.tls, ctx.ctl, init.tlsTicketKeys, init.tlsSessionCache,
    init.tlsFiles ?? new Map());
  openTls = tlsIo.openTlsIo;
}
const pool = new ConnPool(ctx);
const conns = new Map<number, Conn>(); // by conn-table row

connHooks.onClosed = (c: Conn): void => {
  const row = ctx.connTable.rowOf(c.id);
  if (conns.get(row) !== c) return;
  conns.delete(row);
  ctx.ctl.add(Ctl.currConns, -1);
  ctx.stats.row[ThreadStat.curr_conns]--;
  ctx.connTable.free(row);
};

/** memcached's conn_new at -vv, by what the connection speaks from the start. */
const NEW_CONN_TEXT = {
  auto: 'new auto-negotiating client connection', ascii: 'new ascii client connection.', binary: 'new binary client connection.',
} as const;

/**
 * conn_new: a connection handed over by the dispatcher; `tls` on a
 * TLS listener, `protocol` when the listener names one (-l proto[...]:).
 */
function connNew(handle: ConnHandle, row: number, transport: 'tcp' | 'unix', tls = false, protocol: Protocol | null = null): void {
  const c = pool.take();
  c.ioHooks ??= connHandleHooks(c);
  if (store.ext !== null) c.extIo ??= new ExtIoQueue(store.ext, () => { try { onConnIoDone(c); } catch (err) { connFault(c, err); } });
  const certificates = ctx.certificates;
  const io = tls && openTls !== null && certificates !== null
    ? openTls(handle, readBuffer, c.ioHooks, certificates) : openHandleIo(handle, readBuffer, c.ioHooks);
  c.reset(ctx.connTable.idOf(row), io, transport, protocol ?? undefined);
  c.row = row;
  conns.set(row, c);
  ctx.stats.row[ThreadStat.curr_conns]++;
  ctx.stats.row[ThreadStat.total_conns]++;
  describeConn(c, io, row);
  if ((store.c32[G.watchMask] & LogFlag.CONNEVENTS) !== 0) {
    store.log.connEvent(LogEvent.CONN_NEW, c.peerAddress, c.peerPort, transport === 'unix' ? 0 : 1, 0, c.id);
  }
  if (ctx.verbosity() > 1) ctx.log(`<${c.id} ${NEW_CONN_TEXT[c.bindingProtocol]}`);
  connSetWaiting(c);
  io.resume();
}

/** What the handle's events do to connection c; an exception closes only c (connFault). */
function connHandleHooks(c: Conn): IoHooks {
  return {
    onRead: (n) => { try { onConnRead(c, readBuffer, n); } catch (err) { connFault(c, err); } },
    onReadInto: (n) => { try { onConnReadInto(c, n); } catch (err) { connFault(c, err); } },
    onReadEnd: (status) => { try { onConnReadEnd(c, status); } catch (err) { connFault(c, err); } },
    onDrain: () => { try { onConnDrain(c); } catch (err) { connFault(c, err); } },
    onWriteError: (status) => { c.closeReason = `write error ${errnoName(status)}`; c.io?.close(); },
    onClosed: () => {
      if (c.state !== ConnState.closed) connClose(c);
      connGiveBackLent(c); // the handle is closed: its queued writes were cancelled
      pool.give(c);
    },
  };
}

/**
 * An exception is a broken invariant, never a client's doing: log it with the connection, count
 * it, close that connection; the worker and every other connection go on.
 */
function connFault(c: Conn, err: unknown): void {
  ctx.stats.row[ThreadStat.conn_faults]++;
  ctx.log(`<${c.id} internal error, closing: ${err instanceof Error ? err.stack : String(err)}`);
  ctx.out.truncate(0);
  connReleaseItem(c);
  connCloseWithReason(c, 'internal error');
  try { driveMachine(c); } catch { c.io?.close(); }
}

/** Wait for the first read; until then `stats conns` shows conn_new_cmd, as memcached's new connection. */
function connSetWaiting(c: Conn): void {
  c.state = ConnState.waiting; // not connSetState: the table shows conn_new_cmd meanwhile, and no transition is printed
  ctx.connTable.set(c.row, ConnRow.state, ConnState.newCmd);
}

/** Filled by the handle's getpeername / getsockname: one record, shaped once, for every connection. */
const addressScratch: PeerName = { address: '', family: '', port: 0 };

/**
 * The connection's row for `stats conns`. The dispatcher has written the local address when its
 * listener's address says it; otherwise (a wildcard listener, a unix socket) the kernel is asked.
 */
function describeConn(c: Conn, io: ConnIo, row: number): void {
  const t = ctx.connTable;
  const peer = io.peerName(addressScratch);
  t.set(row, ConnRow.transport, c.transport === 'unix' ? Transport.unix : peer.family === 'IPv6' ? Transport.tcp6 : Transport.tcp);
  // memcached logs a unix socket's peer as "unix", port 0 (its request_addr is zeroed)
  c.peerAddress = c.transport === 'unix' ? 'unix' : peer.address ?? '';
  c.peerPort = c.transport === 'unix' ? 0 : peer.port ?? 0;
  setAddress(t, row, ConnRow.ipv4, ConnRow.ipv6, peer.address, peer.family);
  t.set(row, ConnRow.port, peer.port ?? 0);
  if (c.transport === 'unix' || t.get(row, ConnRow.localPort) === 0) {
    const local = io.sockName(addressScratch);
    setAddress(t, row, ConnRow.localIpv4, ConnRow.localIpv6, local.address, local.family);
    t.set(row, ConnRow.localPort, local.port ?? 0);
  }
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
    if (ctx.verbosity() > 1) ctx.log(`Closing idle fd ${c.id}`);
    c.closeKind = CloseReason.IDLE_TIMEOUT;
    connCloseWithReason(c, 'idle timeout');
    driveMachine(c);
  }
}


const udpSockets: dgram.Socket[] = [];

/**
 * node:dgram's lookup of an address. A reply goes to the address its request came from, already an IP:
 * dns.lookup would answer on the next tick, and every datagram of a reply would wait in memory until then;
 * answered at once, send() hands each one to the kernel before it returns (UdpPort reuses its bytes). A name
 * (`-l localhost`, for bind) is looked up.
 */
const peerAsIs: typeof dns.lookup = ((address: string, options: dns.LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void => {
  const family = net.isIP(address);
  if (family === 0) dns.lookup(address, options, callback);
  else callback(null, address, family);
}) as typeof dns.lookup;

/**
 * memcached's UDP connection for this thread: a socket of its own on the UDP port (SO_REUSEPORT), served by
 * one Conn that is never closed. It counts as a connection and has its row in `stats conns`, as memcached's.
 */
function listenUdp(host: string, udpPort: number, first: boolean, v6Only: boolean): void {
  const answer = (p: number, error: string): void =>
    port.postMessage({ type: 'udp-listening', port: p, error } satisfies DispatcherMessage);
  const row = admitConn(ctx.ctl, ctx.connTable, Number.MAX_SAFE_INTEGER);
  if (row < 0) { answer(-1, 'no connection row left'); return; }
  // memcached dispatches its UDP conns as it does accepted ones: with -N it asks a UDP socket for its NAPI id too,
  // gets none, and counts the fallback
  if (ctx.ctl.get(Ctl.napiIds) !== 0) ctx.ctl.add(Ctl.roundRobinFallback, 1);
  const socket = dgram.createSocket({ type: v6Only ? 'udp6' : 'udp4', reusePort: true, ipv6Only: v6Only, lookup: peerAsIs });
  const c = pool.take();
  c.reset(ctx.connTable.idOf(row), null, 'udp');
  c.row = row;
  c.udp = new UdpPort(socket, ctx.settings.itemSizeMax);
  ctx.stats.row[ThreadStat.curr_conns]++;
  ctx.stats.row[ThreadStat.total_conns]++;
  socket.on('message', (msg, from) => { try { udpRead(c, msg, from.address, from.port); } catch (err) { udpFault(c, err); } });
  socket.on('error', (err) => { if (udpSockets.includes(socket)) ctx.log(`UDP socket: ${err.message}`); else answer(-1, err.message); });
  socket.bind({ address: host, port: udpPort, exclusive: false }, () => {
    udpSockets.push(socket);
    const local = socket.address();
    const t = ctx.connTable;
    t.set(row, ConnRow.transport, local.family === 'IPv6' ? Transport.udp6 : Transport.udp);
    setAddress(t, row, ConnRow.localIpv4, ConnRow.localIpv6, local.address, local.family);
    t.set(row, ConnRow.localPort, local.port);
    t.set(row, ConnRow.thread, ctx.thread);
    t.set(row, ConnRow.lastCmd, store.currentTime());
    c.state = ConnState.waiting; // conn_read from the start, as memcached's UDP connections (a first state: not connSetState)
    t.set(row, ConnRow.state, ConnState.waiting);
    // memcached marks its one socket for the address and perrors once; each thread here marks its own
    markSocket(udpSocketFd(socket), ctx.settings.sockCookieId, first);
    const [before, now] = maximizeSendBuffer(socket);
    enlargeReceiveBuffer(socket);
    // memcached searches once for its one socket per address and says so at -vv; each thread here has a socket
    if (ctx.verbosity() > 1 && first) ctx.log(`<${c.id} send buffer was ${before}, now ${now}`);
    if (ctx.verbosity() > 1) ctx.log(`<${c.id} server listening (udp)`); // memcached's conn_new, for each thread's
    answer(local.port, '');
  });
}

/** A datagram: one request, answered at once; the connection then waits for the next (memcached's conn_read). */
function udpRead(c: Conn, msg: Buffer, address: string, fromPort: number): void {
  const udp = c.udp;
  if (udp === null || !udpTakeRequest(c, udp, msg, address, fromPort)) return;
  noteCommandTime(c);
  c.proto = Proto.negotiating; // each datagram says its own protocol
  c.reqsLeft = ctx.settings.reqsPerEvent; // a fresh -R budget per datagram, as memcached's per event
  connSetState(c, ConnState.parseCmd);
  driveMachine(c);
  udpRequestDone(c);
}

/** What the datagram left unfinished goes with it: a value cut short, a partial line. */
function udpRequestDone(c: Conn): void {
  connReleaseItem(c);
  c.rbuf = EMPTY;
  c.rpos = c.rend = 0;
  c.stream = null;
  connSetState(c, ConnState.waiting);
}

function udpFault(c: Conn, err: unknown): void {
  ctx.stats.row[ThreadStat.conn_faults]++;
  ctx.log(`<${c.id} internal error in a UDP request: ${err instanceof Error ? err.stack : String(err)}`);
  ctx.out.truncate(0);
  c.udp?.forget();
  udpRequestDone(c);
}

function stopAll(): void {
  ctx.stopping = true;
  for (const s of udpSockets) s.close();
  udpSockets.length = 0;
  for (const c of conns.values()) {
    if (c.state === ConnState.closed) continue;
    connCloseWithReason(c, 'server shutting down');
    driveMachine(c);
  }
  port.postMessage({ type: 'stopped', thread: ctx.thread } satisfies DispatcherMessage);
}

/** A new connection's CQ item: a TCP handle moved here, or a unix-socket connection's descriptor to adopt. */
function cqConnNew(item: CqItem): void {
  const fd = cqUnixFd(item);
  if (fd < 0) { connNew(item[0] as ConnHandle, item[1], 'tcp', cqTls(item), cqProtocol(item)); return; }
  let handle: ConnHandle;
  try {
    handle = adoptUnixFd(fd);
  } catch (err) { // never seen: the descriptor is the dispatcher's fresh copy
    ctx.log(`worker ${ctx.thread}: ${err instanceof Error ? err.message : String(err)}`);
    ctx.ctl.add(Ctl.currConns, -1);
    ctx.connTable.free(item[1]);
    return;
  }
  connNew(handle, item[1], 'unix');
}

/** thread_libevent_process: one case per message type. */
function onWorkerMessage(msg: WorkerMessage): void {
  if (isCqItem(msg)) { cqConnNew(msg); return; }
  switch (msg.type) {
    case 'listen-udp': listenUdp(msg.host, msg.port, msg.first, msg.v6Only); break;
    case 'authfile': authfileInstall(msg.entries); break;
    case 'stop': stopAll(); break;
  }
}

port.on('message', onWorkerMessage);
// A fault outside a socket event (a resumed yield): the worker goes on, the reply in progress is dropped.
process.on('uncaughtException', (err: Error) => {
  ctx.stats.row[ThreadStat.conn_faults]++;
  ctx.out.truncate(0);
  ctx.log(`worker ${ctx.thread}: internal error: ${err.stack ?? err.message}`);
});
if (ctx.settings.idleTimeout > 0) setInterval(kickIdleConns, 1000).unref();
port.postMessage({ type: 'ready', thread: ctx.thread } satisfies DispatcherMessage);
