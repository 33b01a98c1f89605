// The meta protocol (mg ms md ma mn me). Only `mn` so far; the rest is tracker issue 6.

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';

const MN = Buffer.from('MN\r\n');

/** memcached routes 2-letter commands starting with 'm' to the meta parser. */
export function isMetaCommand(buf: Buffer, s: number, e: number): boolean {
  return e - s >= 2 && buf[s] === 0x6d && (e - s === 2 || buf[s + 2] === 0x20);
}

export function processMetaCommand(c: Conn, buf: Buffer, s: number, _e: number): void {
  if (buf[s + 1] === 0x6e) { c.ctx.out.bytes(MN); return; }
  c.ctx.out.bytes(REPLY.ERROR);
}
