// Differential tests: the same requests to two servers (Cachalot and memcached by default), the
// same bytes back, after masking what must differ (CAS numbers, pid, uptime...).
//
// How replies are delimited: each request is written together with a sentinel request whose
// reply is known (by default the meta no-op `mn\r\n` -> `MN\r\n`; for binary scripts a binary
// NOOP), and the reply to the request is everything before the sentinel's reply. No waiting on
// time, no protocol parsing. So: every script entry must be one or more *complete* requests
// (a set without its data block would swallow the sentinel). A reply that itself contains the
// sentinel's reply bytes shifts the split identically on both servers, and the whole stream is
// still compared. If the server hangs up, the reply is what arrived plus "<closed>" and the rest
// of the script is not sent.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, bytes, show } from './client.ts';
import { mulberry32 } from './rng.ts';
import { kindsFor, registerStopHook, serverFor } from './spec.ts';
import type { ServerKind } from './server.ts';
import { parseBinResponses } from '../../src/protocol/binary/frame.ts';
import { Op } from '../../src/protocol/binary/header.ts';

export type Sentinel = { send: Buffer; reply: Buffer };
export const MN_SENTINEL: Sentinel = { send: Buffer.from('mn\r\n'), reply: Buffer.from('MN\r\n') };
/** Binary NOOP request (opcode 0x0a) and its reply header (magic 0x81, status 0, opaque 0). */
export const BINARY_NOOP_SENTINEL: Sentinel = {
  send: Buffer.from([0x80, 0x0a, ...new Array<number>(22).fill(0)]),
  reply: Buffer.from([0x81, 0x0a, ...new Array<number>(22).fill(0)]),
};
/** Nothing sent after a request, and a reply that never comes: the reply is what arrives before the server hangs up. */
export const HANG_UP_SENTINEL: Sentinel = { send: Buffer.alloc(0), reply: Buffer.from('\0never sent\0') };
const CLOSED = Buffer.from('<closed>');

export type DifferentialOptions = {
  args?: string[];
  mask?: (reply: Buffer) => Buffer;    // applied after maskReply
  sentinel?: Sentinel;
  servers?: [ServerKind, ServerKind];  // default ['cachalot', 'memcached']; the self-test uses two memcacheds
  fresh?: boolean;                     // default true: new servers, so counters compare
  whole?: boolean;                     // the connection must stay open to the script's end (random scripts)
  endWriting?: boolean;                // the client half-closes after the last request (a hang-up in mid-value)
  tls?: boolean;                       // the connections speak TLS (the servers' args must make their listener one)
};

/** Stats whose values belong to the process, not to behaviour. */
export const VOLATILE_STATS = new Set([
  'pid', 'uptime', 'time', 'version', 'libevent', 'pointer_size', 'rusage_user', 'rusage_system',
  'max_connections', 'total_connections', 'connection_structures', 'curr_connections',
  // A size of our own layout, reported truthfully: a hash bucket is 4 bytes here, 8 in memcached.
  'hash_bytes',
  // Buffer accounting: memcached's pools of response objects and read buffers are not ours.
  'response_obj_count', 'response_obj_bytes', 'read_buf_count', 'read_buf_bytes', 'read_buf_bytes_free',
  // Counted by memcached's background LRU maintainer and crawler: they move with timing.
  'lru_maintainer_juggles', 'lru_crawler_starts', 'lru_crawler_running', 'crawler_reclaimed', 'crawler_items_checked',
  'lrutail_reflocked', 'moves_to_cold', 'moves_to_warm', 'moves_within_lru',
]);

/** Mask the text replies that must differ: CAS in VALUE lines, meta `c<cas>` flags, volatile STATs, binary CAS. */
export function maskReply(reply: Buffer): Buffer {
  if (reply[0] === 0x81) return maskBinary(reply);
  const text = reply.toString('latin1');
  const masked = text.split('\r\n').map(maskLine).join('\r\n');
  return Buffer.from(masked, 'latin1');
}

