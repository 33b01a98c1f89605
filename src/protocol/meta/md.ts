// md: memcached's process_mdelete_command. With I the item is not removed but marked stale (a new
// CAS, TOKEN_SENT cleared so the next mg wins the right to recache, T may set a new TTL).

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { doItemGet } from '../../store/items.ts';
import { KEY_MAX_LENGTH } from '../text/get.ts';
import { mf, MFLAG_MAX_OPT_LENGTH } from './flags.ts';
import { CODE, ERR, code } from './reply.ts';
import { opaqueTooLong, writeOpaqueAndKey } from './common.ts';

export function processMdeleteCommand(c: Conn, buf: Buffer, ntokens: number): void {
  const out = c.ctx.out;
  if (ntokens < 3) { out.bytes(REPLY.ERROR); return; }
  if (c.tokens[3] - c.tokens[2] > KEY_MAX_LENGTH) { out.bytes(ERR.BAD_FORMAT); return; }
  if (ntokens > MFLAG_MAX_OPT_LENGTH) { out.bytes(ERR.FLAGS_TOO_LONG); return; }
  const st = c.ctx.store;
  if (!mf.preparse(c, buf, 2, ntokens, st)) { out.bytes(ERR.INVALID_OR_DUPLICATE); return; }
  c.noreply = mf.noReply;
  if (opaqueTooLong(c, buf, ntokens)) { out.bytes(ERR.OPAQUE_TOO_LONG); return; }
  const ks = c.tokens[2], nkey = c.tokens[3] - ks;
  const mark = out.pos;
  let nominal = false;
  const hv = st.hash(buf, ks, nkey);
  st.itemLock(hv);
  try {
    const it = doItemGet(st, buf, ks, nkey, hv, false);
    if (it === 0) {
      c.ctx.stats.row[ThreadStat.delete_misses]++;
      code(out, CODE.NF);
    } else {
      try {
        if (mf.hasCas && st.itemCas(it) !== mf.reqCasId) {
          c.ctx.stats.row[ThreadStat.delete_misses]++;
          code(out, CODE.EX);
        } else {
          if (mf.setStale) markStale(c, it);
          else {
            c.ctx.stats.slab(st.itemClsid(it), SlabStat.delete_hits);
            st.doItemUnlink(it, hv);
          }
          code(out, CODE.HD);
          nominal = true;
        }
      } finally { st.itemRelease(it); }
    }
  } finally { st.itemUnlock(hv); }
  writeOpaqueAndKey(c, buf, ntokens, ks, nkey);
  out.crlf();
  if (nominal && c.noreply) out.truncate(mark); // q hides HD only
}

/** md ... I: keep the item, stale, with a new CAS; the next fetch wins the recache. */
function markStale(c: Conn, it: number): void {
  const st = c.ctx.store;
  if (mf.newTtl) st.itemSetExptime(it, mf.exptime);
  st.itemSetStale(it, true);
  st.itemSetTokenSent(it, false);
  if (st.useCas) st.setNextCas(it);
}
