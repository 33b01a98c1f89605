// Apache httpd (Debian's 2.4) caching its pages in Cachalot and in a real memcached, unchanged: mod_cache with
// mod_cache_socache, whose store is mod_socache_memcache, which talks through apr-util's apr_memcache, a client
// with its own reply parser (a reply it does not expect marks the server dead, and every page then misses).
// On the wire: `get <key>` to look a page up; `set <key> 0 <seconds> <bytes> \r\n` (a space before the CR)
// with the whole cached response as one binary value (a struct, the URL, headers, body) to store it;
// `delete <key> 0` to drop it (after a POST, or a store the server refused); and `stats`, whose STAT lines
// it parses for mod_status. Keys are "cache-socache:" and the URL in hex. One transcript of requests (status,
// Apache's X-Cache verdict, body) must read the same through both servers: misses that store, hits read back
// (a page changed on disk is still served from the cache until a client asks for a fresh copy), Vary, HEAD,
// POST, a page over Apache's size limit, one over the server's item size, and the server's counters as
// mod_status reads them. Then 100 requests at once, twice: the first burst stores ten pages, the second
// reads every one of them back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from './support/client.ts';
import { mulberry32 } from './support/rng.ts';
import type { ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { startListening, type Listening } from './support/child.ts';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const MODULE_FILES: Record<string, string> = {
  mpm_event_module: 'mod_mpm_event.so', authz_core_module: 'mod_authz_core.so', mime_module: 'mod_mime.so',
  headers_module: 'mod_headers.so', status_module: 'mod_status.so', cache_module: 'mod_cache.so',
  cache_socache_module: 'mod_cache_socache.so', socache_memcache_module: 'mod_socache_memcache.so',
};
// Every page gets this mtime: its Last-Modified and ETag then read the same in both runs, and a page that old
// is fresh for a day by mod_cache's heuristic, so that a second request is a hit.
const MTIME = new Date('2020-01-01T00:00:00Z');
const EDITED = new Date('2021-01-01T00:00:00Z');
const BURST = 100;

function seeded(n: number, seed: number): Buffer {
  const next = mulberry32(seed);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
}

/** The pages, by path under the DocumentRoot. */
const FILES: Record<string, string | Buffer> = {
  'a.html': 'page a\n', 'b.html': 'page b\n', 'news.html': 'edition 1\n', 'gone.html': 'soon gone\n',
  'vary/lang.html': 'bonjour or hello\n', 'head.html': 'head first\n', 'post.html': 'posted to\n',
  'bytes.bin': Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256)),
  'toobig.txt': 'x'.repeat(150_000), // over CacheSocacheMaxSize's default: Apache never stores it
  'large/700k.bin': seeded(700_000, 1), // over memcached's largest slab chunk: a chunked item
  'large/1500k.bin': seeded(1_500_000, 2), // over the 1 MB item size: the server refuses the set
  ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`burst/${i}.html`, `burst page ${i}\n`])),
};

function writeSite(docs: string): void {
  for (const [path, body] of Object.entries(FILES)) {
    const file = join(docs, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, body);
    utimesSync(file, MTIME, MTIME);
  }
}

function config(dir: string, port: number, upstream: number): string {
  const docs = join(dir, 'docs');
  return [
    `ServerRoot ${dir}`, 'ServerName 127.0.0.1', `Listen 127.0.0.1:${port}`,
    ...Object.entries(MODULE_FILES).map(([name, file]) => `LoadModule ${name} ${join(MODULES, file)}`),
    `PidFile ${join(dir, 'httpd.pid')}`, `ErrorLog ${join(dir, 'error.log')}`, 'LogLevel info',
    `DefaultRuntimeDir ${dir}`, `Mutex file:${dir}`, 'User nobody', 'Group nogroup',
    // a thread for each request of a burst; a connection per request, closed once the request is done
    `ThreadLimit ${BURST}`, `ThreadsPerChild ${BURST}`, 'KeepAlive Off',
    `DocumentRoot ${docs}`, `<Directory ${docs}>`, '  Require all granted', '  AllowOverride None', '</Directory>',
    'TypesConfig /dev/null', 'AddType text/html .html', 'AddType text/plain .txt',
    `CacheSocache memcache:127.0.0.1:${upstream}`, 'CacheEnable socache /', 'CacheDisable /server-status',
    'CacheHeader on', 'CacheDetailHeader on',
    // looked up after the <Location> walk, so that a page is read back under the size limit it was stored with
    'CacheQuickHandler off', '<Location /large>', '  CacheSocacheMaxSize 2000000', '</Location>',
    '<Location /vary>', '  Header set Vary Accept-Language', '</Location>',
    '<Location /server-status>', '  SetHandler server-status', '</Location>', ''].join('\n');
}

