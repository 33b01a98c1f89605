// twemproxy (Debian's nutcracker 0.5.0), unchanged, in front of two Cachalots and in front of two real
// memcacheds: one transcript of raw text-protocol requests through the proxy must read the same, line by
// line, CAS numbers masked. A pool of two backends, so keys really are spread and a multi-key get is cut
// into one get per backend whose replies the proxy merges: its hardest path, and the one that depends on
// the backends' reply framing being exact. The transcript also records what the proxy refuses itself: it
// hangs up on commands it does not know (stats, flush_all, verbosity, gat/gats, every meta command, the
// binary protocol) and on keys over 250 bytes; the session then reconnects and goes on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, bytes, show } from './support/client.ts';
import { freePort, type Server, type ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { startListening, type Listening } from './support/child.ts';

const NUTCRACKER = '/usr/sbin/nutcracker';
const KEYS = Array.from({ length: 40 }, (_, i) => `${i}:key`);
const BIN = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const LONG_KEY = 'k'.repeat(250);

// Ketama places a server by its name, "host:port" unless one is given: named, the backends take the same
// keys whatever ephemeral ports they got, so both runs spread the keys alike. (twemproxy's fnv1a_64 is
// FNV-1a cut to 32 bits: keys differing only in their last characters hash close together, on one
// backend; so KEYS differ in their first.)
function config(port: number, backends: Server[]): string {
  return ['pool:', `  listen: 127.0.0.1:${port}`, '  hash: fnv1a_64', '  distribution: ketama',
    '  auto_eject_hosts: false', '  server_retry_timeout: 2000', '  timeout: 2000', '  servers:',
    ...backends.map((b, i) => `    - 127.0.0.1:${b.port}:1 backend${i}`), ''].join('\n');
}

/** nutcracker on free ports (the proxy's, and its stats port), once its proxy port accepts. */
function startProxy(dir: string, backends: Server[]): Promise<Listening> {
  const conf = join(dir, 'nutcracker.yml'), log = join(dir, 'nutcracker.log');
  return startListening('nutcracker', {
    async command(port) {
      const statsPort = await freePort();
      writeFileSync(conf, config(port, backends));
      const check = spawnSync(NUTCRACKER, ['-t', '-c', conf], { encoding: 'utf8' });
      assert.equal(check.status, 0, `nutcracker -t refused the config:\n${check.stderr}`);
      return [NUTCRACKER, ['-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-o', log, '-v', '5']];
    },
    log, stopSignal: 'SIGTERM',
  });
}

/** A reply's parts: its lines and data blocks, raw; `closed` when the proxy hung up instead. */
type Reply = { parts: Buffer[]; closed: boolean };

/** One reply: a line, or VALUE blocks (line, then as many data bytes as it says) up to the line after them. */
async function readReply(c: Client): Promise<Reply> {
  const parts: Buffer[] = [];
  try {
    for (;;) {
      const line = await c.readUntil('\r\n');
      parts.push(line);
      const value = /^VALUE \S+ \d+ (\d+)/.exec(line.toString('latin1'));
      if (!value) return { parts, closed: false };
      parts.push(await c.read(Number(value[1]) + 2));
    }
  } catch (e) {
    if (c.isOpen) throw e;
    if (c.pending().length > 0) parts.push(c.pending());
    return { parts, closed: true };
  }
}

/** CAS uniques differ between servers: the cas field of VALUE lines and of cas requests is masked. */
function mask(line: string): string {
  const t = line.split(' ');
  if (t[0] === 'VALUE' && t.length === 5) t[4] = t[4].replace(/\d+/, '<cas>');
  if (t[0] === 'cas' && t.length >= 6) t[5] = t[5].replace(/\d+/, '<cas>');
  return t.join(' ');
}

/** A part as one transcript line; a long one by its length and digest (a hash compares it whole). */
function record(part: Buffer): string {
  if (part.length <= 300) return mask(show(part));
  return `${show(part.subarray(0, 40))}... <${part.length} bytes, sha1 ${createHash('sha1').update(part).digest('hex')}>`;
}

/** One connection to the proxy, opened again after the proxy hangs up; every request and reply recorded. */
class Session {
  readonly lines: string[] = [];
  private readonly port: number;
  private c: Client | null = null;

  constructor(port: number) { this.port = port; }

  /** Send, then read `replies` replies (0 for noreply); each reply whole, as one buffer. */
  async ask(send: string | Buffer, replies = 1): Promise<Buffer[]> {
    // the request's first line, and how much follows it (not the whole: a cas unique's digits would show)
    const b = bytes(send), eol = b.indexOf('\r\n'), head = eol < 0 ? b.length : eol;
    this.lines.push(`> ${record(b.subarray(0, head))}${b.length > head + 2 ? ` [+${b.length - head - 2} bytes]` : ''}`);
    this.c ??= await Client.connect(this.port);
    await this.c.send(b);
    const got: Buffer[] = [];
    for (let i = 0; i < replies; i++) {
      const r = await readReply(this.c);
      this.lines.push(...r.parts.map((p) => `< ${record(p)}`));
      got.push(Buffer.concat(r.parts));
      if (r.closed) { this.lines.push('< <closed>'); this.end(); break; }
    }
    return got;
  }

  end(): void { this.c?.end(); this.c = null; }
}

const casOf = (reply: Buffer): string => /^VALUE \S+ \d+ \d+ (\d+)/.exec(reply.toString('latin1'))?.[1] ?? 'none';
const sets = (keys: string[]): string => keys.map((k) => `set ${k} 0 0 ${k.length}\r\n${k}\r\n`).join('');

/** The transcript; the replies the test checks besides comparing transcripts. */
async function script(s: Session): Promise<{ multiGet: Buffer; big: Buffer; bin: Buffer }> {
  for (const r of ['set a 5 0 3\r\nabc\r\n', 'add a 0 0 1\r\nx\r\n', 'add b 0 0 1\r\nx\r\n', 'replace c 0 0 1\r\nx\r\n',
    'replace a 7 0 2\r\nxy\r\n', 'append a 0 0 2\r\n12\r\n', 'prepend a 0 0 2\r\n00\r\n', 'append nope 0 0 1\r\nx\r\n',
    'set e 0 0 0\r\n\r\n', 'set f 4294967297 0 1\r\nx\r\n', 'get a\r\n', 'get e f\r\n']) await s.ask(r);
  const [gets] = await s.ask('gets a\r\n');
  await s.ask(`cas a 0 0 1 ${casOf(gets)}0\r\nq\r\n`); // EXISTS: not the item's unique
  await s.ask(`cas a 0 0 1 ${casOf(gets)}\r\nq\r\n`);
  for (const r of ['cas nope 0 0 1 1\r\nq\r\n', 'gets a\r\n', 'incr a 1\r\n', 'incr n 1\r\n', 'set n 0 0 2\r\n10\r\n',
    'incr n 5\r\n', 'decr n 100\r\n', 'get n\r\n', 'incr n 18446744073709551615\r\n', 'incr n 2\r\n', 'incr n -1\r\n',
    'touch a 100\r\n', 'touch nope 100\r\n', 'delete a\r\n', 'delete a\r\n']) await s.ask(r);
  // noreply: nothing comes back, the get after them shows what each did
  for (const r of ['set q 0 0 1 noreply\r\nx\r\n', 'add q 0 0 1 noreply\r\ny\r\n', 'append q 0 0 1 noreply\r\nz\r\n',
    'prepend q 0 0 1 noreply\r\nw\r\n', 'cas q 0 0 1 1 noreply\r\nv\r\n', 'incr n 3 noreply\r\n', 'decr n 1 noreply\r\n',
    'touch q 100 noreply\r\n', 'delete b noreply\r\n', 'replace nope 0 0 1 noreply\r\nx\r\n']) await s.ask(r, 0);
  await s.ask('get q n b nope\r\n');
  await s.ask(Buffer.concat([Buffer.from('set bin 0 0 256\r\n'), BIN, Buffer.from('\r\n')]));
  const [bin] = await s.ask('get bin\r\n');
  await s.ask(`set mid 0 0 102400\r\n${'m'.repeat(102400)}\r\n`);
  const [big] = await s.ask(`set big 0 0 1048577\r\n${'B'.repeat(1048577)}\r\n`); // over memcached's -I 1m
  await s.ask('get big\r\n');
  // the proxy's fan-out: one get per backend, replies merged
  await s.ask(sets(KEYS), KEYS.length);
  const [multiGet] = await s.ask(`get ${KEYS.join(' ')} nope mid bin\r\n`);
  await s.ask(`gets ${KEYS[3]} ${KEYS[1]} nope ${KEYS[39]} ${KEYS[2]}\r\n`); // out of order, as asked
  // pipelining: 50 set+get pairs in one write
  await s.ask(Array.from({ length: 50 }, (_, i) => `set p${i} 0 0 ${i}\r\n${'p'.repeat(i)}\r\nget p${i}\r\n`).join(''), 100);
  await s.ask(`set ${LONG_KEY} 0 0 1\r\nx\r\n`);
  await s.ask(`get ${LONG_KEY}\r\n`);
  // refused by the proxy itself: it hangs up
  for (const r of [`get ${LONG_KEY}k\r\n`, `set ${LONG_KEY}k 0 0 1\r\nx\r\n`, 'delete a 0\r\n', 'stats\r\n', 'flush_all\r\n',
    'verbosity 1\r\n', 'gat 0 a\r\n', 'gats 0 a\r\n', 'mn\r\n', 'mg q v\r\n', 'ms q 1\r\nx\r\n', 'md q\r\n', 'ma n\r\n',
    'me q\r\n', 'bogus\r\n', Buffer.from([0x80, 0x0a, ...new Array<number>(22).fill(0)]), 'version\r\n', 'quit\r\n']) await s.ask(r);
  return { multiGet, big, bin };
}

/** How many of the keys each backend holds, asked directly. */
async function spread(backends: Server[]): Promise<number[]> {
  return Promise.all(backends.map(async (b) => {
    const c = await Client.connect(b.port);
    try {
      await c.send(`get ${KEYS.join(' ')}\r\n`);
      return (await c.readUntil('END\r\n')).toString('latin1').match(/^VALUE /gm)?.length ?? 0;
    } finally { c.end(); }
  }));
}

async function tour(kind: ServerKind): Promise<{ lines: string[]; spread: number[] } & Awaited<ReturnType<typeof script>>> {
  const started = await Promise.allSettled([serverFor(kind, ['-t', '2'], true), serverFor(kind, ['-t', '2'], true)]);
  const backends = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const dir = mkdtempSync(join(tmpdir(), 'twemproxy-test-'));
  try {
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const proxy = await startProxy(dir, backends);
    const session = new Session(proxy.port);
    try {
      const replies = await script(session);
      return { lines: session.lines, spread: await spread(backends), ...replies };
    } finally { session.end(); await proxy.stop(); }
  } finally {
    await Promise.all(backends.map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const skip = !existsSync(NUTCRACKER) ? 'nutcracker (twemproxy) is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('twemproxy in front of two Cachalots answers exactly as in front of two memcacheds', { skip }, async () => {
  const ours = await tour('cachalot');
  const theirs = await tour('memcached');
  for (let i = 0; i < Math.max(ours.lines.length, theirs.lines.length); i++) {
    assert.equal(ours.lines[i], theirs.lines[i], `line ${i + 1} of the transcript differs`);
  }
  // the run did real work: keys on both backends, a merged multi-get, a refused object, binary bytes intact
  assert.ok(ours.spread.every((n) => n > 0), `both backends hold some of the keys (${ours.spread.join(' + ')})`);
  assert.equal(ours.spread[0] + ours.spread[1], KEYS.length);
  assert.equal(ours.multiGet.toString('latin1').match(/^VALUE /gm)?.length, KEYS.length + 2);
  const tail = `VALUE mid 0 102400\r\n${'m'.repeat(102400)}\r\nVALUE bin 0 256\r\n${BIN.toString('latin1')}\r\nEND\r\n`;
  assert.ok(ours.multiGet.toString('latin1').endsWith(tail), 'the multi-get ends with the 100 KB and the binary value, whole');
  assert.equal(ours.big.toString('latin1'), 'SERVER_ERROR object too large for cache\r\n');
  assert.deepEqual(ours.bin, Buffer.concat([Buffer.from('VALUE bin 0 256\r\n'), BIN, Buffer.from('\r\nEND\r\n')]));
  assert.ok(ours.lines.includes('> stats') && ours.lines.at(-1) === '< <closed>', 'the proxy hung up on what it refuses');
});
