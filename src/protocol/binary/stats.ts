// Stat: memcached's process_bin_stat. Each statistic is one response packet (key = name, value =
// value) and an empty packet ends the list. The statistics themselves are the text protocol's
// (src/protocol/text/stats.ts reportStats), framed here as packets. A cold path: strings are fine.

import type { Conn } from '../../worker/conn.ts';
import { reportStats, resetStats, SIZES_SWITCHES, statValue } from '../text/stats.ts';
import { Op, Status, BinState, putBinHeader, writeBinError } from './header.ts';

const SUBCOMMANDS = ['items', 'slabs', 'sizes', 'sizes_enable', 'sizes_disable'];

export function processBinStat(c: Conn, st: BinState): void {
  const sub = c.rbuf.toString('latin1', st.keyStart, st.keyStart + st.keylen);
  if (c.ctx.verbosity() > 1) c.ctx.log(`<${c.id} STATS ${sub}`);
  // memcached compares these by prefix ("resetX" resets) and the groups below exactly.
  if (sub === '') statsAsPackets(c, st, '');
  else if (sub.startsWith('reset')) { resetStats(c); statPacket(c, st, '', ''); }
  else if (sub.startsWith('settings')) statsAsPackets(c, st, 'settings');
  else if (sub.startsWith('detail')) statsDetail(c, st, sub.slice(6));
  else if (SUBCOMMANDS.includes(sub)) statsAsPackets(c, st, sub);
  else { writeBinError(c, st, Status.KEY_ENOENT, 0); return; }
}

/** detail on|off answer with the end packet alone; detail dump is one statistic, "detailed". */
function statsDetail(c: Conn, st: BinState, rest: string): void {
  if (rest.startsWith(' on')) c.ctx.prefixStats.setEnabled(true);
  else if (rest.startsWith(' off')) c.ctx.prefixStats.setEnabled(false);
  else if (rest.startsWith(' dump')) {
    // memcached's stats_prefix_dump ends with "END\r\n" and the value keeps it.
    statPacket(c, st, 'detailed', c.ctx.prefixStats.dump() + 'END\r\n');
  } else { writeBinError(c, st, Status.KEY_ENOENT, 0); return; }
  statPacket(c, st, '', '');
}

/** One group of statistics as packets, then the end packet. */
function statsAsPackets(c: Conn, st: BinState, group: string): void {
  reportStats(c, group, (name, value) => statPacket(c, st, name, statValue(value)));
  if (!SIZES_SWITCHES.has(group)) statPacket(c, st, '', ''); // (memcached ends these two without it)
}

/** append_bin_stats: opcode Stat, the request's opaque, CAS 0. */
function statPacket(c: Conn, st: BinState, key: string, value: string): void {
  const saved = st.opcode;
  st.opcode = Op.STAT;
  const klen = Buffer.byteLength(key, 'latin1');
  putBinHeader(c, st, Status.SUCCESS, 0, klen, klen + Buffer.byteLength(value, 'latin1'), 0);
  st.opcode = saved;
  c.ctx.out.ascii(key);
  c.ctx.out.ascii(value);
}
