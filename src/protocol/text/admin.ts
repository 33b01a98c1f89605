// The administrative text commands that tune the store while it runs: `lru`, `lru_crawler` (with its metadump
// of every key), `extstore`, and `watch`. Each mirrors memcached's process_*_command of the same name, reply
// for reply. Settings they change live in the store's shared words (Store.liveSettings), so every thread and
// `stats settings` see them. Cold path: tokens become strings here.

import type { Conn } from '../../worker/conn.ts';
import { REPLY } from '../replies.ts';
import { tok, setNoreplyMaybe } from './tokens.ts';
import { outString } from './out-string.ts';
import { safeStrtod, safeStrtol, safeStrtoul } from '../../settings/c-numbers.ts';
import { FG, G, MAX_CLASSES } from '../../store/layout.ts';
import { startMetadump } from './dump.ts';
import { EXT_UINT_SETTINGS } from '../../settings/ext-settings.ts';
import { LogFlag } from '../../logger/logger.ts';
import { startWatching, WATCH_FLAG_NAMES } from '../../logger/watcher.ts';

const r = (s: string): Buffer => Buffer.from(`${s}\r\n`);
const ERR = {
  PCTS: r('ERROR hot and warm pcts must not exceed 80'),
  FACTORS: r('ERROR hot/warm age factors must be greater than 0'),
  CRAWLER_DISABLED: r('CLIENT_ERROR lru crawler disabled'),
  METADUMP_NOT_ALLOWED: r('ERROR metadump not allowed'),
  METADUMP_PIPELINED: r('ERROR cannot pipeline other commands before metadump'),
  CRAWLER_BUSY: r('BUSY currently processing crawler request'),
  BADCLASS: r('BADCLASS invalid class id'),
  CRAWLER_UNKNOWN: r('ERROR an unknown error happened'),
  NOTSTARTED: r('NOTSTARTED no items to crawl'),
  SLEEP: r('CLIENT_ERROR sleep must be one second or less'),
  CRAWLER_START: r('ERROR failed to start lru crawler thread'),
  WATCH_NOT_ALLOWED: r('CLIENT_ERROR watch commands not allowed'),
  WATCH_PIPELINED: r('ERROR cannot pipeline other commands before watch'),
  WATCHER_TOO_MANY: r('WATCHER_TOO_MANY log watcher limit reached'),
} as const;



// ---- lru ----

/** `lru tune <hot pct> <warm pct> <hot factor> <warm factor>`, `lru mode flat|segmented`, `lru temp_ttl <ttl>`. */
export function processLruCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  const sub = tok(c, buf, 1), maintainer = c.ctx.settings.lruMaintainer;
  if (sub === 'tune' && ntokens >= 7) lruTune(c, buf);
  else if (sub === 'mode' && ntokens >= 4 && maintainer) lruMode(c, tok(c, buf, 2));
  else if (sub === 'temp_ttl' && ntokens >= 4 && maintainer) lruTempTtl(c, tok(c, buf, 2));
  else outString(c, REPLY.ERROR);
}

function lruTune(c: Conn, buf: Buffer): void {
  const hot = safeStrtoul(tok(c, buf, 2)), warm = safeStrtoul(tok(c, buf, 3));
  const hotFactor = safeStrtod(tok(c, buf, 4)), warmFactor = safeStrtod(tok(c, buf, 5));
  if (hot < 0 || warm < 0 || hotFactor === null || warmFactor === null) { outString(c, REPLY.ERROR); return; }
  if ((hot + warm) % 2 ** 32 > 80) { outString(c, ERR.PCTS); return; } // uint32 sum, as memcached adds them
  if (warmFactor <= 0 || hotFactor <= 0) { outString(c, ERR.FACTORS); return; }
  const store = c.ctx.store;
  store.setLive(G.hotLruPct, hot);
  store.setLive(G.warmLruPct, warm);
  store.setLiveFloat(FG.hotMaxFactor, hotFactor);
  store.setLiveFloat(FG.warmMaxFactor, warmFactor);
  outString(c, REPLY.OK);
}

