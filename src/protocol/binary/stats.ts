// Stat: memcached's process_bin_stat. Each statistic is one response packet (key = name, value =
// value) and an empty packet ends the list. The statistics themselves are the text protocol's
// (src/protocol/text/stats.ts): the same `stats <group>` runs into the out buffer and its
// "STAT name value\r\n" lines are re-framed as packets. A cold path: strings are fine here.

import type { Conn } from '../../worker/conn.ts';
import { tokenize } from '../text/tokens.ts';
import { processStatCommand } from '../text/stats.ts';
import { Op, Status, BinState, addBinHeader, writeBinError } from './header.ts';

const SUBCOMMANDS = ['items', 'slabs', 'sizes'];

export function processBinStat(c: Conn, st: BinState): void {
  const sub = c.rbuf.toString('latin1', st.keyStart, st.keyStart + st.keylen);
  if (c.ctx.verbosity() > 1) c.ctx.log(`<${c.id} STATS ${sub}`);
  // memcached compares these by prefix ("resetX" resets) and the groups below exactly.
  if (sub === '') statsAsPackets(c, st, 'stats');
  else if (sub.startsWith('reset')) statsAsPackets(c, st, 'stats reset');
  else if (sub.startsWith('settings')) statsAsPackets(c, st, 'stats settings');
  else if (sub.startsWith('detail')) statsDetail(c, st, sub.slice(6));
  else if (SUBCOMMANDS.includes(sub)) statsAsPackets(c, st, `stats ${sub}`);
  else { writeBinError(c, st, Status.KEY_ENOENT, 0); return; }
}

/** detail on|off answer with the end packet alone; detail dump is one statistic, "detailed". */
function statsDetail(c: Conn, st: BinState, rest: string): void {
  if (rest.startsWith(' on')) runText(c, 'stats detail on');
  else if (rest.startsWith(' off')) runText(c, 'stats detail off');
  else if (rest.startsWith(' dump')) {
    // memcached's stats_prefix_dump ends with "END\r\n" and the value keeps it.
    statPacket(c, st, 'detailed', runText(c, 'stats detail dump').toString('latin1'));
  } else { writeBinError(c, st, Status.KEY_ENOENT, 0); return; }
  statPacket(c, st, '', '');
}

/** Run a text `stats` line and send its STAT lines as packets, then the end packet. */
function statsAsPackets(c: Conn, st: BinState, line: string): void {
  const text = runText(c, line).toString('latin1');
  for (const l of text.split('\r\n')) {
    if (!l.startsWith('STAT ')) continue; // END, RESET
    const sp = l.indexOf(' ', 5);
    if (sp < 0) statPacket(c, st, l.slice(5), '');
    else statPacket(c, st, l.slice(5, sp), l.slice(sp + 1));
  }
  statPacket(c, st, '', '');
}

/** The text reply of one stats line, taken back out of the out buffer. */
function runText(c: Conn, line: string): Buffer {
  const out = c.ctx.out;
  const mark = out.pos;
  const buf = Buffer.from(line, 'latin1');
  const ntokens = tokenize(c, buf, 0, buf.length);
  processStatCommand(c, buf, ntokens);
  const text = Buffer.from(out.buf.subarray(mark, out.pos));
  out.truncate(mark);
  return text;
}

/** append_bin_stats: opcode Stat, the request's opaque, CAS 0. */
function statPacket(c: Conn, st: BinState, key: string, value: string): void {
  const saved = st.opcode;
  st.opcode = Op.STAT;
  const klen = Buffer.byteLength(key, 'latin1');
  addBinHeader(c, st, Status.SUCCESS, 0, klen, klen + Buffer.byteLength(value, 'latin1'), 0);
  st.opcode = saved;
  c.ctx.out.ascii(key);
  c.ctx.out.ascii(value);
}
