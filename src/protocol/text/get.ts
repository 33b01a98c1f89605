// get / gets / gat / gats: memcached's process_get_command. Keys are read straight from the line
// (memcached re-tokenizes past 24 tokens; scanning the line gives the same result without a limit).

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { parseI32Wrapped } from '../numbers.ts';
import { tokStart, tokEnd } from './tokens.ts';
import { connFlushIfLarge } from '../../worker/drive-machine.ts';

export const KEY_MAX_LENGTH = 250;
/** A multi-get's reply goes out in pieces past this (the key-too-long rule then cannot take it back). */
const OUT_CHUNK = 256 * 1024;

export function processGetCommand(c: Conn, buf: Buffer, lineEnd: number, returnCas: boolean, shouldTouch: boolean): void {
  const out = c.ctx.out;
  const store = c.ctx.store;
  let exptimeRel = 0;
  let p = tokStart(c, 1);
  if (shouldTouch) {
    const exptime = parseI32Wrapped(buf, tokStart(c, 1), tokEnd(c, 1));
    if (Number.isNaN(exptime)) { out.bytes(REPLY.CLIENT_ERROR_EXPTIME); return; }
    exptimeRel = store.realtime(exptime);
    p = tokEnd(c, 1);
  }
  let mark = out.pos, markSize = out.size(); // where this command's reply starts; how much was pending then
  while (p < lineEnd) {
    while (p < lineEnd && buf[p] === 0x20) p++;
    if (p >= lineEnd) break;
    const ks = p;
    while (p < lineEnd && buf[p] !== 0x20) p++;
    const nkey = p - ks;
    if (nkey > KEY_MAX_LENGTH) {
      // memcached stops at this key (the ones before it were looked up and counted) and answers
      // the whole command with the error alone.
      out.truncate(mark);
      out.bytes(REPLY.CLIENT_ERROR_BAD_FORMAT);
      return;
    }
    getOneKey(c, buf, ks, nkey, returnCas, shouldTouch, exptimeRel);
    if (out.size() - markSize > OUT_CHUNK) {
      if (!connFlushIfLarge(c)) return;
      mark = out.pos; // what was sent cannot be taken back
      markSize = out.size();
    }
  }
  out.bytes(REPLY.END);
}

/** memcached counts a get in cmd_get, a gat in cmd_touch only. */
function countMiss(c: Conn, shouldTouch: boolean): void {
  const row = c.ctx.stats.row;
  if (shouldTouch) { row[ThreadStat.touch_cmds]++; row[ThreadStat.touch_misses]++; }
  else { row[ThreadStat.get_cmds]++; row[ThreadStat.get_misses]++; }
}

function getOneKey(c: Conn, buf: Buffer, ks: number, nkey: number, returnCas: boolean,
  shouldTouch: boolean, exptimeRel: number): void {
  const store = c.ctx.store;
  const row = c.ctx.stats.row;
  const it = shouldTouch ? store.itemGetAndTouch(buf, ks, nkey, exptimeRel) : store.itemGet(buf, ks, nkey);
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordGet(buf, ks, nkey, it !== 0);
  if (it === 0) {
    countMiss(c, shouldTouch);
    if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} END`);
    return;
  }
  row[shouldTouch ? ThreadStat.touch_cmds : ThreadStat.get_cmds]++;
  let handedOver = false;
  try {
    c.ctx.stats.slab(store.itemClsid(it), shouldTouch ? SlabStat.touch_hits : SlabStat.get_hits);
    handedOver = writeValue(c, buf, ks, nkey, it, returnCas);
  } finally {
    if (!handedOver) store.itemRelease(it);
  }
}

/** Values this big are sent from the item's memory instead of copied (below it a copy costs less). */
const ATTACH_MIN = 4096;

/**
 * "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n". True when the item's reference went with a
 * large value attached to the reply (see OutBuffer.attach), released once it is written.
 */
function writeValue(c: Conn, buf: Buffer, ks: number, nkey: number, it: number, returnCas: boolean): boolean {
  const out = c.ctx.out;
  const store = c.ctx.store;
  const nbytes = store.itemNbytes(it);
  out.bytes(REPLY.VALUE_SP);
  out.copyFrom(buf, ks, nkey);
  out.space();
  out.uint(store.itemFlags(it));
  out.space();
  out.uint(nbytes - 2);
  if (returnCas) { out.space(); out.uint(store.itemCas(it)); }
  out.crlf();
  if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} sending key ${buf.toString("latin1", ks, ks + nkey)}`);
  if (nbytes >= ATTACH_MIN && c.io !== null) {
    const view = store.itemValueView(it, 0, nbytes);
    if (view.length === nbytes) { out.attach(view, it); return true; } // a chained item's value is in pieces: copied
  }
  out.reserve(nbytes);
  out.pos += store.itemCopyValue(it, out.buf, out.pos, 0, nbytes);
  return false;
}