function lruMode(c: Conn, mode: string): void {
  if (mode !== 'flat' && mode !== 'segmented') { outString(c, REPLY.ERROR); return; }
  c.ctx.store.setLive(G.lruSegmented, mode === 'segmented' ? 1 : 0);
  outString(c, REPLY.OK);
}

function lruTempTtl(c: Conn, arg: string): void {
  const ttl = safeStrtol(arg);
  if (ttl === null) { outString(c, REPLY.ERROR); return; }
  const store = c.ctx.store;
  if (ttl >= 0) store.setLive(G.temporaryTtl, ttl);
  store.setLive(G.tempLru, ttl >= 0 ? 1 : 0);
  outString(c, REPLY.OK);
}

// ---- lru_crawler ----

/** `lru_crawler crawl|metadump <classes|all|hash>`, `tocrawl <n>`, `sleep <µs>`, `enable`, `disable`. */
export function processLruCrawlerCommand(c: Conn, buf: Buffer, ntokens: number): void {
  const store = c.ctx.store;
  const sub = ntokens >= 3 ? tok(c, buf, 1) : '';
  if (ntokens === 4 && sub === 'crawl') crawl(c, tok(c, buf, 2));
  else if (ntokens === 4 && sub === 'metadump') metadump(c, tok(c, buf, 2));
  else if (ntokens === 4 && (sub === 'tocrawl' || sub === 'sleep')) crawlerSetting(c, sub, tok(c, buf, 2));
  else if (ntokens === 3 && sub === 'enable') {
    // memcached's start_item_crawler_thread fails when the crawler already runs
    outString(c, Atomics.compareExchange(store.c32, G.lruCrawler, 0, 1) === 0 ? REPLY.OK : ERR.CRAWLER_START);
  } else if (ntokens === 3 && sub === 'disable') {
    store.setLive(G.lruCrawler, 0);
    outString(c, REPLY.OK);
  } else outString(c, REPLY.ERROR);
}

/**
 * memcached's lru_crawler_crawl's class list: "all", or class ids 1..63 separated by commas (empty items
 * skipped, as strtok skips them). A 64-entry map indexed by class id, or null for a bad id.
 */
export function parseCrawlClasses(arg: string): Uint8Array | null {
  const classes = new Uint8Array(MAX_CLASSES);
  if (arg === 'all') { classes.fill(1); return classes; }
  for (const part of arg.split(',')) {
    if (part === '') continue;
    const id = safeStrtoul(part);
    if (id < 1 || id >= MAX_CLASSES) return null;
    classes[id] = 1;
  }
  return classes;
}

function crawl(c: Conn, arg: string): void {
  const store = c.ctx.store;
  if (store.c32[G.lruCrawler] === 0) { outString(c, ERR.CRAWLER_DISABLED); return; }
  if (arg === 'hash') { // memcached's expiry crawl has no hash walk; a running crawler is BUSY first
    outString(c, store.crawlerBusy() ? ERR.CRAWLER_BUSY : ERR.CRAWLER_UNKNOWN);
    return;
  }
  const classes = parseCrawlClasses(arg);
  if (classes === null) { outString(c, ERR.BADCLASS); return; }
  if (!classes.includes(1)) { outString(c, store.crawlerBusy() ? ERR.CRAWLER_BUSY : ERR.NOTSTARTED); return; } // "," names none
  outString(c, store.requestCrawl(classes) ? REPLY.OK : ERR.CRAWLER_BUSY);
}

function metadump(c: Conn, arg: string): void {
  if (c.ctx.store.c32[G.lruCrawler] === 0) { outString(c, ERR.CRAWLER_DISABLED); return; }
  if (!c.ctx.settings.dumpEnabled) { outString(c, ERR.METADUMP_NOT_ALLOWED); return; }
  // the dump is written around the connection's reply queue, so nothing may wait in it; what a get or mn
  // before it flushed has left
  if (c.respHasStack()) { outString(c, ERR.METADUMP_PIPELINED); return; }
  const classes = arg === 'hash' ? parseCrawlClasses('all') : parseCrawlClasses(arg);
  if (classes === null) { outString(c, ERR.BADCLASS); return; }
  // memcached then keeps this connection as its crawler's client, and its next metadump fails ("ERROR an unknown
  // error happened") on a client long gone: not copied
  const store = c.ctx.store;
  if (!classes.includes(1)) { outString(c, store.crawlerBusy() ? ERR.CRAWLER_BUSY : ERR.NOTSTARTED); return; }
  // memcached's crawler writes to the client's socket, which a UDP request has not: an empty datagram comes
  if (c.udp !== null) { c.udp.keepLastEmpty(); return; }
  // one walk at a time, as memcached's one crawler thread: a crawl, asked for or scheduled, makes this BUSY
  if (store.crawlerBusy() || !store.claimCrawler()) { outString(c, ERR.CRAWLER_BUSY); return; }
  startMetadump(c, classes, arg === 'hash');
}

