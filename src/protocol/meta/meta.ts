// The meta protocol (mg ms md ma mn me): memcached 1.6.18's proto_text.c meta commands, on the text
// port, through the same state machine and store. read-command.ts sends here every line whose first
// word is two letters starting with 'm'.

import type { Conn } from '../../worker/conn.ts';
import * as replies from '../replies.ts';
import * as threadStats from '../../stats/thread-stats.ts';
import { doItemGet } from '../../store/items.ts';
import { itemNtotal } from '../../store/lru.ts';
import * as layout from '../../store/layout.ts';
import { tokenize } from '../text/tokens.ts';
import { outErrstring, outString } from '../text/out-string.ts';
import { base64DecodeInPlace } from './base64.ts';
import { CODE, ERR, code, itemKey } from './reply.ts';
import { processMgetCommand } from './mg.ts';
import { processMsetCommand } from './ms.ts';
import { processMdeleteCommand } from './md.ts';
import { processMarithmeticCommand } from './ma.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { REPLY } = replies;
const { ThreadStat } = threadStats;
const { KEY_MAX_LENGTH } = layout;

const MN = Buffer.from('MN\r\n');
const EN = Buffer.from('EN\r\n');

/** memcached's test after tokenizing: the first word is two bytes and starts with 'm'. */
export function isMetaCommand(buf: Buffer, s: number, e: number): boolean {
  while (s < e && buf[s] === 0x20) s++;
  return e - s >= 2 && buf[s] === 0x6d && buf[s + 1] !== 0x20 && (e - s === 2 || buf[s + 2] === 0x20);
}

export function processMetaCommand(c: Conn, buf: Buffer, s: number, e: number): void {
  const ntokens = tokenize(c, buf, s, e);
  switch (buf[c.tokens[0] + 1]) {
    case 0x67: processMgetCommand(c, buf, ntokens); return;        // mg
    case 0x73: processMsetCommand(c, buf, ntokens); return;        // ms
    case 0x64: processMdeleteCommand(c, buf, ntokens); return;     // md
    case 0x61: processMarithmeticCommand(c, buf, ntokens); return; // ma
    case 0x6e: outString(c, MN); c.flushPoint(); return;       // mn: memcached flushes the pipeline here
    case 0x65: processMetaDebugCommand(c, buf, ntokens); return;   // me
    default: outString(c, REPLY.ERROR);
  }
}

/** me <key> [b]: memcached's process_meta_command, the item's internals as one line. */
function processMetaDebugCommand(c: Conn, buf: Buffer, ntokens: number): void {
  const out = c.ctx.out;
  const t = c.tokens;
  if (ntokens < 3 || t[3] - t[2] > KEY_MAX_LENGTH) { outErrstring(c, ERR.BAD_FORMAT); return; }
  let nkey = t[3] - t[2];
  if (ntokens >= 4 && t[5] - t[4] === 1 && buf[t[4]] === 0x62) {
    nkey = base64DecodeInPlace(buf, t[2], nkey);
    if (nkey === 0) { outErrstring(c, ERR.BAD_FORMAT); return; }
  }
  const st = c.ctx.store;
  const hv = st.hash(buf, t[2], nkey);
  st.itemLock(hv);
  try {
    const it = doItemGet(st, buf, t[2], nkey, hv, false);
    if (it === 0) { outString(c, EN); return; } // memcached's out_string, so -vv logs it (an mg's EN it does not)
    try {
      const now = st.currentTime();
      const exptime = st.itemExptime(it);
      code(out, CODE.ME);
      out.space();
      itemKey(out, st, it, false);
      out.ascii(' exp=');
      out.int(exptime === 0 ? -1 : (now - exptime) | 0);
      out.ascii(' la=');
      out.uint((now - st.itemTime(it)) >>> 0);
      out.ascii(' cas=');
      out.uint(st.itemCas(it));
      out.ascii(st.itemFetched(it) ? ' fetch=yes cls=' : ' fetch=no cls=');
      out.uint(st.itemClsid(it));
      out.ascii(' size=');
      out.uint(itemNtotal(st.a32, it));
      out.crlf();
    } finally { st.itemRelease(it); }
  } finally {
    st.itemUnlock(hv);
    c.ctx.stats.row[ThreadStat.meta_cmds]++;
  }
}
