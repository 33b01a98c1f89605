// The dispatcher: memcached's main thread. It listens, accepts (bare handles, see accept.ts),
// enforces -c, and hands every connection round-robin to a worker (dispatch_conn_new), moving the
// handle into that worker's event loop. It never serves a request.

import net from 'node:net';
import type { Worker, Transferable } from 'node:worker_threads';
import type { Settings } from '../settings/settings.ts';
import { ServerCtl, Ctl, admitConn, refuseConn, unadmitConn } from '../server-ctl.ts';
import { ConnTable, ConnRow, ipv4ToInt, setAddress, Transport } from '../stats/conn-table.ts';
import { ConnState } from '../worker/conn.ts';
import type { WorkerMessage, DispatcherMessage } from '../worker/worker.ts';
import { cqItem, cqUnixItem } from '../worker/cq-item.ts';
import { applySocketMask, bindUnix, canHandOff, handOffDescriptor, removeStaleSocket, sunPath } from './unix-socket.ts';
import { forgetListener, keepListening, listenAgainOn, markSocket, stopAccepting } from './listen-conn.ts';
import type { ListenConn, ListenTarget } from './listen-conn.ts';
import { connectionFdBudget } from './fd-budget.ts';
import { acceptHandles, handleFd, setClientTcpOptions, socketOf } from './accept.ts';
import type { ConnHandle } from './accept.ts';
import { v6Only, type ListenSpec } from '../settings/listen-spec.ts';
import { writeErr } from '../libc/stdio.ts';
import { closeFd, incomingNapiId } from '../libc/ffi.ts';
import { NapiThreads } from './napi.ts';

/** memcached's maxconns_handler: while not accepting, look again every 10 ms. */
const EMFILE_RETRY_MS = 10;

export type Listener = { transport: 'tcp' | 'unix' | 'udp'; family: 'INET' | 'INET6'; port: number; path?: string };

/**
 * The local address of every connection a listener accepts, when the listener's own address says
 * it (an IPv4 address other than 0.0.0.0): then no worker asks the kernel (getsockname) per
 * connection. null for a wildcard or IPv6 listener.
 */
type LocalAddress = { ipv4: number; port: number } | null;

/** A connection accepted, and what its listener says of it. */
type Accepted = { handle: ConnHandle; local: LocalAddress; spec: ListenSpec };

function localAddressOf(server: net.Server): LocalAddress {
  const addr = server.address();
  if (addr === null || typeof addr === 'string') return null;
  const ipv4 = ipv4ToInt(addr.address);
  return ipv4 === 0 ? null : { ipv4, port: addr.port };
}

/** A listener that could not be bound, and on which transport and port (for memcached's start-up error). */
export class ListenError extends Error {
  declare readonly transport: string;
  declare readonly port: number;
  /** The call that failed, as memcached's perror names it. */
  declare readonly call: string;
  constructor(transport: string, port: number, cause: unknown, call = 'bind') {
    super(cause instanceof Error ? cause.message : String(cause));
    this.transport = transport;
    this.port = port;
    this.call = call;
  }
}

/** The unix socket's connections: no -l entry, -B's protocol, never TLS. */
const UNIX_SPEC: ListenSpec = { entry: '', host: null, port: null, tls: false, protocol: null, group: -1 };

/** memcached's prot_text: how -vv names what a listener speaks. */
const PROTOCOL_TEXT = { auto: 'auto-negotiate', ascii: 'ascii', binary: 'binary' } as const;

export class Dispatcher {
  private declare readonly settings: Settings;
  private declare readonly ctl: ServerCtl;
  private declare readonly connTable: ConnTable;
  private declare readonly workers: Worker[];
  private readonly servers: net.Server[] = [];
  private lastThread = -1;
  /** -N's workers by NAPI id; null without -N. */
  private declare readonly napi: NapiThreads | null;
  private disabledSince = 0;
  /** Connections the process has descriptors for (see fd-budget.ts); set once listening. */
  private fdBudget = Infinity;
  /** The -l entries, parsed (settings/listen-spec.ts). */
  private declare readonly specs: ListenSpec[];
  /** memcached's listen_conn list: every listening socket, TCP and unix (listen-conn.ts). */
  private readonly listenConns: ListenConn[] = [];
  /** maxconns_handler's timer, while the listeners do not accept (accept_new_conns(false)). */
  private retryTimer: NodeJS.Timeout | null = null;
  /**
   * The connection whose accept memcached's EMFILE would have refused, leaving it first in the kernel's queue: libuv
   * took it already, so it waits here, unread, and is the first handed on once the dispatcher accepts again.
   */
  private held: Accepted | null = null;

