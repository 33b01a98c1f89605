// The key listings: `lru_crawler metadump` (every live item, one line each, streamed while the connection waits
// in conn_watch, as memcached's crawler writes it) and `stats cachedump <class> <limit>` (the head of one
// class's COLD LRU, one reply of at most 2 MB). Formats are memcached 1.6.18's, byte for byte.

import type { Conn, ReplyStream, StreamStepValue } from '../../worker/conn.ts';
import { StreamStep } from '../../worker/conn.ts';
import type { OutBuffer } from '../../worker/out-buffer.ts';
import type { Store } from '../../store/store.ts';
import { connStartStream } from '../../worker/drive-machine.ts';
import { cachedump, LiveItemWalk } from '../../store/dump.ts';
import { itemNtotal } from '../../store/lru.ts';
import { F, FG, MAX_CLASSES } from '../../store/layout.ts';
import { writeErr } from '../../libc/stdio.ts';
import { REPLY } from '../replies.ts';
import { safeStrtoul } from '../../settings/c-numbers.ts';
import { tok } from './tokens.ts';
import { outString } from './out-string.ts';
import { uriEncodeInto } from '../uriencode.ts';

const L = (s: string): Buffer => Buffer.from(s);
const T = {
  key: L('key='), exp: L(' exp='), la: L(' la='), cas: L(' cas='), fetchYes: L(' fetch=yes'), fetchNo: L(' fetch=no'),
  cls: L(' cls='), size: L(' size='), item: L('ITEM '), b: L(' b; '), s: L(' s]\r\n'),
} as const;

/**
 * Chunks looked at per step, and the output a step stops at: a step takes a worker well under a millisecond,
 * so its other connections wait no longer than behind one large multi-get.
 */
const CHUNKS_PER_STEP = 1024;
const STEP_BYTES = 64 * 1024;

class Metadump implements ReplyStream {
  private declare readonly walk: LiveItemWalk;
  private declare readonly out: OutBuffer;
  private declare readonly store: Store;
  private readonly line = (it: number): void => metadumpLine(this.out, this.store, it);
  private holdsCrawler = true;

  /**
   * A connection stays with its worker, so the worker's out buffer and store are its for good. The caller has
   * claimed the crawler (Store.claimCrawler) for this listing, which gives it back when done or aborted.
   */
  constructor(c: Conn, classes: Uint8Array, byHash: boolean) {
    this.walk = new LiveItemWalk(classes, !byHash); // memcached's hash walk counts no class's checks
    this.out = c.ctx.out;
    this.store = c.ctx.store;
  }

  readonly readsInput = false;

  step(): StreamStepValue {
    const out = this.out, store = this.store;
    for (let chunks = 0; out.size() < STEP_BYTES && chunks < 16 * CHUNKS_PER_STEP; chunks += CHUNKS_PER_STEP) {
      if (!this.walk.next(store, CHUNKS_PER_STEP, this.line)) {
        out.bytes(REPLY.END);
        this.releaseCrawler();
        return StreamStep.done;
      }
    }
    return StreamStep.more;
  }

  abort(): void { this.releaseCrawler(); }

  private releaseCrawler(): void {
    if (!this.holdsCrawler) return;
    this.holdsCrawler = false;
    if (this.store.verbosity() > 2) writeErr('LRU crawler thread sleeping\n'); // as after memcached's every walk
    this.store.releaseCrawler();
  }
}

/**
 * `lru_crawler metadump`, the crawler claimed for it: a crawler run (lru_crawler_starts) that lists instead of
 * reclaiming; its END follows the last item.
 */
export function startMetadump(c: Conn, classes: Uint8Array, byHash: boolean): void {
  c.ctx.store.cf[F.glob + FG.crawlerStarts]++;
  connStartStream(c, new Metadump(c, classes, byHash));
}

/** key=<uriencoded> exp=<unix or -1> la=<unix> cas=<n> fetch=<yes|no> cls=<id> size=<ITEM_ntotal>\n */
function metadumpLine(out: OutBuffer, st: Store, it: number): void {
  const started = st.processStarted(), nkey = st.itemNkey(it), keyOff = st.itemKeyOffset(it), a8 = st.a8;
  out.bytes(T.key);
  uriEncodeInto(out, a8, keyOff, nkey);
  const exp = st.itemExptime(it);
  out.bytes(T.exp);
  out.int(exp === 0 ? -1 : exp + started);
  out.bytes(T.la);
  out.uint(st.itemTime(it) + started);
  out.bytes(T.cas);
  out.uint(st.itemCas(it));
  out.bytes(st.itemFetched(it) ? T.fetchYes : T.fetchNo);
  out.bytes(T.cls);
  out.uint(st.itemClsid(it));
  out.bytes(T.size);
  out.uint(itemNtotal(st.a32, it));
  out.byte(0x0a);
}

// ---- stats cachedump ----

const CACHEDUMP_MAX_BYTES = 2 * 1024 * 1024; // memcached's memlimit, "END\r\n" included
const CACHEDUMP = {
  NOT_ALLOWED: L('CLIENT_ERROR stats cachedump not allowed\r\n'),
  BAD_LINE: L('CLIENT_ERROR bad command line\r\n'),
  ILLEGAL_ID: L('CLIENT_ERROR Illegal slab id\r\n'),
} as const;

/** `stats cachedump <class> <limit>`: ITEM <key> [<bytes> b; <exptime> s] lines, then END. */
export function processCachedump(c: Conn, buf: Buffer, ntokens: number): void {
  const out = c.ctx.out, st = c.ctx.store;
  if (!c.ctx.settings.dumpEnabled) { outString(c, CACHEDUMP.NOT_ALLOWED); return; }
  if (ntokens < 5) { outString(c, CACHEDUMP.BAD_LINE); return; }
  const id = safeStrtoul(tok(c, buf, 2));
  const limit = safeStrtoul(tok(c, buf, 3));
  if (id < 0 || limit < 0) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  if (id >= MAX_CLASSES) { outString(c, CACHEDUMP.ILLEGAL_ID); return; }
  const start = out.size();
  let shown = 0;
  cachedump(st, id, (it) => {
    if (limit !== 0 && shown >= limit) return false;
    const lineStart = out.size();
    cachedumpLine(out, st, it);
    if (out.size() - start + REPLY.END.length + 1 > CACHEDUMP_MAX_BYTES) { out.truncate(lineStart); return false; }
    shown++;
    return true;
  });
  out.bytes(REPLY.END);
}

/** The key is printed as C prints it (%s): up to its first NUL byte. */
function cachedumpLine(out: OutBuffer, st: Store, it: number): void {
  const nkey = st.itemNkey(it), keyOff = st.itemKeyOffset(it), a8 = st.a8;
  out.bytes(T.item);
  for (let i = 0; i < nkey && a8[keyOff + i] !== 0; i++) out.byte(a8[keyOff + i]);
  out.space();
  out.byte(0x5b); // [
  out.int(st.itemNbytes(it) - 2);
  out.bytes(T.b);
  const exp = st.itemExptime(it);
  out.uint(exp === 0 ? 0 : exp + st.processStarted());
  out.bytes(T.s);
}
