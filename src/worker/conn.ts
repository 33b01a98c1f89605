// A client connection as a worker sees it: memcached's `conn` struct. Conns are pooled per worker
// (memcached's freeconns) so a new connection reuses an old object and its buffers.

import type { WorkerContext } from './context.ts';
import type { ConnIo, IoHooks } from './conn-io.ts';
import type { UdpPort } from './udp.ts';
import type { ExtIoQueue } from '../extstore/io-queue.ts';
import type { Protocol } from '../settings/settings.ts';
import type { StoreOp } from '../store/results.ts';
import type { ParkedReplies } from './out-buffer.ts';
import type { SaslContext } from '../auth/sasl-context.ts';
import * as threadStats from '../stats/thread-stats.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ThreadStat } = threadStats;

/** memcached's conn_states, the ones a TCP connection passes through. */
export const ConnState = {
  newCmd: 1, waiting: 2, parseCmd: 3, nread: 4, swallow: 5, mwrite: 6, closing: 7, closed: 8, watch: 9,
  /** A listening socket's row in `stats conns`; never a connection's state. */
  listening: 10,
  ioQueue: 11,
} as const;
export type ConnStateValue = (typeof ConnState)[keyof typeof ConnState];
export const CONN_STATE_NAMES = ['', 'conn_new_cmd', 'conn_waiting', 'conn_parse_cmd', 'conn_nread',
  'conn_swallow', 'conn_mwrite', 'conn_closing', 'conn_closed', 'conn_watch', 'conn_listening', 'conn_io_queue'] as const;

/** A connection table row's state as memcached names it: one idle between requests rests in its conn_read. */
export function memcachedStateName(state: number): string {
  return state === ConnState.waiting ? 'conn_read' : CONN_STATE_NAMES[state] ?? 'conn_new_cmd';
}

/**
 * A reply too long to build at once (`lru_crawler metadump`), or one that never ends (`watch`): the connection
 * sits in conn_watch while the machine calls step() again each time the socket has room. step() appends some of
 * it to the out buffer and says what next (StreamStep): `more` (call again on the loop's next turn), `done` (the
 * connection takes commands again), or `idle` (nothing to send now: whoever feeds the stream drives the
 * connection again). A stream that `readsInput` keeps the connection reading and throws the input away (a watcher
 * notices its client hang up); any other stops reading until it is done. `abort` is called if the connection
 * closes first.
 */
export interface ReplyStream {
  readonly readsInput: boolean;
  step(c: Conn): StreamStepValue;
  abort(c: Conn): void;
}
export const StreamStep = { more: 0, done: 1, idle: 2 } as const;
export type StreamStepValue = (typeof StreamStep)[keyof typeof StreamStep];

export const Proto = { negotiating: 0, ascii: 1, binary: 2 } as const;
export type ProtoValue = (typeof Proto)[keyof typeof Proto];
/** c.nreadOwner of an ms: the meta protocol completes its value (memcached's c->mset_res). */
export const NREAD_META = 3;
/** Which protocol completes a value read in conn_nread (drive-machine.ts readValue). */
export type NreadOwner = typeof Proto.ascii | typeof Proto.binary | typeof NREAD_META;

/** memcached tokenizes at most 24 tokens (MAX_TOKENS); the rest of the line is the last one. */
export const MAX_TOKENS = 24;
const OWN_BUFFER_SIZE = 4096;
export const EMPTY = Buffer.alloc(0);

export class Conn {
  id = 0;
  /** This connection's row in the shared connection table (`stats conns`). */
  row = 0;
  /** The connection's handle (memcached's fd): reads, writes, close. Null once the conn is back in the pool. */
  io: ConnIo | null = null;
  /** What its handle's events call (the worker's, made once per Conn and kept through the pool). */
  ioHooks: IoHooks | null = null;
  declare readonly ctx: WorkerContext;
  state: ConnStateValue = ConnState.newCmd;
  proto: ProtoValue = Proto.negotiating;
  /** The protocol its listener speaks (-B, or the listener's proto[...]): auto negotiates on the first byte. */
  bindingProtocol: Protocol = 'auto';
  transport: 'tcp' | 'unix' | 'udp' = 'tcp';
  /** A UDP connection's socket and the datagram it answers (io is then null); null for a stream. */
  udp: UdpPort | null = null;

  // Input not yet consumed is rbuf[rpos, rend): either the worker's read buffer, parsed in place,
  // or `own`, where a partial command is kept between reads. `own` is made the first time one is:
  // a connection whose commands arrive whole never has one (memcached, too, gives a connection a read
  // buffer only while it holds input), so thousands of idle connections cost no buffer each.
  rbuf: Buffer = EMPTY;
  rpos = 0;
  rend = 0;
  own: Buffer = EMPTY;