  constructor(settings: Settings, specs: ListenSpec[], ctl: ServerCtl, connTable: ConnTable, workers: Worker[]) {
    this.settings = settings;
    this.specs = specs;
    this.ctl = ctl;
    this.connTable = connTable;
    this.workers = workers;
    this.napi = settings.napiIds > 0 ? new NapiThreads(workers.length) : null;
  }

  /**
   * server_sockets: a TCP listener per -l address (all on one port), and the unix socket. `now` is the
   * server's clock (relative seconds), the listeners' last-command time in `stats conns`; `portFileOpen`: whether
   * memcached holds MEMCACHED_PORT_FILENAME's file open meanwhile (main/start-descriptors.ts portFileOpens).
   */
  async listen(now: number, portFileOpen: boolean): Promise<Listener[]> {
    const s = this.settings;
    const bound: Listener[] = [];
    if (s.socketPath !== null) {
      this.describeListener(this.claimListenerRow(now), Transport.unix, null, 0);
      await this.listenUnix(s.socketPath);
      bound.push({ transport: 'unix', family: 'INET', port: 0, path: s.socketPath });
      this.fdBudget = connectionFdBudget(s.maxConns);
      return bound; // memcached: -s turns TCP off
    }
    // memcached holds MEMCACHED_PORT_FILENAME's file open while it makes its TCP and UDP listeners: that
    // descriptor is the lowest free one then, so the listeners come one above, and the first client gets it
    const portFileRow = portFileOpen ? this.connTable.claim() : -1;
    if (s.port !== 0) await this.listenTcp(now, bound);
    if (s.udpPort !== 0) { // -p 0 -U n: UDP alone. An entry's own port is its UDP port too, as in memcached.
      for (const spec of this.specs) bound.push(await this.listenUdp(spec, spec.port ?? s.udpPort));
    }
    if (portFileRow >= 0) this.connTable.free(portFileRow);
    this.fdBudget = connectionFdBudget(s.maxConns);
    return bound;
  }

  /**
   * A TCP listener per -l entry, on its own port or -p's (-p -1: each address a free port of its own, as
   * memcached's bind to port 0 for each); `*` listens on every interface.
   */
  private async listenTcp(now: number, bound: Listener[]): Promise<void> {
    const s = this.settings;
    const port = s.port < 0 ? 0 : s.port;
    const boundGroups = new Set<number>();
    let inUse: unknown = null;
    for (const spec of this.specs) {
      const server = this.createServer(spec);
      const row = this.claimListenerRow(now); // before the first client can take the row after it
      try {
        await listenOn(server, { host: spec.host ?? undefined, port: spec.port ?? port, backlog: s.backlog, ipv6Only: v6Only(spec) });
      } catch (err) {
        if (!skipped(err)) throw err;
        this.dropListener(server, row); // memcached skips an address in use; its entry fails if all were
        inUse = err;
        continue;
      }
      boundGroups.add(spec.group);
      const addr = server.address() as net.AddressInfo;
      const fd = keepListening(server);
      markSocket(fd, s.sockCookieId);
      this.listenConns.push({ server, spec, port: addr.port, fd });
      bound.push({ transport: 'tcp', family: addr.family === 'IPv6' ? 'INET6' : 'INET', port: addr.port });
      this.describeListener(row, addr.family === 'IPv6' ? Transport.tcp6 : Transport.tcp, addr, addr.port);
    }
    if (this.specs.some((spec) => !boundGroups.has(spec.group))) throw inUse;
  }

