// ms: memcached's process_mset_command (parse, allocate, let conn_nread fill the item) and
// _finalize_mset (store it, answer). What the reply will echo (O, k, c in request order) is noted
// in the connection's stash meanwhile, as memcached notes it at the front of its write buffer.

import type { Conn } from '../../worker/conn.ts';
import type { Store } from '../../store/store.ts';
import * as connModule from '../../worker/conn.ts';
import { connSetState, connStartNread } from '../../worker/drive-machine.ts';
import * as replies from '../replies.ts';
import * as threadStats from '../../stats/thread-stats.ts';
import * as results from '../../store/results.ts';
import { CAS_NEXT, doItemGetUnlogged, logItemGet } from '../../store/items.ts';
import { logItemStore } from '../../store/store-item.ts';
import * as layout from '../../store/layout.ts';
import * as logger from '../../logger/logger.ts';
import { parseI32Wrapped } from '../numbers.ts';
import { itemSizeOk } from '../item-size.ts';
import { countCas } from '../cas-counters.ts';
import { failedAlloc, failedAllocError } from '../failed-alloc.ts';
import { outOfMemoryInRead } from '../text/update.ts';
import { mf, MFLAG_MAX_OPT_LENGTH, MFLAG_MAX_OPAQUE_LENGTH } from './flags.ts';
import { outErrstring, outString } from '../text/out-string.ts';
import { CODE, ERR, code, itemKey, metaChar } from './reply.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ConnState, NREAD_META } = connModule;
const { REPLY } = replies;
const { SlabStat } = threadStats;
const { StoreOp, StoreResult, AllocError } = results;
type StoreOp = results.StoreOp;
type StoreResult = results.StoreResult;
const { G, ITEM_HEADER, KEY_MAX_LENGTH } = layout;
const { LogFlag, LOOKUPS_LOGGED } = logger;

const INT_MAX = 0x7fffffff;
const STASH_SIZE = 1024; // 20 tokens, an opaque of at most 32 bytes: far less

/** What an ms keeps between its command line and its value (memcached: c->mset_res, c->set_stale, wbuf). */
export class MetaConnState {
  readonly stash = Buffer.allocUnsafe(STASH_SIZE);
  stashLen = 0;
  setStale = false;
  newCas = CAS_NEXT; // E: the stored item's CAS (memcached's cas_in)
}

export function metaState(c: Conn): MetaConnState {
  let ms = c.protoState;
  if (!(ms instanceof MetaConnState)) { ms = new MetaConnState(); c.protoState = ms; }
  return ms as MetaConnState;
}

export function processMsetCommand(c: Conn, buf: Buffer, ntokens: number): void {
  if (ntokens < 3) { outString(c, REPLY.ERROR); return; }
  if (c.tokens[3] - c.tokens[2] > KEY_MAX_LENGTH || ntokens === 3) { outErrstring(c, ERR.BAD_FORMAT); return; }
  if (ntokens > MFLAG_MAX_OPT_LENGTH) { outErrstring(c, ERR.FLAGS_TOO_LONG); return; }
  let vlen = parseI32Wrapped(buf, c.tokens[4], c.tokens[5]);
  if (Number.isNaN(vlen) || vlen < 0 || vlen > INT_MAX - 2) { outErrstring(c, ERR.BAD_FORMAT); return; }
  vlen += 2;
  const st = c.ctx.store;
  // From here on an error swallows the value, so the data line is not read as a command.
  if (!mf.preparse(c, buf, 3, ntokens, st)) { msetError(c, mf.errstr, vlen); return; }
  c.noreply = mf.noReply;
  const state = metaState(c);
  let err = stashReplyFlags(c, buf, ntokens, state);
  const op = storeOp(mf.mode);
  if (op === 0) err = ERR.MS_MODE;
  if (err !== null) { msetError(c, err, vlen); return; }
  allocate(c, buf, st, op as StoreOp, vlen, state); // not 0: that set err
}

/** Note O, k and c in request order (memcached's loop over the tokens, from the length token on). */
function stashReplyFlags(c: Conn, buf: Buffer, ntokens: number, state: MetaConnState): Buffer | null {
  const t = c.tokens;
  const stash = state.stash;
  let p = 0;
  let err: Buffer | null = null;
  for (let i = 2; i < ntokens - 1; i++) {
    const s = t[i * 2], e = t[i * 2 + 1];
    switch (buf[s]) {
      case 0x4f: // O
        if (e - s > MFLAG_MAX_OPAQUE_LENGTH) { err = ERR.OPAQUE_TOO_LONG; break; }
        stash[p++] = 0x20;
        buf.copy(stash, p, s, e);
        p += e - s;
        break;
      case 0x6b: stash[p++] = 0x20; stash[p++] = 0x6b; break; // k
      case 0x63: stash[p++] = 0x20; stash[p++] = 0x63; break; // c
    }
  }
  state.stashLen = p;
  return err;
}

/** M: the mode switch; a C upgrades set and replace to a CAS store. 0 for an unknown mode. */
function storeOp(mode: number): StoreOp | 0 {
  let op: StoreOp;
  switch (mode) {
    case 0: case 0x53: op = StoreOp.SET; break;    // S
    case 0x45: op = StoreOp.ADD; break;            // E
    case 0x41: op = StoreOp.APPEND; break;         // A
    case 0x50: op = StoreOp.PREPEND; break;        // P
    case 0x52: op = StoreOp.REPLACE; break;        // R
    default: return 0;
  }
  if (mf.hasCas && (op === StoreOp.SET || op === StoreOp.REPLACE)) op = StoreOp.CAS;
  return op;
}

