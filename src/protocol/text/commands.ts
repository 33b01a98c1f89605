// The small text commands: delete, touch, flush_all, version, verbosity, shutdown, cache_memlimit,
// refresh_certs, and the test-only debugtime. Each mirrors memcached's process_*_command of the same name.

import type { Conn } from '../../worker/conn.ts';
import { connCloseWithReason } from '../../worker/drive-machine.ts';
import { CloseReason } from '../../logger/logger.ts';
import { REPLY } from '../replies.ts';
import { ThreadStat, SlabStat } from '../../stats/thread-stats.ts';
import { parseI32Wrapped, parseI64, parseU32 } from '../numbers.ts';
import { tokStart, tokEnd, tokLen, tokIs, setNoreplyMaybe } from './tokens.ts';
import { KEY_MAX_LENGTH } from '../../store/layout.ts';
import { DeleteResult } from '../../store/results.ts';
import { outString } from './out-string.ts';
import { Ctl } from '../../server-ctl.ts';
import { verbosityChanged } from '../../logger/logger.ts';

/** The memcached version we speak (clients read features off it); ours is in `stats settings`. */
export const PROTOCOL_VERSION = '1.6.18';
const VERSION_REPLY = Buffer.from(`VERSION ${PROTOCOL_VERSION}\r\n`);
const ZERO = Buffer.from('0');
const GRACEFUL = Buffer.from('graceful');
const MAX_VERBOSITY_LEVEL = 2;

export function processDeleteCommand(c: Conn, buf: Buffer, ntokens: number): void {
  if (ntokens > 3) {
    const holdIsZero = tokIs(c, buf, 2, ZERO);
    const setsNoreply = setNoreplyMaybe(c, buf, ntokens);
    const valid = (ntokens === 4 && (holdIsZero || setsNoreply)) || (ntokens === 5 && holdIsZero && setsNoreply);
    if (!valid) { outString(c, REPLY.CLIENT_ERROR_DELETE_USAGE); return; }
  }
  const nkey = tokLen(c, 1);
  if (nkey > KEY_MAX_LENGTH) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  const store = c.ctx.store;
  if (c.ctx.prefixStats.enabled()) c.ctx.prefixStats.recordDelete(buf, tokStart(c, 1), nkey);
  if (store.itemDelete(buf, tokStart(c, 1), nkey, 0) === DeleteResult.DELETED) {
    c.ctx.stats.slab(store.lastClsid, SlabStat.delete_hits);
    outString(c, REPLY.DELETED);
  } else {
    c.ctx.stats.row[ThreadStat.delete_misses]++;
    outString(c, REPLY.NOT_FOUND);
  }
}

export function processTouchCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  const nkey = tokLen(c, 1);
  if (nkey > KEY_MAX_LENGTH) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  const exptime = parseI32Wrapped(buf, tokStart(c, 2), tokEnd(c, 2));
  if (Number.isNaN(exptime)) { outString(c, REPLY.CLIENT_ERROR_EXPTIME); return; }
  const store = c.ctx.store;
  const it = store.itemTouch(buf, tokStart(c, 1), nkey, store.realtime(exptime));
  c.ctx.stats.row[ThreadStat.touch_cmds]++;
  if (it === 0) {
    c.ctx.stats.row[ThreadStat.touch_misses]++;
    outString(c, REPLY.NOT_FOUND);
    return;
  }
  c.ctx.stats.slab(store.itemClsid(it), SlabStat.touch_hits);
  store.itemRelease(it);
  outString(c, REPLY.TOUCHED);
}

const FLUSH_NOT_ALLOWED = Buffer.from('CLIENT_ERROR flush_all not allowed\r\n');