  /** A listener whose address could not be bound: it never was one (no row, no connection counted). */
  private dropListener(server: net.Server, row: number): void {
    this.servers.splice(this.servers.indexOf(server), 1);
    this.ctl.add(Ctl.totalConns, -1);
    this.ctl.add(Ctl.listenConns, -1);
    if (row >= 0) this.connTable.free(row);
  }

  /**
   * The unix socket, bound here as memcached's server_socket_unix binds it (unix-socket.ts) and accepted from as the
   * TCP listeners are; its connections go over as descriptors.
   */
  private async listenUnix(given: string): Promise<void> {
    const path = sunPath(given);
    removeStaleSocket(path);
    if (!canHandOff()) throw new ListenError('UNIX', 0, new Error('this Node has no node:ffi to hand unix-socket connections to workers'));
    const fd = bindUnix(given);
    if (typeof fd !== 'number') throw new ListenError('UNIX', 0, fd.error, fd.call);
    applySocketMask(path, this.settings.socketMask);
    const server = this.createServer(UNIX_SPEC);
    const l: ListenConn = { server, spec: UNIX_SPEC, port: 0, fd };
    this.listenConns.push(l);
    const opts = listenAgainOn(l, this.settings.backlog);
    try {
      if (opts === null) throw new Error('no descriptor for the unix socket\'s listener');
      await listenOn(server, opts);
    } catch (err) {
      throw new ListenError('UNIX', 0, err, 'listen');
    }
  }

  /**
   * -U: memcached's num_threads_per_udp workers each bind the UDP port on this address for themselves (see
   * worker.ts listenUdp): every worker with one -l address, one with several. Each is the next in the
   * round robin that hands out connections, as memcached dispatches a UDP fd per thread. -U -1: the first
   * picks a free port (memcached's port -1 is bind's 0), and the others bind the one it got.
   */
  private async listenUdp(spec: ListenSpec, port: number): Promise<Listener> {
    const host = spec.host ?? '::';
    let bound = port < 0 ? 0 : port;
    try {
      for (let i = 0; i < this.settings.numThreadsPerUdp; i++) {
        this.lastThread = (this.lastThread + 1) % this.workers.length;
        bound = await askWorker(this.workers[this.lastThread], { type: 'listen-udp', host, port: bound, first: i === 0, v6Only: v6Only(spec) });
      }
    } catch (err) {
      throw new ListenError('UDP', port, err);
    }
    return { transport: 'udp', family: host.includes(':') ? 'INET6' : 'INET', port: bound };
  }

  /** A listener whose accepts come here (a unix socket's too: setClientTcpOptions and its local address skip it). */
  private createServer(spec: ListenSpec): net.Server {
    const server = net.createServer();
    server.on('listening', () => {
      server.on('error', (err: NodeJS.ErrnoException) => this.onAcceptError(err)); // a failed listen is listenOn's
      setClientTcpOptions(server);
      const local = localAddressOf(server);
      acceptHandles(server, (handle) => this.onAccept(handle, local, spec));
    });
    this.servers.push(server);
    return server;
  }

  /**
   * A listening socket's row in the connection table: memcached lists its listeners in `stats conns`
   * (conn_listening), first, as they hold the lowest descriptors.
   */
  private claimListenerRow(now: number): number {
    this.ctl.add(Ctl.totalConns, 1); // memcached's listening conn counts in total_connections, and in curr_conns
    this.ctl.add(Ctl.listenConns, 1);
    const row = this.connTable.claim();
    if (row >= 0) {
      this.connTable.set(row, ConnRow.lastCmd, now);
      this.connTable.set(row, ConnRow.state, ConnState.listening);
      // a listener is one of memcached's conns[] too: above a port file's hole it is the highest made so far
      if (row + 1 > this.ctl.get(Ctl.connStructures)) this.ctl.set(Ctl.connStructures, row + 1);
    }
    return row;
  }