function crawlerSetting(c: Conn, sub: string, arg: string): void {
  const n = safeStrtoul(arg), store = c.ctx.store;
  if (n < 0) { outString(c, REPLY.CLIENT_ERROR_BAD_FORMAT); return; }
  if (sub === 'sleep' && n > 1_000_000) { outString(c, ERR.SLEEP); return; }
  store.setLive(sub === 'sleep' ? G.crawlerSleepUs : G.crawlerTocrawl, n | 0); // tocrawl is read back >>> 0
  outString(c, REPLY.OK);
}

// ---- extstore ----

/**
 * `extstore <setting> <value>`: memcached (built with extstore, as Debian's is) takes a well-formed setting
 * even when no external storage is configured, and shows it in `stats settings`; so does Cachalot, which has
 * none (settings/ext-settings.ts; the live values are words of server-ctl.ts). As memcached's safe_strtoul
 * zeroes its output before it fails, a rejected number still sets 0.
 */
export function processExtstoreCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  outString(c, extstoreSetting(c, buf, ntokens) ? REPLY.OK : REPLY.ERROR);
}

function extstoreSetting(c: Conn, buf: Buffer, ntokens: number): boolean {
  if (ntokens < 4) return false;
  const sub = tok(c, buf, 1), ctl = c.ctx.ctl;
  if (sub === 'free_memchunks') { // deprecated and ignored, but checked
    if (ntokens <= 4) return false;
    const clsid = safeStrtoul(tok(c, buf, 2));
    return clsid >= 0 && safeStrtoul(tok(c, buf, 3)) >= 0 && clsid < MAX_CLASSES;
  }
  if (sub === 'max_frag') {
    const v = safeStrtod(tok(c, buf, 2));
    ctl.setExtMaxFrag(v ?? 0);
    return v !== null;
  }
  const i = EXT_UINT_SETTINGS.findIndex(([name]) => name === sub);
  if (i < 0) return false;
  const v = safeStrtoul(tok(c, buf, 2));
  if (sub === 'drop_unread') { if (v >= 0) ctl.setExtSetting(i, v === 0 ? 0 : 1); } // memcached's own temporary
  else ctl.setExtSetting(i, Math.max(v, 0));
  return v >= 0;
}

// ---- watch ----

/**
 * `watch [fetchers|mutations|evictions|connevents|sysevents|rawcmds|proxyreqs|proxyevents|proxyuser ...]`
 * (none: fetchers): the connection becomes a log watcher (src/logger/watcher.ts) and takes no more commands.
 */
export function processWatchCommand(c: Conn, buf: Buffer, ntokens: number): void {
  setNoreplyMaybe(c, buf, ntokens);
  if (!c.ctx.settings.watchEnabled) { outString(c, ERR.WATCH_NOT_ALLOWED); return; }
  // as for metadump: the watcher's lines bypass the connection's reply queue
  if (c.respHasStack()) { outString(c, ERR.WATCH_PIPELINED); return; }
  let flags = 0;
  if (ntokens > 2) {
    for (let i = 1; i < ntokens - 1; i++) {
      const f = WATCH_FLAG_NAMES.get(tok(c, buf, i));
      if (f === undefined) { outString(c, REPLY.ERROR); return; }
      flags |= f;
    }
  } else flags = LogFlag.FETCHERS;
  // memcached hands the connection to its logger, which cannot write to a datagram's sender: an empty datagram
  if (c.udp !== null) { c.udp.keepLastEmpty(); return; }
  if (!startWatching(c, flags)) outString(c, ERR.WATCHER_TOO_MANY);
}