  /**
   * The command line's words, start/end pairs into rbuf: the worker's one array (WorkerContext.tokens). A
   * command reads them only while it runs, as they point into a read buffer the next read reuses.
   */
  declare readonly tokens: Int32Array;

  // conn_nread: the item being filled, where in its value, how much is left, and what to do after (connStartNread
  // sets them all).
  item = 0;
  /** An item a read may still land in (see connReleaseItem): released when the handle is closed. */
  itemAwaitingClose = 0;
  itemAt = 0;
  rlbytes = 0;
  /** 0 until the connection's first store sets it; read only when that store's value is in. */
  storeOp = 0 as StoreOp;
  casIn = -0; // -0: a double from the start, as CAS values can be (docs/architecture.md, "Field shapes")
  /**
   * The client's CAS exactly, set only when it is past 2^53 (casIn, a double, then holds it rounded): memcached's -vv
   * line for a CAS that failed prints the uint64 it parsed. Read only when casIn is past 2^53.
   */
  casInExact = 0n;
  noreply = false;
  /** Which protocol completes the nread (memcached's complete_nread dispatch); NREAD_META for ms. */
  nreadOwner: NreadOwner = Proto.ascii;
  /** Bytes of a refused value still to skip (conn_swallow). */
  sbytes = 0;
  /**
   * In nread or swallow: the replies memcached would still hold while the value's rest arrives (park.ts), out of
   * the worker's buffer; put back when the value is in, dropped if the connection closes first. Null when none.
   */
  parked: ParkedReplies | null = null;
  /**
   * The value (or the bytes to skip) did not end in the read its command came in. memcached reads such a rest
   * exactly, so nothing follows it in its buffer and the replies so far go out when it ends (drive-machine.ts).
   */
  valueResumed = false;
  /**
   * Where memcached's read buffer would end, an index into rbuf: memcached reads at most READ_BUFFER_SIZE (16 KB)
   * from the start of the line it is missing the end of (or from the first byte after an emptied buffer), and works
   * off the lines in it before it reads again. A line whose newline is past this end, with more than 2048 of its
   * bytes before it, is a line without a newline to memcached: it hangs up (read-command.ts lineFitsReadBuffer).
   * Short of that, a line (or a binary request's header, extras and key) past it ends memcached's turn: the replies
   * so far go out and it starts the next read's -R budget (connReadBufferRefilled). At or below the line's start:
   * memcached's buffer is empty there and the next read starts a new one.
   */
  fillEnd = 0;
  /**
   * A get line outgrew the 2048 bytes (memcached's rbuf_switch_to_malloc): its buffer then takes whatever has
   * arrived, without the 16 KB bound, until it is emptied and handed back (rbuf_release in conn_waiting).
   */
  rbufMalloced = false;
  /** An Auth started an exchange a Step may go on with (memcached's sasl_started): it succeeded or said "continue". */
  saslStarted = false;
  /**
   * The connection's SASL exchange succeeded (Cyrus's oparams.doneflag): Cyrus then refuses the next mechanism step,
   * which fails and clears it. src/auth/README.md.
   */
  saslDone = false;
  /** The mechanism the last Auth that named an offered one started (Cyrus's s_conn->mech): what a Step goes on with. */
  saslMech = '';
  /** The exchange an Auth started and no failure ended (Cyrus's mechanism context: src/auth/sasl-context.ts). */
  saslContext: SaslContext | null = null;
  /**
   * A SCRAM success went out as "continue" (Cyrus's sent_last): from then on every SASL step on the connection
   * succeeds without looking at its data, as Cyrus's does for memcached. src/auth/README.md.
   */
  saslSentLast = false;
  /**
   * Inside a text get answered a part at a time (protocol/text/get.ts LongGet: a line too long to wait for, or
   * a get paused for a client that is not reading); 0 when not.
   */
  longGet = 0;
  /** The keys that get has named so far. */
  longGetKeys = 0;
  /** extstore: this connection's IO queue (src/extstore/io-queue.ts), made with the connection; null without. */
  extIo: ExtIoQueue | null = null;
  /** A get waits for reads from flash (memcached's io_queues_submitted): in conn_io_queue until they are back. */
  ioWait = false;
  /** The command read next is one read before, that waited for its reads: its -vv line is not printed again. */
  ioReplay = false;
  /** A gat's or gats's exptime, as store.realtime gave it when the command was read. */
  longGetExptime = 0;