  private describeListener(row: number, transport: number, addr: net.AddressInfo | null, port: number): void {
    if (row < 0) return;
    if (this.settings.verbose > 1) writeErr(`<${this.connTable.idOf(row)} server listening (${PROTOCOL_TEXT[this.settings.protocol]})\n`);
    const t = this.connTable;
    t.set(row, ConnRow.transport, transport);
    setAddress(t, row, ConnRow.ipv4, ConnRow.ipv6, addr?.address, addr?.family);
    t.set(row, ConnRow.port, port);
  }

  /**
   * conn_listening: the maxconns check, then the hand-off. Past -c memcached answers an error and closes
   * (maxconns_fast); out of descriptors (without it, at -c) its accept fails and it stops accepting: the
   * connection libuv took meanwhile is held, the first to go on once it accepts again.
   */
  private onAccept(handle: ConnHandle, local: LocalAddress, spec: ListenSpec): void {
    if (this.full()) { this.held = { handle, local, spec }; this.acceptNewConns(false); return; }
    this.admitAndDispatch({ handle, local, spec });
  }

  private admitAndDispatch({ handle, local, spec }: Accepted): void {
    const s = this.settings;
    const row = admitConn(this.ctl, this.connTable, s.maxConnsFast ? s.maxConns - 1 : Number.MAX_SAFE_INTEGER);
    if (row < 0) { refuseConn(socketOf(handle)); return; }
    this.connTable.set(row, ConnRow.localIpv4, local?.ipv4 ?? 0); // 0: the worker asks the kernel
    this.connTable.set(row, ConnRow.localPort, local?.port ?? 0);
    this.dispatchConnNew(handle, row, spec);
  }

  /**
   * Whether memcached's accept would fail with EMFILE now: its next descriptor (the lowest free row's id) is past
   * its RLIMIT_NOFILE, which is -c (maxconns_fast refuses from -c - 1, so only a -c one above the listeners meets
   * it), or this process's own descriptors are spent (fd-budget.ts).
   */
  private full(): boolean {
    if (this.ctl.get(Ctl.currConns) >= this.fdBudget) return true;
    const row = this.connTable.lowestFree();
    return row < 0 || this.connTable.idOf(row) >= this.settings.maxConns;
  }

  /**
   * dispatch_conn_new: the next worker in turn (or with -N the one its NAPI id picks) gets the connection's handle
   * itself. A TLS listener's connection is handed over before its handshake, which the worker's event loop drives
   * (memcached starts it with one non-blocking SSL_accept here, and its worker finishes it).
   */
  private dispatchConnNew(handle: ConnHandle, row: number, spec: ListenSpec): void {
    const thread = this.napi === null ? this.roundRobin() : this.selectByNapiId(handle);
    if (spec === UNIX_SPEC) { this.dispatchUnixConn(handle, row, thread); return; }
    const item: WorkerMessage = cqItem(handle, row, spec.tls, spec.protocol);
    this.workers[thread].postMessage(item, [handle as unknown as Transferable]);
  }

  /** select_thread_round_robin. */
  private roundRobin(): number {
    this.lastThread = (this.lastThread + 1) % this.workers.length;
    return this.lastThread;
  }

  /** -N: select_thread_by_napi_id (napi.ts); a socket with no id goes round-robin, counted. */
  private selectByNapiId(handle: ConnHandle): number {
    const id = incomingNapiId(handleFd(handle)) ?? 0;
    if (id === 0) {
      this.ctl.add(Ctl.roundRobinFallback, 1);
      return this.roundRobin();
    }
    const pick = this.napi!.select(id);
    if (pick.unexpected) this.ctl.add(Ctl.unexpectedNapiIds, 1);
    return pick.thread;
  }

  /** A unix-socket connection goes as a copy of its descriptor; none to be had (out of them), it is refused. */
  private dispatchUnixConn(handle: ConnHandle, row: number, thread: number): void {
    const fd = handOffDescriptor(handle);
    if (fd >= 0) { this.workers[thread].postMessage(cqUnixItem(fd, row)); return; }
    unadmitConn(this.ctl, this.connTable, row);
    refuseConn(socketOf(handle));
  }

  /** Errors on a listening socket other than the descriptor shortage handled above. */
  private onAcceptError(err: NodeJS.ErrnoException): void {
    writeErr(`accept() failed: ${err.message}\n`);
  }

