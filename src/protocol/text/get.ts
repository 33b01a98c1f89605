// get / gets / gat / gats: memcached's process_get_command. Keys are read straight from the line
// (memcached re-tokenizes past 24 tokens; scanning the line gives the same result without a limit).

import * as storage from '../../extstore/storage.ts';
import type { Conn } from '../../worker/conn.ts';
import * as replies from '../replies.ts';
import * as threadStats from '../../stats/thread-stats.ts';
import { parseI32Wrapped } from '../numbers.ts';
import { tokStart, tokEnd } from './tokens.ts';
import { outString } from './out-string.ts';
import { connGetRespsRelease, connIoQueue, connRespStart, connWaitForReads } from '../../worker/drive-machine.ts';
import { backlogLimit, connFlushIfLarge } from '../../worker/transmit.ts';
import { putKeyWords, scanKey } from '../../store/hash.ts';
import * as hashModule from '../../store/hash.ts';
import { putUint } from '../../worker/out-buffer.ts';
import * as outBuffer from '../../worker/out-buffer.ts';
import * as storeModule from '../../store/store.ts';
import * as layout from '../../store/layout.ts';
import * as readBufferModule from '../../worker/read-buffer.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ThreadStat, SlabStat, SLAB_FIELDS, THREAD_FIELDS } = threadStats;
const { REPLY } = replies;
const { FetchFailure } = storage;
const { UINT_MAX_DIGITS } = outBuffer;
const { WARM_MAX } = storeModule;
const { KEY_MAX_LENGTH } = layout;
const { KEY_SLOTS, KEY_WORDS, scannedKey } = hashModule;
const { readBuffer } = readBufferModule;

/**
 * A multi-get asks whether its reply is large enough to send (connFlushIfLarge: past 512 KB) each
 * time its copied bytes have grown by this much, or its values sent from their items (attached, which
 * cost a reference, not a copy) by attachChunk. What is sent, a key too long later in the get cannot take
 * back; memcached sends nothing of a get before its end, so below these a reply is dropped as memcached's is.
 * Under -o read_buf_mem_limit attached values are sent by OUT_CHUNK too: that option's response objects are
 * counted on what is sent as the reply grows (reserveGetResps).
 */
const OUT_CHUNK = 256 * 1024;

/**
 * Attached bytes a get collects before it sends them: as much as a connection may have queued (backlogLimit,
 * past which it is hung up on) less one more value and its line, so that a client that does not read is paused
 * (conn_mwrite) and never hung up on for them. 15 MB with -I 1m.
 */
function attachChunk(itemSizeMax: number): number { return backlogLimit(itemSizeMax) - itemSizeMax - 64 * 1024; }

/**
 * get / gets / gat / gats / bget, the line tokenized. (A plain get or gets is taken straight from
 * the line by processGetLine: its keys are all it has.)
 */
export function processGetCommand(c: Conn, buf: Buffer, lineEnd: number, returnCas: boolean, shouldTouch: boolean): void {
  const store = c.ctx.store;
  let exptimeRel = 0;
  let p = tokStart(c, 1);
  if (shouldTouch) {
    const exptime = parseI32Wrapped(buf, tokStart(c, 1), tokEnd(c, 1));
    if (Number.isNaN(exptime)) { outString(c, REPLY.CLIENT_ERROR_EXPTIME); return; }
    exptimeRel = store.realtime(exptime);
    p = tokEnd(c, 1);
  }
  getKeys(c, buf, p, lineEnd, returnCas, shouldTouch, exptimeRel);
}

/**
 * A line starting "get " or "gets ": answered without tokenizing it first (the keys are walked
 * once, here). False when it is not one, or has no key: then the tokenized path answers it.
 */