function allocate(c: Conn, buf: Buffer, st: Store, op: StoreOp, vlen: number, state: MetaConnState): void {
  const ks = c.tokens[2], nkey = c.tokens[3] - ks;
  const fits = itemSizeOk(c.ctx.settings, nkey, mf.clientFlags, vlen);
  const it = fits ? st.itemAlloc(buf, ks, nkey, mf.clientFlags, mf.exptime, vlen) : 0;
  if (it === 0) {
    const error = failedAllocError(c, fits);
    if (error === AllocError.NO_MEMORY_IN_READ) { outOfMemoryInRead(c, vlen); return; } // q hides it
    // memcached: a failed store must not leave the old value readable, whatever the mode. It unlinks before it
    // answers (the reverse of a text set), so -vvv's lookup line comes before the error's.
    failedAlloc(c, buf, ks, nkey, error, op, /* counted */ true, /* unlinkOld */ true);
    msetError(c, error === AllocError.NO_MEMORY ? ERR.NO_MEMORY : ERR.TOO_LARGE, vlen);
    return;
  }
  if (mf.keyBinary) st.itemSetKeyBinary(it, true);
  state.setStale = mf.setStale && op === StoreOp.CAS;
  state.newCas = mf.newCas();
  connStartNread(c, it, vlen, op, mf.hasCas ? mf.reqCasId : 0, NREAD_META);
}

/** Errors always reach the client (memcached's out_errstring), and the value is skipped. */
function msetError(c: Conn, err: Buffer, vlen: number): void {
  outErrstring(c, err);
  c.sbytes = vlen;
  connSetState(c, ConnState.swallow);
}

/** The value is in: memcached's complete_nread_ascii for an ms, then _finalize_mset. */
export function completeNreadMeta(c: Conn): void {
  const st = c.ctx.store;
  const state = metaState(c);
  const it = c.item;
  c.item = 0;
  try {
    c.ctx.stats.slab(st.itemClsid(it), SlabStat.set_cmds);
    if (!st.itemValueEndsWithCrlf(it)) { outErrstring(c, ERR.BAD_CHUNK); return; }
    const ret = storeItemMeta(c, st, it, c.storeOp, c.casIn, state);
    finalizeMset(c, st, it, ret, ret === StoreResult.STORED ? st.lastCas : 0, state);
  } finally {
    state.setStale = false;
    state.newCas = CAS_NEXT;
    st.itemRelease(it);
  }
}

/**
 * store_item with ms's extra CAS mode: with I, a CAS older than the item's replaces it anyway but
 * the new item is stale (keeping the old TTL and whether a win token was sent). Either way the
 * stored item's CAS is E's when given (state.newCas).
 */
function storeItemMeta(c: Conn, st: Store, it: number, op: StoreOp, casIn: number, state: MetaConnState): StoreResult {
  const hv = st.hash(st.a8, it * 8 + ITEM_HEADER, st.itemNkey(it));
  let ret: StoreResult | 0;
  st.itemLock(hv);
  try {
    ret = state.setStale ? doStoreStale(st, it, hv, casIn, state.newCas) : 0;
    if (ret === 0) ret = st.doStoreItem(it, op, hv, casIn, state.newCas);
  } finally { st.itemUnlock(hv); }
  st.maybeExpand();
  if (op === StoreOp.CAS) countCas(c, ret, casIn);
  return ret;
}

/** memcached's CAS_STALE branch of do_store_item; 0 when the CAS is not a stale one. */
function doStoreStale(st: Store, it: number, hv: number, casIn: number, newCas: number): StoreResult | 0 {
  // unlogged: when this is no stale store, doStoreItem looks again, and logs, as memcached's one look
  const old = doItemGetUnlogged(st, st.a8, it * 8 + ITEM_HEADER, st.itemNkey(it), hv);
  if (old === 0) return 0;
  try {
    const oldCas = st.itemCas(old);
    if (!st.useCas || casIn === 0 || casIn >= oldCas) return 0;
    st.lastClsid = st.itemClsid(old);
    if ((st.c32[G.watchMask] & LOOKUPS_LOGGED) !== 0) logItemGet(st, old, st.a8, it * 8 + ITEM_HEADER, st.itemNkey(it));
    if ((st.c32[G.watchMask] & LogFlag.MUTATIONS) !== 0) logItemStore(st, it, StoreOp.CAS, StoreResult.STORED);
    st.itemSetExptime(it, st.itemExptime(old));
    st.itemSetStale(it, true);
    if (st.itemTokenSent(old)) st.itemSetTokenSent(it, true);
    st.doItemReplace(old, it, hv, newCas);
    st.lastCas = st.itemCas(it);
    return StoreResult.STORED;
  } finally { st.itemRelease(old); }
}


function finalizeMset(c: Conn, st: Store, it: number, ret: StoreResult, cas: number, state: MetaConnState): void {
  const out = c.ctx.out;
  const mark = out.pos;
  switch (ret) {
    case StoreResult.STORED: code(out, CODE.HD); break;
    case StoreResult.EXISTS: code(out, CODE.EX); break;
    case StoreResult.NOT_FOUND: code(out, CODE.NF); break;
    case StoreResult.NOT_STORED: code(out, CODE.NS); break;
    default: outErrstring(c, ERR.UNHANDLED); return;
  }
  const stash = state.stash;
  const end = state.stashLen;
  for (let p = 0; p < end; p++) {
    switch (stash[p]) {
      case 0x4f: { // O: the opaque token, up to the next space
        const s = p;
        while (p < end && stash[p] !== 0x20) p++;
        out.space();
        out.copyFrom(stash, s, p - s);
        break;
      }
      case 0x6b: itemKey(out, st, it, true); break;
      case 0x63: metaChar(out, 0x63); out.uint(cas); break;
    }
  }
  out.crlf();
  // q hides only a nominal result: HD.
  if (ret === StoreResult.STORED && c.noreply) out.truncate(mark);
}