  /**
   * memcached's accept_new_conns: out of descriptors (or full, without maxconns_fast), the listeners stop accepting
   * and new clients wait in the kernel's queue (listen-conn.ts); every 10 ms (maxconns_handler) the dispatcher looks
   * again, and accepts once connections have closed. accepting_conns, listen_disabled_num and
   * time_in_listen_disabled_us say so.
   */
  private acceptNewConns(enable: boolean): void {
    const accepting = this.retryTimer === null;
    if (enable === accepting) return;
    if (!enable) {
      // the failed accept's perror, and conn_listening's word at -v
      writeErr(`accept4(): Too many open files\n${this.ctl.get(Ctl.verbosity) > 0 ? 'Too many open connections\n' : ''}`);
      for (const l of this.listenConns) stopAccepting(l);
      this.ctl.set(Ctl.acceptingConns, 0);
      this.ctl.add(Ctl.listenDisabledNum, 1);
      this.disabledSince = Date.now();
      this.retryTimer = setInterval(() => this.maxconnsHandler(), EMFILE_RETRY_MS);
      return;
    }
    const again = this.listenConns.map((l) => listenAgainOn(l, this.settings.backlog));
    if (again.some((opts) => opts === null)) { // no descriptor to accept through yet: the next look tries again
      for (const opts of again) if (opts !== null && 'fd' in opts) closeFd(opts.fd);
      return;
    }
    clearInterval(this.retryTimer!);
    this.retryTimer = null;
    this.listenConns.forEach((l, i) => this.relisten(l, again[i]!));
    this.ctl.add(Ctl.timeInListenDisabledMs, Date.now() - this.disabledSince);
    this.ctl.set(Ctl.acceptingConns, 1);
  }

  /**
   * maxconns_handler: with room again, the held connection goes on first (memcached's next accept takes it from the
   * queue), and the listeners accept again only if room is left after it (else the next accept would fail again).
   */
  private maxconnsHandler(): void {
    if (this.full()) return;
    if (this.held !== null) {
      this.admitAndDispatch(this.held);
      this.held = null;
      if (this.full()) return;
    }
    this.acceptNewConns(true);
  }

  /** A listener accepts again, through a new handle. */
  private relisten(l: ListenConn, opts: ListenTarget): void {
    const server = this.createServer(l.spec);
    const old = this.servers.indexOf(l.server);
    if (old >= 0) this.servers.splice(old, 1);
    l.server = server;
    listenOn(server, opts).catch((err: unknown) => {
      writeErr(`failed to listen again on ${l.spec === UNIX_SPEC ? this.settings.socketPath : l.spec.entry}: ${String(err)}\n`);
    });
  }

  /** Stop accepting (shutdown). */
  async close(): Promise<void> {
    if (this.retryTimer !== null) clearInterval(this.retryTimer);
    if (this.held !== null) socketOf(this.held.handle).destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    for (const l of this.listenConns) forgetListener(l);
  }
}

/**
 * A listener's address that memcached's server_socket passes over without a word: one in use (bind's EADDRINUSE;
 * the entry fails only if all its addresses were), or one of a family the host lacks, as `*`'s IPv6 one where
 * there is no IPv6 (its socket() fails: getaddrinfo "can return junk addresses").
 */
function skipped(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRINUSE' || code === 'EAFNOSUPPORT';
}

/** Send a listening order to a worker and wait for its answer (the UDP port bound). */
function askWorker(w: Worker, msg: WorkerMessage): Promise<number> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: DispatcherMessage): void => {
      if (m.type !== 'udp-listening') return;
      w.off('message', onMsg);
      if (m.port < 0) reject(new Error(m.error)); else resolve(m.port);
    };
    w.on('message', onMsg);
    w.postMessage(msg);
  });
}

function listenOn(server: net.Server, on: ListenTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => { server.off('error', reject); resolve(); };
    if ('fd' in on) server.listen({ fd: on.fd }, on.backlog, listening); // a socket already bound
    else server.listen(on, listening);
  });
}
