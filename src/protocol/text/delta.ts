// incr / decr: memcached's process_arithmetic_command. The arithmetic (64-bit unsigned, incr wraps,
// decr floors at 0, in-place rewrite padded with spaces) is the store's add_delta.

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { parseU64Big } from '../numbers.ts';
import { tokStart, tokEnd, tokLen, setNoreplyMaybe } from './tokens.ts';
import { KEY_MAX_LENGTH } from '../../store/layout.ts';
import { DeltaResult } from '../../store/results.ts';
import { outString, outStringNumber } from './out-string.ts';

export function processArithmeticCommand(c: Conn, buf: Buffer, ntokens: number, incr: boolean): void {
  setNoreplyMaybe(c, buf, ntokens);
  const nkey = tokLen(c, 1);
  if (nkey > KEY_MAX_LENGTH) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  const delta = parseU64Big(buf, tokStart(c, 2), tokEnd(c, 2));
  if (delta === null) { outString(c, REPLY.CLIENT_ERROR_DELTA); return; }
  const store = c.ctx.store;
  switch (store.addDelta(buf, tokStart(c, 1), nkey, incr, delta, 0)) {
    case DeltaResult.OK:
      c.ctx.stats.slab(store.lastClsid, incr ? SlabStat.incr_hits : SlabStat.decr_hits);
      outStringNumber(c, store.deltaValue);
      return;
    case DeltaResult.NON_NUMERIC:
      outString(c, REPLY.CLIENT_ERROR_NON_NUMERIC);
      return;
    case DeltaResult.EOM: // do_add_delta counts the hit before it allocates the new value's item
      c.ctx.stats.slab(store.lastClsid, incr ? SlabStat.incr_hits : SlabStat.decr_hits);
      outString(c, REPLY.SERVER_ERROR_DELTA_NO_MEMORY);
      return;
    case DeltaResult.NOT_FOUND:
      c.ctx.stats.row[incr ? ThreadStat.incr_misses : ThreadStat.decr_misses]++;
      outString(c, REPLY.NOT_FOUND);
      return;
  }
}