function maskLine(line: string): string {
  const t = line.split(' ');
  if (t[0] === 'VALUE' && t.length === 5) t[4] = '<cas>';
  else if (t[0] === 'STAT' && t.length >= 3 && VOLATILE_STATS.has(t[1])) return `STAT ${t[1]} <masked>`;
  else if (['VA', 'HD', 'EX', 'NF', 'NS', 'EN'].includes(t[0])) {
    for (let i = 1; i < t.length; i++) if (/^c\d+$/.test(t[i])) t[i] = 'c<cas>';
  } else return line;
  return t.join(' ');
}

/**
 * Mask the clock in meta replies: t<n> (not t-1), l<n>, and me's exp=, la=, cas= (wherever they stand: me prints a
 * binary key as it is, so a key's CR LF may part them from the ME).
 */
export function maskMetaTimes(reply: Buffer): Buffer {
  const lines = reply.toString('latin1').split('\r\n').map((line) => {
    if (line.includes(' exp=')) return line.replace(/ exp=-?\d+ la=\d+ cas=\d+/, ' exp=<t> la=<t> cas=<cas>');
    if (!/^(VA|HD|EN|EX|NF|NS) ?/.test(line)) return line;
    return line.split(' ').map((w) => (/^t\d+$/.test(w) ? 't<t>' : /^l\d+$/.test(w) ? 'l<t>' : w)).join(' ');
  });
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** Zero the CAS field (header bytes 16..23) of every binary response packet. */
function maskBinary(reply: Buffer): Buffer {
  const out = Buffer.from(reply);
  for (let at = 0; at + 24 <= out.length && out[at] === 0x81;) {
    out.fill(0, at + 16, at + 24);
    at += 24 + out.readUInt32BE(at + 8);
  }
  return out;
}

/**
 * Send each request with the sentinel after it; the replies, one per request. `endWriting`: after the last request
 * the client sends its FIN and reads on, until the server hangs up.
 */
export async function runScript(
  port: number, script: Array<string | Buffer>, sentinel = MN_SENTINEL, endWriting = false, tls = false,
): Promise<Buffer[]> {
  const c = await connect(port, tls);
  const replies: Buffer[] = [];
  try {
    for (const [i, req] of script.entries()) {
      const { reply, hungUp } = await exchange(c, req, sentinel, endWriting && i === script.length - 1);
      replies.push(reply);
      if (hungUp) break;
    }
  } finally { c.end(); }
  return replies;
}

function connect(port: number, tls: boolean): Promise<Client> {
  return tls ? Client.connectTls(port) : Client.connect(port);
}

/** One request and its sentinel: the reply before the sentinel's, or what came before the server hung up and "<closed>". */
async function exchange(c: Client, req: string | Buffer, sentinel: Sentinel, endWriting: boolean): Promise<{ reply: Buffer; hungUp: boolean }> {
  await c.send(Buffer.concat([bytes(req), sentinel.send]));
  if (endWriting) c.endWriting();
  try {
    return { reply: (await c.readUntil(sentinel.reply)).subarray(0, -sentinel.reply.length), hungUp: false };
  } catch (e) {
    if (c.isOpen) throw e;
    return { reply: Buffer.concat([c.pending(), CLOSED]), hungUp: true };
  }
}

/** The index of the first request whose replies differ (one side without a reply differs); -1 when all agree. */
export function differingAt<T extends Buffer | string>(a: T[], b: T[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (!sameReply(a[i], b[i])) return i;
  return -1;
}

function sameReply(x: Buffer | string | undefined, y: Buffer | string | undefined): boolean {
  if (typeof x === 'string' || typeof y === 'string') return x === y;
  return x !== undefined && y !== undefined && x.equals(y);
}

/** The first request whose (masked) replies differ, described; null when all agree. */
export function firstDifference(
  script: Array<string | Buffer>, a: Buffer[], b: Buffer[], names: [string, string],
): string | null {
  const i = differingAt(a, b);
  if (i < 0) return null;
  const x = a[i] ?? Buffer.from('<no reply: connection gone>');
  const y = b[i] ?? Buffer.from('<no reply: connection gone>');
  let at = 0;
  while (at < x.length && x[at] === y[at]) at++;
  return `request ${i + 1}: "${show(bytes(script[i] ?? ''), 300)}"\n  first difference at byte ${at}` +
    ` (of ${x.length} and ${y.length}); from byte ${window(at)}:\n` +
    `  ${names[0]}: "${show(x.subarray(window(at)), 300)}"\n  ${names[1]}: "${show(y.subarray(window(at)), 300)}"`;
}

/** Where to start showing a difference: a little context before it. */
function window(at: number): number {
  return Math.max(0, at - 60);
}

/** Register a test: the script against both servers, replies masked, byte-equal request by request. */
export function differential(name: string, script: Array<string | Buffer>, opts: DifferentialOptions = {}): void {
  compareServers(name, script, (port) => runScript(port, script, opts.sentinel, opts.endWriting, opts.tls), opts);
}

/** A request and the connection it goes on (an index into the sentinels given with the script). */
export type ConnRequest = { conn: number; req: string | Buffer };

/**
 * Register a test: the script over several connections to one server (one per sentinel, each speaking the protocol
 * its sentinel does), one request at a time, against both servers; replies masked, byte-equal request by request.
 */
export function differentialAcross(name: string, sentinels: Sentinel[], script: ConnRequest[], opts: DifferentialOptions = {}): void {
  const shown = script.map(({ conn, req }) => Buffer.concat([Buffer.from(`<conn ${conn}> `), bytes(req)]));
  compareServers(name, shown, (port) => runAcross(port, sentinels, script, opts.tls), opts);
}

/** As runScript, each request on its own connection, with that connection's sentinel after it. */
export async function runAcross(port: number, sentinels: Sentinel[], script: ConnRequest[], tls = false): Promise<Buffer[]> {
  const conns = await Promise.all(sentinels.map(() => connect(port, tls)));
  const replies: Buffer[] = [];
  try {
    for (const { conn, req } of script) {
      const { reply, hungUp } = await exchange(conns[conn], req, sentinels[conn], false);
      replies.push(reply);
      if (hungUp) break;
    }
  } finally { for (const c of conns) c.end(); }
  return replies;
}

/** The test body both kinds of script share: run on each server, mask, compare, and check nobody hung up. */
function compareServers(
  name: string, script: Array<string | Buffer>, run: (port: number) => Promise<Buffer[]>, opts: DifferentialOptions,
): void {
  const [kindA, kindB] = opts.servers ?? ['cachalot', 'memcached'];
  const runnable = kindsFor([kindA, kindB]).length === 2;
  if (opts.fresh === false) registerStopHook();
  test(`${name} [${kindA} vs ${kindB}]`, { skip: runnable ? false : 'memcached is not installed' }, async (t) => {
    const diff = await compareRuns(script, run, opts, (line) => t.diagnostic(line));
    if (diff !== null) assert.fail(diff);
  });
}

/**
 * The script run on each server, replies masked and compared: the first difference described, or null. With `whole`,
 * the first server must also have kept the connection to the end. `note` hears of every run of memcached again.
 */
export async function compareRuns(
  script: Array<string | Buffer>, run: (port: number) => Promise<Buffer[]>, opts: DifferentialOptions, note: (line: string) => void,
): Promise<string | null> {
  const [kindA, kindB] = opts.servers ?? ['cachalot', 'memcached'];
  const mask = (r: Buffer): Buffer => (opts.mask ? opts.mask(maskReply(r)) : maskReply(r));
  const runOn = async (kind: ServerKind): Promise<Buffer[]> => {
    const server = await serverFor(kind, opts.args ?? [], opts.fresh !== false);
    try {
      return (await run(server.port)).map(mask);
    } finally { if (opts.fresh !== false) await server.stop(); }
  };
  const ours = await runOn(kindA);
  const rerun = kindB === 'memcached' && opts.fresh !== false ? () => runOn(kindB) : null;
  const theirs = await againWhileStaleScan(ours, await runOn(kindB), rerun, note);
  const diff = firstDifference(script, ours, theirs, [kindA, kindB]);
  if (diff !== null) return `${kindA} and ${kindB} differ at ${diff}`;
  if (opts.whole === true) {
    if (ours.length !== script.length) return `${kindA} hung up after request ${ours.length}`;
    if (ours.at(-1)?.includes(CLOSED) === true) return `${kindA} hung up at the last request`;
  }
  return null;
}

/**
 * memcached 1.6.18 takes a stored counter of 2^63 or more for a number only if strchr finds no '-' from the value's
 * start. The value has no NUL of its own, so the scan runs on through what the chunk held before and, where an
 * older item filled the chunk, into the next chunk's header, whose pointers ASLR places: a '-' byte met anywhere
 * there makes it refuse the counter as non-numeric, and the next run of the same script may not (1.6.22 fixed the
 * scan; Cachalot reads the value alone, README "Status"). A run where memcached refuses more counters in one reply
 * than we do is not an answer to compare with: memcached runs the script again, fresh, up to three more times, and
 * only a refusal it makes every time is a difference.
 */
export async function againWhileStaleScan<T extends Buffer | string>(
  ours: T[], theirs: T[], rerun: (() => Promise<T[]>) | null, note: (line: string) => void,
): Promise<T[]> {
  for (let again = 1; again <= 3 && rerun !== null; again++) {
    const at = differingAt(ours, theirs);
    if (at < 0 || nonNumericCount(theirs[at]) <= nonNumericCount(ours[at])) break;
    note(`memcached refused a counter at request ${at + 1} that we counted: its scan past the value, run ${again + 1}`);
    theirs = await rerun();
  }
  return theirs;
}

function nonNumericCount(reply: Buffer | string | undefined): number {
  const text = typeof reply === 'string' ? reply : reply?.toString('latin1') ?? '';
  return text.match(/non-numeric/gi)?.length ?? 0;
}

/** A script's requests pipelined, one to four in each write (seeded): replies batched as memcached batches them. */
export function pipelined<T extends string | Buffer>(script: T[], seed: number): T[] {
  const r = mulberry32(seed);
  const writes: T[] = [];
  for (let i = 0; i < script.length;) {
    const n = 1 + Math.floor(r() * 4);
    const batch = script.slice(i, i + n);
    writes.push((batch.every((req) => typeof req === 'string') ? batch.join('') : Buffer.concat(batch.map(bytes))) as T);
    i += n;
  }
  return writes;
}

/**
 * Counters whose values the requests alone decide. Not curr_items, get_expired or reclaimed: memcached's LRU
 * maintainer and crawler reap expired and flushed items whenever they get to them.
 */
export const REQUEST_COUNTERS: ReadonlySet<string> = new Set(['cmd_get', 'cmd_set', 'cmd_flush', 'cmd_touch', 'get_hits',
  'get_misses', 'delete_misses', 'delete_hits', 'incr_misses', 'incr_hits', 'decr_misses', 'decr_hits', 'cas_misses',
  'cas_hits', 'cas_badval', 'touch_hits', 'touch_misses', 'total_items']);

/** A mask for a text `stats` reply: only the STAT lines named, and its END. Other replies pass unchanged. */
export function keepTextStats(names: ReadonlySet<string>): (reply: Buffer) => Buffer {
  return (reply) => {
    const text = reply.toString('latin1');
    if (!text.startsWith('STAT ')) return reply;
    const kept = text.split('\r\n').filter((line) => line === 'END' || line === '' || names.has(line.split(' ')[1]));
    return Buffer.from(kept.join('\r\n'), 'latin1');
  };
}

/**
 * A mask for binary STAT replies: only the stat packets named (and the end packet), as `name=value;`. Other
 * replies pass unchanged.
 */
export function keepBinaryStats(names: ReadonlySet<string>): (reply: Buffer) => Buffer {
  return (reply) => {
    const { packets } = parseBinResponses(reply);
    if (packets.length < 2 || packets[0].opcode !== Op.STAT) return reply;
    const kept = packets.filter((p) => p.key.length === 0 || names.has(p.key.toString('latin1')));
    return Buffer.concat(kept.map((p) => Buffer.from(`${p.key.toString('latin1')}=${p.value.toString('latin1')};`)));
  };
}