  reqsLeft = 0;
  /** Commands since the last flush point: memcached's resp_head is not empty while there are any. */
  cmdsSinceFlush = 0;
  /** -o read_buf_mem_limit: one of the thread's read buffers is counted as this connection's (rbuf-cache.ts). */
  holdsRbuf = false;
  /** ...and the response object of a command waiting for its value. */
  holdsResp = false;
  /** ...and the response objects of replies its queued writes carry, until the client has read them. */
  respsQueued = 0;
  /** ...and those reserved for the keys of its get line not yet answered (protocol/text/get.ts reserveGetResps). */
  getResps = 0;
  yieldPending = false;
  /**
   * The connection yielded after -R commands with no input left: memcached's stays in conn_new_cmd, keeping its
   * read buffer, until its next read event, which takes it through conn_waiting (the buffer let go) to conn_read.
   */
  yieldedIdle = false;
  /**
   * A yield left input to work off: memcached then waits for the socket to be writable (EV_WRITE, persistent) until
   * the connection is back in conn_waiting, so a later yield with nothing left is woken at once and goes on there.
   */
  writeArmed = false;
  /** The client has sent its last byte (EOF) while commands it sent were still waiting their turn. */
  inputEnded = false;
  writeBlocked = false;
  lastCmdTime = 0;
  authenticated = false;
  /** -Y: bytes of the "user pass\r\n" block still awaited after its `set` line (0: none announced). */
  asciiAuthBytes = 0;
  /** -Y: where the last answer of the authentication exchange lies in the out buffer, while it is the last thing there. */
  authReplyAt = 0;
  authReplyEnd = -1;
  closeReason = '';
  /** memcached's close_reason for the logger's conn_close line (logger.ts CloseReason): error unless said. */
  closeKind = 0;
  /** The peer's address and port, as getpeername said them (the logger's rip/rport). */
  peerAddress = '';
  peerPort = 0;
  /** The long reply being streamed in conn_watch, or null. */
  stream: ReplyStream | null = null;
  /**
   * The stream just ended: memcached hands the connection back to its worker in conn_new_cmd (conn_worker_readd),
   * where `stats conns` sees it until its next read. The next conn_waiting with no input shows that state.
   */
  redispatched = false;
  /** Reply buffers lent to this connection's queued writes (OutBuffer.sent), given back once they are done. */
  readonly lent: ArrayBuffer[] = [];
  /** Protocol-specific scratch (binary header, meta flags), owned by that protocol's module. */
  protoState: unknown = null;
  /** memcached's c->recache_counter: values read back from flash on this connection (-o ext_path's recache). */
  recacheCounter = 0;

  constructor(ctx: WorkerContext) { this.ctx = ctx; this.tokens = ctx.tokens; }

  /** A new connection in this Conn; `bindingProtocol` when its listener names one (-l proto[...]:), else -B's. */
  reset(id: number, io: ConnIo | null, transport: 'tcp' | 'unix' | 'udp', bindingProtocol = this.ctx.settings.protocol): void {
    this.id = id;
    this.io = io;
    this.transport = transport;
    this.udp = null;
    this.state = ConnState.newCmd; // a first state, not a transition: memcached's conn_new prints none either
    this.proto = Proto.negotiating;
    this.bindingProtocol = bindingProtocol;
    this.rbuf = EMPTY;
    this.rpos = this.rend = 0;
    this.item = this.itemAt = this.rlbytes = this.sbytes = 0;
    this.parked = null; // (a closed connection dropped its own: connClose)
    this.fillEnd = 0;
    this.rbufMalloced = false;
    this.longGet = this.longGetKeys = this.longGetExptime = 0;
    this.ioWait = this.ioReplay = false;
    this.noreply = false;
    this.yieldPending = this.yieldedIdle = this.writeArmed = this.writeBlocked = this.authenticated = this.inputEnded = this.valueResumed = this.saslStarted = this.saslDone = this.saslSentLast = false;
    this.saslMech = ''; this.saslContext = null;
    this.cmdsSinceFlush = 0;
    this.asciiAuthBytes = 0;
    this.authReplyAt = 0; this.authReplyEnd = -1;
    this.closeReason = '';
    this.closeKind = 0;
    this.protoState = null;
    this.recacheCounter = 0;
    this.stream = null;
    this.redispatched = false;
    this.lastCmdTime = this.ctx.store.currentTime();
    this.reqsLeft = this.ctx.settings.reqsPerEvent;
  }

  /**
   * memcached's resp_has_stack: an earlier command's response waits in this batch behind the running one, whether
   * it says something or nothing (a noreply's, a quiet miss's): no flush point or yield has sent them yet.
   */
  respHasStack(): boolean { return this.cmdsSinceFlush > 1; }