export function processGetLine(c: Conn, buf: Buffer, s: number, lineEnd: number): boolean {
  if (lineEnd - s < 5 || buf[s] !== 0x67 || buf[s + 1] !== 0x65 || buf[s + 2] !== 0x74) return false; // "get"
  const returnCas = buf[s + 3] === 0x73; // "gets"
  const p = returnCas ? s + 4 : s + 3;
  if (buf[p] !== 0x20) return false;
  let k = p;
  while (k < lineEnd && buf[k] === 0x20) k++;
  if (k === lineEnd) return false; // no key: ERROR, from the tokenized path
  getKeys(c, buf, k, lineEnd, returnCas, false, 0);
  return true;
}

/**
 * Conn.longGet: a get whose line is answered a part at a time (read-command.ts continueLongGet), and which get
 * it is. A line too long to wait for is a get or gets; a get of any kind stopped for a client that is not
 * reading its reply (pauseGet) goes on the same way.
 */
export const LongGet = { none: 0, get: 1, gets: 2, gat: 3, gats: 4, skipToEnd: 5 } as const;

/** The keys of a get from p to the line's end: a VALUE block per hit, then END. */
function getKeys(c: Conn, buf: Buffer, p: number, lineEnd: number, returnCas: boolean, shouldTouch: boolean,
  exptimeRel: number): void {
  if (c.ctx.readBufLimited && !reserveGetResps(c, buf, p, lineEnd, shouldTouch, exptimeRel)) return;
  const keys = lookupKeys(c, buf, p, lineEnd, returnCas, shouldTouch, exptimeRel, 0);
  if (keys < 0) return;
  if (pausedAt >= 0) { pauseGet(c, keys, returnCas, shouldTouch, exptimeRel); return; }
  c.ctx.out.bytes(REPLY.END);
  if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} END`); // once a get, after its keys, as memcached's
  c.flushPoint(); // memcached sends a get's reply before it parses the next command (conn_mwrite)
}

/**
 * The client is not reading this get's reply fast enough (its writes backed up past the high-water mark): the
 * get stops before its next key, which lookupKeys left in pausedAt, and goes on from there once the client has
 * read (the connection waits in conn_mwrite, as memcached's does). The rest of the line stays in the input and
 * is answered as a long get line is. memcached holds a reference per key instead and sends from the items;
 * Cachalot copies most values, so it makes no more of the reply than the client takes. (Under -o read_buf_mem_limit
 * the keys not yet answered keep the response objects taken for them: reserveGetResps.)
 */
function pauseGet(c: Conn, keys: number, returnCas: boolean, shouldTouch: boolean, exptimeRel: number): void {
  c.rpos = takePausedAt();
  c.longGet = shouldTouch ? (returnCas ? LongGet.gats : LongGet.gat) : (returnCas ? LongGet.gets : LongGet.get);
  c.longGetKeys = keys;
  c.longGetExptime = exptimeRel;
}

/**
 * Part of a get answered a part at a time (read-command.ts continueLongGet): the VALUE blocks of the keys in
 * buf[p, end), all of them complete. How many keys, or -1 once the get is over (a key too long, answered).
 * When the client stopped reading, the keys answered before the pause, and takePausedAt() says where it is.
 */
export function getLineKeys(c: Conn, buf: Buffer, p: number, end: number): number {
  const mode = c.longGet;
  const touch = mode === LongGet.gat || mode === LongGet.gats;
  return lookupKeys(c, buf, p, end, mode === LongGet.gets || mode === LongGet.gats, touch, c.longGetExptime,
    c.longGetKeys);
}

/** Where lookupKeys stopped for a client that is not reading (the next key's offset in the input), or -1. */
let pausedAt = -1;

/** Where the get was paused (-1: it was not); the pause is then the caller's to keep. */
export function takePausedAt(): number {
  const at = pausedAt;
  pausedAt = -1;
  return at;
}

/** A long get line's end: END, or ERROR if it named no key at all, as `get` alone gets. */
export function getLineEnd(c: Conn, keys: number): void {
  c.ctx.out.bytes(keys === 0 ? REPLY.ERROR : REPLY.END);
  if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} ${keys === 0 ? 'ERROR' : 'END'}`);
  c.flushPoint();
}