/** apache2 -X (one process and its threads) on a free port in front of `upstream`, once that port accepts. */
function startApache(dir: string, upstream: number): Promise<Listening> {
  const conf = join(dir, 'httpd.conf');
  return startListening('apache2', {
    command(port) {
      writeFileSync(conf, config(dir, port, upstream));
      return [APACHE, ['-X', '-d', dir, '-f', conf]];
    },
    log: join(dir, 'error.log'), stopSignal: 'SIGTERM',
  });
}

type Request = { path: string; method?: string; headers?: Record<string, string> };
type Reply = { status: number; verdict: string; body: Buffer };

/** A header's value in a response head, or '-'. */
function header(head: string, name: string): string {
  return new RegExp(`^${name}: (.*)\r$`, 'mi').exec(head)?.[1] ?? '-';
}

/**
 * One request on a connection of its own, read until Apache hangs up: it does so only once the request is
 * done, its store into the cache included (the body reaches the client before that), so that the next
 * request finds what this one stored.
 */
async function ask(port: number, { path, method = 'GET', headers = {} }: Request): Promise<Reply> {
  const c = await Client.connect(port);
  try {
    const lines = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`);
    await c.send(`${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n`);
    const head = (await c.readUntil('\r\n\r\n')).toString('latin1');
    const length = method === 'HEAD' ? 0 : Number(header(head, 'Content-Length'));
    assert.ok(Number.isInteger(length), `a reply without Content-Length:\n${head}`);
    const body = await c.read(length);
    await c.closed();
    // the verdict less the " from <host>" that names this Apache
    const verdict = ['X-Cache', 'X-Cache-Detail'].map((h) => header(head, h).replace(/ from \S+$/, '')).join(' ');
    return { status: Number(head.slice(9, 12)), verdict, body };
  } finally { c.end(); }
}

/** A body as a transcript shows it: short text as it is, anything else by its size and hash. */
function showBody(b: Buffer): string {
  if (b.length <= 64 && !b.some((c) => c < 0x20 && c !== 0x0a)) return JSON.stringify(b.toString('latin1'));
  return `<${b.length} bytes, sha1 ${createHash('sha1').update(b).digest('hex').slice(0, 12)}>`;
}

/** A request of the tour, or a change to the site between two requests. */
type Step = string | Request | { edit: string; body: string } | { remove: string };

const NO_CACHE = { 'Cache-Control': 'no-cache' };
const lang = (l: string): Request => ({ path: '/vary/lang.html', headers: { 'Accept-Language': l } });

const TOUR: Step[] = [
  '/a.html', '/a.html', '/b.html', '/a.html', '/b.html', '/a.html?v=2', '/missing.html', '/bytes.bin', '/bytes.bin',
  // the cached copy is served, whatever the disk says, until a client's no-cache fetches and stores it anew
  '/news.html', { edit: 'news.html', body: 'edition 2, longer\n' }, '/news.html', { path: '/news.html', headers: NO_CACHE },
  '/news.html',
  // the 404 of a no-cache request does not drop the cached copy
  '/gone.html', { remove: 'gone.html' }, '/gone.html', { path: '/gone.html', headers: NO_CACHE }, '/gone.html',
  '/toobig.txt', '/toobig.txt', '/large/700k.bin', '/large/700k.bin', '/large/1500k.bin', '/large/1500k.bin',
  // an entry naming the Vary header, then an entry per language under a key of its own
  lang('fr'), lang('en'), lang('fr'), lang('en'),
  { path: '/head.html', method: 'HEAD' }, { path: '/head.html', method: 'HEAD' }, '/head.html', '/head.html',
  // a POST invalidates the cached copy: Apache deletes it
  '/post.html', { path: '/post.html', method: 'POST', headers: { 'Content-Length': '0' } }, '/post.html', '/post.html',
];

/** One line per step: what the client saw, or what changed on disk. */
async function play(port: number, docs: string): Promise<string[]> {
  const lines: string[] = [];
  for (const step of TOUR) {
    if (typeof step === 'object' && 'edit' in step) {
      writeFileSync(join(docs, step.edit), step.body);
      utimesSync(join(docs, step.edit), EDITED, EDITED);
      lines.push(`(${step.edit} edited)`);
    } else if (typeof step === 'object' && 'remove' in step) {
      unlinkSync(join(docs, step.remove));
      lines.push(`(${step.remove} removed)`);
    } else {
      const req = typeof step === 'string' ? { path: step } : step;
      const { status, verdict, body } = await ask(port, req);
      const sent = Object.entries(req.headers ?? {}).map(([k, v]) => ` ${k}: ${v}`).join('');
      lines.push(`${req.method ?? 'GET'} ${req.path}${sent} -> ${status} ${verdict} ${showBody(body)}`);
    }
  }
  return lines;
}

/** mod_status's lines on the cache server, from apr_memcache's parse of `stats`; the byte count left out. */
async function statusLines(port: number): Promise<string[]> {
  const { body } = await ask(port, { path: '/server-status?auto' });
  return body.toString('latin1').split('\n').filter((l) => /^(Memcached server|Storage::|Cache::)/.test(l))
    .map((l) => l.replace(/127\.0\.0\.1:\d+/, '<server>').replace(/, Bytes: \d+/, '').trimEnd());
}

/** The ten burst pages, BURST requests at once: each distinct answer, with how many gave it. */
async function burst(port: number, withVerdict: boolean): Promise<string[]> {
  const replies = await Promise.all(Array.from({ length: BURST }, (_, i) => ask(port, { path: `/burst/${i % 10}.html` })));
  const counts = new Map<string, number>();
  for (const r of replies) {
    const answer = `${r.status} ${withVerdict ? r.verdict + ' ' : ''}${showBody(r.body)}`;
    counts.set(answer, (counts.get(answer) ?? 0) + 1);
  }
  return [...counts].map(([answer, n]) => `${n} x ${answer}`).sort();
}

type Run = { lines: string[]; status: string[]; stats: Map<string, string>; bursts: string[][] };

/**
 * The tour through Apache in front of a fresh server of this kind, then two bursts: the first misses and
 * stores (who wins each race differs from run to run, so only its pages are kept), the second hits.
 */
async function tour(kind: ServerKind): Promise<Run> {
  const server = await serverFor(kind, ['-t', '2'], true);
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-apache-'));
  let apache: Listening | null = null;
  try {
    chmodSync(dir, 0o755); // made 0700; Apache's thread reads the pages as nobody
    writeSite(join(dir, 'docs'));
    apache = await startApache(dir, server.port);
    const lines = await play(apache.port, join(dir, 'docs'));
    const status = await statusLines(apache.port);
    const stats = await Client.statsOf(server.port);
    const bursts = [await burst(apache.port, false), await burst(apache.port, true)];
    return { lines, status, stats, bursts };
  } finally {
    await apache?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const skip = !existsSync(APACHE) || Object.values(MODULE_FILES).some((f) => !existsSync(join(MODULES, f)))
  ? 'apache2 or one of its modules (mod_cache, mod_cache_socache, mod_socache_memcache...) is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('Apache\'s mod_cache_socache sees the same answers from Cachalot as from memcached', { skip }, async () => {
  const ours = await tour('cachalot');
  const theirs = await tour('memcached');
  for (let i = 0; i < Math.max(ours.lines.length, theirs.lines.length); i++) {
    assert.equal(ours.lines[i], theirs.lines[i], `step ${i + 1} of the tour`);
  }
  assert.deepEqual(ours.status, theirs.status, 'the server\'s counters, as mod_status shows them');
  assert.deepEqual(ours.bursts, theirs.bursts, 'the bursts');

  const hit = (path: string, body: string): string => `GET ${path} -> 200 HIT "cache hit" ${body}`;
  assert.ok(ours.lines.includes(hit('/a.html', '"page a\\n"')), 'a page read back from the server');
  assert.equal(ours.lines.filter((l) => l === hit('/news.html', '"edition 1\\n"')).length, 1,
    'the page changed on disk, served as the server has it');
  assert.ok(ours.lines.includes(hit('/news.html', '"edition 2, longer\\n"')), 'the new edition, stored over the old');
  assert.ok(ours.lines.includes(hit('/large/700k.bin', '<700000 bytes, sha1 929b8f12b79b>')), 'a 700 KB value');
  assert.ok(!ours.lines.some((l) => l.startsWith('GET /large/1500k.bin -> 200 HIT')), 'the server refused 1.5 MB');
  const [served, seen] = [ours.status[0], ours.status[2]];
  assert.equal(served, 'Memcached server: <server> [Up]', 'apr_memcache never found a reply it could not parse');
  const stat = (name: string): string => ours.stats.get(name) ?? '?';
  assert.equal(seen, `Cache:: Gets: ${stat('cmd_get')}, Sets: ${stat('cmd_set')}, Hits: ${stat('get_hits')}, ` +
    `Misses: ${stat('get_misses')}`, 'apr_memcache read Cachalot\'s stats as they are');
  assert.ok(Number(stat('get_hits')) >= 10 && Number(stat('cmd_set')) >= 10, 'pages stored and read back');
  assert.deepEqual(ours.bursts[0], Array.from({ length: 10 }, (_, i) => `10 x 200 "burst page ${i}\\n"`));
  assert.deepEqual(ours.bursts[1], Array.from({ length: 10 }, (_, i) => `10 x 200 HIT "cache hit" "burst page ${i}\\n"`),
    'the second burst, all read back from the server');
});