  /**
   * memcached's flush points (conn_mwrite: a text get's END, mn, a binary error or noop, quit): the replies
   * queued so far are sent, and over UDP those after it are a new batch of responses.
   */
  flushPoint(): void {
    this.commitReplies();
    this.cmdsSinceFlush = 0;
  }

  /**
   * The replies queued so far are sent (no later error takes them back); unlike flushPoint, their commands stay
   * counted in cmdsSinceFlush, for the -R step memcached takes after sending them (see valueEndsRead).
   */
  commitReplies(): void {
    const out = this.ctx.out;
    out.commit();
    if (this.udp !== null) this.udp.flushPoint();
    else this.ctx.stats.row[ThreadStat.bytes_written] += out.uncounted(); // memcached's transmit counts them now
  }

  /**
   * Keep what is unconsumed and add a new chunk. When nothing is pending the chunk itself becomes
   * the read buffer (no copy); otherwise both are gathered into `own`.
   */
  addInput(chunk: Buffer): void {
    const left = this.rend - this.rpos;
    if (left === 0) {
      this.rbuf = chunk;
      this.rpos = 0;
      this.rend = chunk.length;
      this.fillEnd = 0; // nothing was left: memcached's next read starts a buffer (inputArrived may say where)
      return;
    }
    const need = left + chunk.length;
    if (this.rbuf === this.own && this.rpos + need <= this.own.length) {
      chunk.copy(this.own, this.rend);
      this.rend += chunk.length;
      return;
    }
    let own = this.own;
    if (need > own.length) {
      let size = Math.max(own.length * 2, OWN_BUFFER_SIZE);
      while (size < need) size *= 2;
      own = Buffer.allocUnsafe(size);
    }
    this.rbuf.copy(own, 0, this.rpos, this.rend); // copy() handles the overlap when rbuf is own
    chunk.copy(own, left);
    this.own = own;
    this.rbuf = own;
    this.fillEnd -= this.rpos;
    this.rpos = 0;
    this.rend = need;
  }

  /**
   * The worker's shared read buffer now holds n new bytes (the handle's read hook). Parsed in
   * place when nothing was pending; otherwise appended to what was kept.
   */
  addShared(shared: Buffer, n: number): void {
    if (this.rend - this.rpos === 0) {
      this.rbuf = shared;
      this.rpos = 0;
      this.rend = n;
      this.fillEnd = 0;
      return;
    }
    this.addInput(shared.subarray(0, n));
  }

  /** Before the shared read buffer takes the next read: keep what is not consumed in `own`. */
  keepLeftover(shared: Buffer): void {
    if (this.rbuf !== shared) return;
    const left = this.rend - this.rpos;
    if (left === 0) { this.rbuf = EMPTY; this.rpos = this.rend = 0; return; }
    if (left > this.own.length) this.own = Buffer.allocUnsafe(Math.max(left, this.own.length * 2, OWN_BUFFER_SIZE));
    shared.copy(this.own, 0, this.rpos, this.rend);
    this.rbuf = this.own;
    this.fillEnd -= this.rpos;
    this.rpos = 0;
    this.rend = left;
  }

  /**
   * All input worked off (conn_waiting): a buffer that a long partial command grew past its first size is let
   * go, as memcached hands its read buffer back when a connection waits with nothing left. So an idle
   * connection keeps at most OWN_BUFFER_SIZE of input buffer, not the 64 KB a long get line once took.
   */
  shrinkInput(): void {
    if (this.rpos < this.rend || this.own.length <= OWN_BUFFER_SIZE) return;
    if (this.rbuf === this.own) { this.rbuf = EMPTY; this.rpos = this.rend = 0; }
    this.own = EMPTY; // made again when next needed
  }

  /** Drop references to input, and a buffer a large command grew (a pooled Conn keeps at most OWN_BUFFER_SIZE). */
  release(): void {
    if (this.itemAwaitingClose !== 0) { this.ctx.store.itemRelease(this.itemAwaitingClose); this.itemAwaitingClose = 0; }
    this.io = null;
    this.rbuf = EMPTY;
    this.rpos = this.rend = 0;
    if (this.own.length > OWN_BUFFER_SIZE) this.own = EMPTY;
  }
}

/** memcached's freeconns: conn objects of closed connections, reused by new ones. */
export class ConnPool {
  private readonly free: Conn[] = [];
  private declare readonly ctx: WorkerContext;
  created = 0;
  constructor(ctx: WorkerContext) { this.ctx = ctx; }
  take(): Conn {
    const c = this.free.pop();
    if (c) return c;
    this.created++;
    return new Conn(this.ctx);
  }
  give(c: Conn): void { c.release(); this.free.push(c); }
}