/**
 * The VALUE blocks of the keys in buf[p, lineEnd): how many keys, or -1 (a key too long: answered; or the client
 * gone). `before` keys of this get were answered before p. A client whose writes back up stops the get at the
 * next key (pausedAt).
 */
function lookupKeys(c: Conn, buf: Buffer, p: number, lineEnd: number, returnCas: boolean, shouldTouch: boolean,
  exptimeRel: number, before: number): number {
  const out = c.ctx.out;
  const store = c.ctx.store;
  let keys = 0;
  // how much was pending when this command's reply started, or was last sent: copied, and attached
  let markCopied = out.pos, markAttached = out.size() - out.pos;
  store.extFetched = 0;
  const attachLimit = attachChunk(c.ctx.settings.itemSizeMax);
  // Read once per command, not per key: -v lines are diagnostics, and a `verbosity` sent meanwhile on
  // another connection is not ordered against this command's keys anyway.
  const verbose = c.ctx.verbosity() > 1;
  let udpKeys = 0;
  const limited = c.ctx.readBufLimited;
  const reads = connIoQueue(c); // values on flash are read by IO threads while the connection waits
  c.udp?.keepLastEmpty(); // the command's own response is its first key's
  while (p < lineEnd) {
    const n = scanBatch(buf, p, lineEnd);
    p = batchEnd;
    if (n > 1) warmSink ^= store.warmLookups(batchHashes, n);
    for (let i = 0; i < n; i++) {
      const ks = batchKeys[i * 2], nkey = batchKeys[i * 2 + 1];
      if (nkey > KEY_MAX_LENGTH) {
        // memcached stops at this key (the ones before it were looked up and counted) and answers the error.
        stopGet(c);
        outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT);
        return -1;
      }
      keys++;
      if (limited && before + keys > 1 && !getRespStart(c)) return getOutOfResponses(c);
      if (reads !== null && store.extQueueIfOnFlash(reads, buf, ks, nkey, batchHashes[i])) {
        // the get waits here for the read, with those of the batch's later keys on flash (read at the same time,
        // as memcached submits a get's reads together), and goes on from this key once they are back
        for (let j = i + 1; j < n; j++) {
          const later = batchKeys[j * 2 + 1];
          if (later <= KEY_MAX_LENGTH) store.extQueueIfOnFlash(reads, buf, batchKeys[j * 2], later, batchHashes[j]);
        }
        connWaitForReads(c, -1);
        pausedAt = ks;
        return keys - 1;
      }
      if (c.udp !== null && udpKeys++ > 0) c.udp.respStart(out.pos, true); // over UDP each key after the first is a response
      if (!getOneKey(c, buf, ks, nkey, batchHashes[i], i * KEY_WORDS, returnCas, shouldTouch, exptimeRel, verbose)) {
        // memcached's get_oom_extstore: the get stops, its replies dropped, and the error answers instead
        stopGet(c);
        outString(c, REPLY.SERVER_ERROR_GET_NO_MEMORY);
        return -1;
      }
      // (over UDP not after the last key: END belongs to its response, which a flush would send without it)
      if ((out.pos - markCopied > OUT_CHUNK || out.size() - out.pos - markAttached > (limited ? OUT_CHUNK : attachLimit))
        && (c.udp === null || i + 1 < n || p < lineEnd)) {
        if (!connFlushIfLarge(c)) return -1;
        store.extFetched = 0; // what was read back from flash is sent (or will be): no longer to be aborted
        markCopied = out.pos;
        markAttached = out.size() - out.pos;
        if (c.writeBlocked) {
          const next = i + 1 < n ? batchKeys[(i + 1) * 2] : p;
          if (next < lineEnd) { pausedAt = next; return keys; }
        }
      }
    }
  }
  return keys;
}

/**
 * -o read_buf_mem_limit: memcached takes a response object for each key after the first as it looks the keys up,
 * and sends nothing of the get before its END. Cachalot sends a large reply as it grows and pauses the get for a
 * client that does not read it (pauseGet), so it takes the objects of the whole line before its first key, and the
 * connection holds those of the keys not yet answered (Conn.getResps) until it answers them, as memcached's waits
 * in conn_mwrite with all of them. With too few left the get is refused as memcached's is (refuseGet): false.
 */
