// `slabs reassign <src> <dst>` and `slabs automove <0|1|2>` / `slabs automove ratio <r>`: memcached's
// process_slabs_command. A reassign is only checked here and posted to the maintainer thread, which moves the
// page (src/store/slab-mover.ts) as memcached's rebalancer thread does: OK means "asked", not "done".

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';
import { tokIs, setNoreplyMaybe } from './tokens.ts';
import { outString } from './out-string.ts';
import { tok } from './tokens.ts';
import { safeStrtod, safeStrtol, safeStrtoul } from '../../settings/c-numbers.ts';
import { FG, G } from '../../store/layout.ts';
import { Reassign } from '../../store/store.ts';

const r = (s: string): Buffer => Buffer.from(`${s}\r\n`);
const REASSIGN_REPLY: Record<number, Buffer> = {
  [Reassign.OK]: REPLY.OK,
  [Reassign.RUNNING]: r('BUSY currently processing reassign request'),
  [Reassign.BADCLASS]: r('BADCLASS invalid src or dst class id'),
  [Reassign.NOSPARE]: r('NOSPARE source class has no spare pages'),
  [Reassign.SAME]: r('SAME src and dst class are identical'),
};
const ERR_DISABLED = r('CLIENT_ERROR slab reassignment disabled');
const REASSIGN = Buffer.from('reassign'), AUTOMOVE = Buffer.from('automove');

export function processSlabsCommand(c: Conn, buf: Buffer, ntokens: number): void {
  if (ntokens === 5 && tokIs(c, buf, 1, REASSIGN)) slabsReassign(c, buf);
  else if (ntokens >= 4 && tokIs(c, buf, 1, AUTOMOVE)) slabsAutomove(c, buf, ntokens);
  else outString(c, REPLY.ERROR);
}

function slabsReassign(c: Conn, buf: Buffer): void {
  const store = c.ctx.store;
  if (store.c32[G.slabReassign] === 0) { outString(c, ERR_DISABLED); return; }
  const src = safeStrtol(tok(c, buf, 2)), dst = safeStrtol(tok(c, buf, 3));
  if (src === null || dst === null) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  outString(c, REASSIGN_REPLY[store.requestReassign(src, dst)]);
}

function slabsAutomove(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  const store = c.ctx.store, arg = tok(c, buf, 2);
  if (arg === 'ratio') {
    const ratio = ntokens < 5 ? null : safeStrtod(tok(c, buf, 3));
    if (ratio === null) { outString(c, REPLY.ERROR); return; }
    store.setLiveFloat(FG.automoveRatio, ratio);
  } else {
    const level = safeStrtoul(arg);
    if (level < 0) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
    if (level > 2) { outString(c, REPLY.ERROR); return; }
    store.setLive(G.slabAutomove, level);
  }
  outString(c, REPLY.OK);
}