export function processFlushAllCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  c.ctx.stats.row[ThreadStat.flush_cmds]++; // counted even when -F refuses it, as memcached counts it
  if (!c.ctx.settings.flushEnabled) { outString(c, FLUSH_NOT_ALLOWED); return; }
  let exptime = 0;
  if (ntokens !== (c.noreply ? 3 : 2)) {
    exptime = parseI32Wrapped(buf, tokStart(c, 1), tokEnd(c, 1));
    if (Number.isNaN(exptime)) { outString(c, REPLY.CLIENT_ERROR_EXPTIME); return; }
  }
  c.ctx.store.flushAll(exptime);
  outString(c, REPLY.OK);
}

export function processVersionCommand(c: Conn): void {
  outString(c, VERSION_REPLY);
}

export function processVerbosityCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  const level = parseU32(buf, tokStart(c, 1), tokEnd(c, 1));
  if (Number.isNaN(level)) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  const now = Math.min(level, MAX_VERBOSITY_LEVEL);
  // one exchange, so that two workers changing it at once count the change to -vvv's lookups once
  verbosityChanged(c.ctx.store, Atomics.exchange(c.ctx.ctl.i32, Ctl.verbosity, now), now);
  outString(c, REPLY.OK);
}

const INVALID_SHUTDOWN = Buffer.from('CLIENT_ERROR invalid shutdown mode\r\n');

export function processShutdownCommand(c: Conn, buf: Buffer, ntokens: number): void {
  if (!c.ctx.settings.shutdownEnabled) { outString(c, REPLY.ERROR_SHUTDOWN_DISABLED); return; }
  if (ntokens === 2 || (ntokens === 3 && tokIs(c, buf, 1, GRACEFUL))) c.closeKind = CloseReason.SHUTDOWN;
  if (ntokens === 2) {
    connCloseWithReason(c, 'shutdown');
    c.ctx.requestShutdown('immediate');
  } else if (ntokens === 3 && tokIs(c, buf, 1, GRACEFUL)) {
    connCloseWithReason(c, 'shutdown');
    c.ctx.requestShutdown('graceful');
  } else {
    outString(c, INVALID_SHUTDOWN);
  }
}

const MEMLIMIT_NOT_BYTES = Buffer.from('MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n');
const MEMLIMIT_FAILED = Buffer.from('MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust\r\n');

export function processMemlimitCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  const mb = parseU32(buf, tokStart(c, 1), tokEnd(c, 1));
  if (Number.isNaN(mb)) outString(c, REPLY.ERROR);
  else if (mb < 8) outString(c, REPLY.MEMLIMIT_TOO_SMALL);
  else if (mb > 1000000000) outString(c, MEMLIMIT_NOT_BYTES);
  else if (c.ctx.store.setMemLimit(mb * 1024 * 1024)) {
    if (c.ctx.verbosity() > 0) c.ctx.log(`maxbytes adjusted to ${mb}m`);
    outString(c, REPLY.OK);
  }
  else outString(c, MEMLIMIT_FAILED);
}

/**
 * `debugtime <seconds>`: moves the shared clock forward, so tests see expiry and idle timeouts
 * without sleeping. Only when the server runs with CACHALOT_DEBUG_TIME=1 (memcached has the same
 * command in its debug builds); otherwise it is an unknown command.
 */
export function processDebugtimeCommand(c: Conn, buf: Buffer, ntokens: number): void {
  const secs = ntokens === 3 ? parseI64(buf, tokStart(c, 1), tokEnd(c, 1)) : NaN;
  if (Number.isNaN(secs) || secs < 0) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  c.ctx.store.clockAdvance(secs);
  outString(c, REPLY.OK);
}

const TLS_NOT_ENABLED = Buffer.from('Error TLS not enabled\r\n');

/**
 * refresh_certs: load -Z's certificate files again for connections still to come. A failure answers
 * memcached's message and keeps the certificates there were; like memcached it answers even with noreply.
 */
export function processRefreshCertsCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  const certificates = c.ctx.certificates;
  if (certificates === null) { c.ctx.out.bytes(TLS_NOT_ENABLED); return; }
  const error = certificates.refresh(c.ctx.store.currentTime());
  if (error === null) outString(c, REPLY.OK);
  else c.ctx.out.ascii(error + '\r\n');
}