function reserveGetResps(c: Conn, buf: Buffer, p: number, lineEnd: number, shouldTouch: boolean,
  exptimeRel: number): boolean {
  const wanted = countKeys(buf, p, lineEnd) - 1;
  if (wanted <= 0) return true;
  const got = c.ctx.rbufCache.respReserve(wanted);
  if (got === wanted) { c.getResps = wanted; return true; }
  refuseGet(c, buf, p, lineEnd, got + 1, shouldTouch, exptimeRel);
  return false;
}

/**
 * The keys of a get line, up to and including a key too long (where the get stops), scanned in batches as the
 * lookups will scan them (only under the limit: the batch's hashes are made and not used).
 */
function countKeys(buf: Buffer, p: number, lineEnd: number): number {
  let n = 0;
  for (;;) {
    const k = scanBatch(buf, p, lineEnd);
    n += k;
    if (k < BATCH || batchKeys[(k - 1) * 2 + 1] > KEY_MAX_LENGTH) return n;
    p = batchEnd;
  }
}

/** The object of a get's key after the first: reserved with its line, or taken now (a long line, answered as it comes). */
function getRespStart(c: Conn): boolean {
  if (c.getResps === 0) return c.ctx.rbufCache.respStart();
  c.getResps--;
  c.ctx.rbufCache.respResume();
  return true;
}

/**
 * A get whose objects ran out after `lookups` keys: memcached looks those up (counted, bumped, touched), then
 * drops their replies with every one not yet sent and answers the error. Nothing of them is made here.
 */
function refuseGet(c: Conn, buf: Buffer, p: number, lineEnd: number, lookups: number, shouldTouch: boolean,
  exptimeRel: number): void {
  const verbose = c.ctx.verbosity() > 1;
  while (lookups > 0) {
    const n = Math.min(scanBatch(buf, p, lineEnd), lookups);
    if (n === 0) break; // (never: fewer lookups than keys)
    p = batchEnd;
    for (let i = 0; i < n; i++) {
      peekOneKey(c, buf, batchKeys[i * 2], batchKeys[i * 2 + 1], batchHashes[i], shouldTouch, exptimeRel, verbose);
    }
    lookups -= n;
  }
  getOutOfResponses(c);
}

/**
 * process_get_command's `stop:` for a get that ends in an error: -vv says END, as after every get, and every response
 * not yet sent is dropped (this command's and those queued before it); the caller then answers the error.
 */
