// `slabs reassign <src> <dst>` and `slabs automove <0|1|2>` / `slabs automove ratio <r>`: memcached's
// process_slabs_command. (Being written: until then, memcached's answer to an unknown command.)

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';

export function processSlabsCommand(c: Conn, _buf: Buffer, _ntokens: number): void {
  c.ctx.out.bytes(REPLY.ERROR);
}