function stopGet(c: Conn): void {
  if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} END`);
  const store = c.ctx.store;
  if (store.extFetched !== 0) { // values read back from flash and now never sent: memcached's aborted reads
    c.ctx.stats.row[ThreadStat.get_aborted_extstore] += store.extFetched;
    store.extFetched = 0;
  }
  c.ctx.out.dropUncommitted();
  if (c.getResps > 0) connGetRespsRelease(c);
  c.udp?.truncated(c.ctx.out.pos);
}

/**
 * With no response object left, memcached stops at the key, drops every response not yet sent, as for a key too
 * long, and answers the error instead.
 */
function getOutOfResponses(c: Conn): number {
  c.ctx.stats.row[ThreadStat.response_obj_oom]++;
  stopGet(c);
  if (!connRespStart(c)) return -1; // dropping freed this batch's: only objects other connections hold can fill it
  outString(c, REPLY.SERVER_ERROR_GET_NO_MEMORY);
  return -1;
}

/** A multi-get's keys are looked up in batches, each batch's memory warmed first (Store.warmLookups). */
const BATCH = Math.min(WARM_MAX, KEY_SLOTS);
/** The batch: start and length of each key in the line... */
const batchKeys = new Int32Array(BATCH * 2);
/** ...and its hash. */
const batchHashes = new Int32Array(BATCH);
/** Where scanBatch stopped. */
let batchEnd = 0;
/** Keeps warmLookups' loads alive. */
let warmSink = 0;

/**
 * Up to BATCH keys from p into batchKeys and batchHashes (a key too long ends the batch: the get
 * stops there); answers how many, and leaves where it stopped in batchEnd.
 */
function scanBatch(buf: Buffer, p: number, lineEnd: number): number {
  let n = 0;
  while (n < BATCH) {
    while (p < lineEnd && buf[p] === 0x20) p++;
    if (p >= lineEnd) break;
    const ks = p;
    // the worker's read buffer as this module's const: scanned with its address built in (read-buffer.ts)
    p = buf === readBuffer ? scanKey(readBuffer, p, lineEnd, n * KEY_WORDS) : scanKey(buf, p, lineEnd, n * KEY_WORDS);
    batchKeys[n * 2] = ks;
    batchKeys[n * 2 + 1] = p - ks;
    batchHashes[n] = scannedKey.hv;
    n++;
    if (p - ks > KEY_MAX_LENGTH) break;
  }
  batchEnd = p;
  return n;
}

/** memcached counts a get in cmd_get, a gat in cmd_touch only. */
function countMiss(c: Conn, shouldTouch: boolean): void {
  const row = c.ctx.stats.row;
  if (shouldTouch) { row[ThreadStat.touch_cmds]++; row[ThreadStat.touch_misses]++; }
  else { row[ThreadStat.get_cmds]++; row[ThreadStat.get_misses]++; }
}

/**
 * One key of a get: its VALUE block is written while the item lock is held (itemPeek), so no
 * reference is taken for it unless a large value is sent from the item's memory.
 */
function getOneKey(c: Conn, buf: Buffer, ks: number, nkey: number, hv: number, words: number, returnCas: boolean,
  shouldTouch: boolean, exptimeRel: number, verbose: boolean): boolean {
  const ctx = c.ctx;
  const store = ctx.store;
  let hit = false;
  try {
    const it = store.itemPeekHashed(buf, ks, nkey, hv, shouldTouch ? exptimeRel : -1, words);
    if (it !== 0) {
      hit = true;
      const row = ctx.stats.row;
      row[shouldTouch ? ThreadStat.touch_cmds : ThreadStat.get_cmds]++;
      row[THREAD_FIELDS + store.itemClsid(it) * SLAB_FIELDS + (shouldTouch ? SlabStat.touch_hits : SlabStat.get_hits)]++;
      writeValue(c, buf, ks, nkey, words, it, returnCas, verbose);
    }
  } finally {
    store.itemPeekDone();
    store.extDone(c);
  }
  if (!hit && store.extFailed !== FetchFailure.NONE) { // a value on flash that could not be read back
    if (store.takeFetchFailure() === FetchFailure.OOM) return false; // no memory for it: the get fails
    hit = true; // its object is gone: memcached counted the hit, and leaves out its VALUE
    flashMissHit(c, shouldTouch);
  }
  if (ctx.prefixStats.enabled()) ctx.prefixStats.recordGet(buf, ks, nkey, hit);
  if (!hit) countMiss(c, shouldTouch);
  return true;
}

/** A get whose value on flash was gone: counted as the hit memcached had counted before its read failed. */
function flashMissHit(c: Conn, shouldTouch: boolean): void {
  const store = c.ctx.store, row = c.ctx.stats.row;
  row[shouldTouch ? ThreadStat.touch_cmds : ThreadStat.get_cmds]++;
  row[THREAD_FIELDS + (store.extMissLruId & 63) * SLAB_FIELDS + (shouldTouch ? SlabStat.touch_hits : SlabStat.get_hits)]++;
  if (!shouldTouch) store.countFlashMissHit();
}

/**
 * A key of a get refused for want of response objects (refuseGet): looked up and counted as getOneKey does, with no
 * reply. (The counting is copied rather than shared: getOneKey, on every get's path, stays as it is.)
 */
function peekOneKey(c: Conn, buf: Buffer, ks: number, nkey: number, hv: number, shouldTouch: boolean,
  exptimeRel: number, verbose: boolean): void {
  const store = c.ctx.store;
  let hit = false;
  try {
    const it = store.itemPeekHashed(buf, ks, nkey, hv, shouldTouch ? exptimeRel : -1);
    if (it !== 0) {
      hit = true;
      const row = c.ctx.stats.row;
      row[shouldTouch ? ThreadStat.touch_cmds : ThreadStat.get_cmds]++;
      row[THREAD_FIELDS + store.itemClsid(it) * SLAB_FIELDS + (shouldTouch ? SlabStat.touch_hits : SlabStat.get_hits)]++;
      if (verbose) c.ctx.log(`>${c.id} sending key ${buf.toString("latin1", ks, ks + nkey)}`);
    }
  } finally {
    store.itemPeekDone();
    store.extDone(c);
    store.takeFetchFailure(); // a refused get's key: no reply either way
  }
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordGet(buf, ks, nkey, hit);
  if (!hit) countMiss(c, shouldTouch);
}

/**
 * Values this big are sent from the item's memory instead of copied. Below it a copy costs less:
 * a writev of views with a reference held per value cost more than copying 16 KB (bench W4, six
 * runs each way: 1.50x -> 1.37x memcached's CPU per request), and at 64 KB the two were even.
 */
const ATTACH_MIN = 64 * 1024;
/** A VALUE line's bytes beside the key: "VALUE " + " flags" + " bytes" + " cas" + "\r\n", numbers at their longest. */
const VALUE_LINE_MAX = 6 + 1 + UINT_MAX_DIGITS + 1 + UINT_MAX_DIGITS + 1 + UINT_MAX_DIGITS + 2;

/**
 * "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n" (item lock held). A large value is attached
 * to the reply with a reference of its own (see OutBuffer.attach), released once it is written.
 */
function writeValue(c: Conn, buf: Buffer, ks: number, nkey: number, words: number, it: number, returnCas: boolean,
  verbose: boolean): void {
  const out = c.ctx.out;
  const store = c.ctx.store;
  const nbytes = store.itemNbytes(it);
  // One reserve for the line (and a value that will be copied): the bytes are then stored straight
  // into the buffer, instead of a bounds check and a call per piece.
  out.reserve(VALUE_LINE_MAX + nkey + (nbytes < ATTACH_MIN ? nbytes : 0));
  const b = out.buf;
  let p = out.pos;
  b[p] = 0x56; b[p + 1] = 0x41; b[p + 2] = 0x4c; b[p + 3] = 0x55; b[p + 4] = 0x45; b[p + 5] = 0x20; // "VALUE "
  // The key from the words scanKey made of the request's (the same bytes as the item's: the lookup compared them).
  putKeyWords(out.view, p + 6, words, nkey);
  p += 6 + nkey;
  b[p++] = 0x20;
  p = putUint(b, p, store.itemFlags(it));
  b[p++] = 0x20;
  p = putUint(b, p, nbytes - 2);
  if (returnCas) { b[p++] = 0x20; p = putUint(b, p, store.itemCas(it)); }
  b[p] = 0x0d; b[p + 1] = 0x0a;
  out.pos = p + 2;
  if (verbose) c.ctx.log(`>${c.id} sending key ${buf.toString("latin1", ks, ks + nkey)}`);
  if (nbytes >= ATTACH_MIN) {
    if (c.io !== null) {
      // a view per piece (a chained item's value lies in its chunks), each with a reference of its own
      const owner = store.valueOwner(it); // a value read back from flash lives in an item of its own
      for (let at = 0; at < nbytes;) {
        const view = store.itemValueView(it, at, nbytes - at);
        store.itemHold(owner);
        out.attach(view, owner);
        at += view.length;
      }
      return;
    }
    out.reserve(nbytes);
  }
  out.pos += store.itemCopyValue(it, out.buf, out.pos, 0, nbytes);
}
