// The administrative commands: `lru`, `lru_crawler` (crawl, metadump, tocrawl, sleep, enable, disable),
// `stats cachedump`, `extstore`, and what they change in `stats settings` — the same bytes as memcached 1.6.18
// for every form and error. Then what only a listing of every key can show: a metadump of many keys lists
// each live one exactly once, in pieces, without holding up other clients, and the connection takes commands
// again after its END; memcached's own memcached-tool dumps a Cachalot server unchanged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { differential, VOLATILE_STATS } from './support/differential.ts';
import { kindsFor, serverFor, registerStopHook, spec } from './support/spec.ts';
import { Client } from './support/client.ts';
import { sleep } from './support/server.ts';

registerStopHook();

/**
 * Listings carry wall-clock times and CAS numbers, and their order follows each server's LRU juggling. A crawl
 * asked for while the server's own periodic crawl (or the one asked for before) runs is BUSY on either server:
 * that counts as its OK; so does `crawl hash`'s refusal, which is BUSY in the same case (a test of its own below).
 */
function maskListing(reply: Buffer): Buffer {
  const text = reply.toString('latin1')
    .replace(/^(BUSY currently processing crawler request|ERROR an unknown error happened)\r\n$/, 'OK\r\n');
  if (!text.startsWith('key=')) return Buffer.from(text.replace(/ \d{9,} s\]/g, ' <t> s]'), 'latin1');
  const lines = text.split('\n');
  const end = lines.pop();
  const masked = lines.map((l) => l.replace(/ la=\d+/, ' la=<t>').replace(/ exp=\d+/, ' exp=<t>').replace(/ cas=\d+/, ' cas=<n>'));
  return Buffer.from([...masked.sort(), end].join('\n'), 'latin1');
}

differential('admin: lru_crawler, stats cachedump, lru, extstore: every form and error', [
  // flat mode first: new items go straight to COLD, where cachedump looks, on both servers at once
  'lru mode flat\r\n',
  'set a 0 0 1\r\nx\r\n', 'set bb 5 100 3\r\nxyz\r\n', 'set k%/\xe9~_.- 0 0 1\r\nx\r\n', 'get a\r\n',
  'lru_crawler metadump\r\n',
  'lru_crawler metadump 99\r\n', 'lru_crawler metadump 0\r\n', 'lru_crawler metadump foo\r\n',
  'lru_crawler metadump all extra\r\n', 'version\r\nlru_crawler metadump all\r\n',
  'lru_crawler crawl all\r\n', 'lru_crawler crawl 64\r\n', 'lru_crawler crawl 0\r\n', 'lru_crawler crawl\r\n',
  'lru_crawler crawl hash\r\n', 'lru_crawler crawl 1,x\r\n', 'lru_crawler crawl 1 2\r\n',
  'lru_crawler tocrawl 5\r\n', 'lru_crawler tocrawl x\r\n', 'lru_crawler tocrawl -1\r\n',
  'lru_crawler sleep 100\r\n', 'lru_crawler sleep 2000000\r\n', 'lru_crawler sleep x\r\n',
  'lru_crawler enable\r\n', 'lru_crawler\r\n', 'lru_crawler foo\r\n',
  'stats cachedump 1 0\r\n', 'stats cachedump 1 1\r\n', 'stats cachedump 2 0\r\n', 'stats cachedump 99 0\r\n',
  'stats cachedump 1\r\n', 'stats cachedump\r\n', 'stats cachedump x y\r\n', 'stats cachedump 0 0\r\n',
  'lru mode segmented\r\n', 'lru mode x\r\n', 'lru tune 10 25 0.1 2.0\r\n', 'lru tune 10 25 0.1\r\n',
  'lru tune 90 25 0.1 2.0\r\n', 'lru tune 10 25 0 2\r\n', 'lru tune -1 25 0.1 2\r\n', 'lru tune 10 25 1e1 0x1p1\r\n',
  'lru tune 10 25 0.1 2.0 noreply\r\n', 'lru temp_ttl 10\r\n', 'lru temp_ttl x\r\n', 'lru\r\n', 'lru x\r\n',
  'extstore\r\n', 'extstore compact_under 1\r\n', 'extstore x\r\n', 'extstore max_frag 0.5\r\n',
  'extstore max_frag x\r\n', 'extstore free_memchunks 1 2\r\n', 'extstore free_memchunks 1\r\n',
  'extstore item_size 1 noreply\r\n', 'extstore low_ttl x\r\n', 'extstore drop_unread 5\r\n', 'watch foo\r\n',
  'stats settings\r\n', 'lru temp_ttl -1\r\n', 'lru_crawler tocrawl 0\r\n', 'stats settings\r\n',
  // memcached's crawler thread stops a moment after `disable`; what is asked meanwhile is a spec below
  'lru_crawler disable\r\n', 'lru_crawler disable\r\n',
], { mask: maskListing });

// memcached prints a stat's value into a 128-byte buffer (less one, and its NUL): %.2f of 1e300 is cut there.
differential('admin: a stat value longer than 126 bytes is cut there, as memcached\'s buffer cuts it', [
  'lru tune 20 40 1e300 1e200\r\n', 'slabs automove ratio 1e127\r\n', 'extstore max_frag 1e124\r\n', 'stats settings\r\n',
], { fresh: true });

for (const kind of kindsFor()) {
  test(`admin: lru_crawler crawl hash is refused (BUSY while a crawl runs) [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      let reply = BUSY;
      for (let tries = 0; reply === BUSY && tries < 100; tries++) {
        if (tries > 0) await sleep(50);
        await c.send('lru_crawler crawl hash\r\n');
        reply = (await c.readUntil('\r\n')).toString();
      }
      assert.equal(reply, 'ERROR an unknown error happened\r\n');
    } finally { c.end(); await server.stop(); }
  });
}

spec('admin: a disabled crawler refuses crawls and listings until enabled again', [
  ['lru_crawler disable\r\n', 'OK\r\n'],
  ['lru_crawler crawl 1\r\n', 'CLIENT_ERROR lru crawler disabled\r\n'],
  ['lru_crawler metadump all\r\n', 'CLIENT_ERROR lru crawler disabled\r\n'],
  ['lru_crawler enable\r\n', 'OK\r\n'],
  ['lru_crawler metadump 2\r\n', 'END\r\n'],
], { against: ['cachalot'], fresh: true });

// A class list of commas names no class: nothing to start. (Without the maintainer no crawl of its own runs, which
// would make memcached answer BUSY first. memcached then keeps the listing's connection as its crawler's client
// and fails every later metadump; Cachalot does not, so the listing comes last here.)
spec('admin: a crawl or a listing of no class at all is NOTSTARTED', [
  ['lru_crawler crawl ,\r\n', 'NOTSTARTED no items to crawl\r\n'],
  ['lru_crawler crawl ,,,\r\n', 'NOTSTARTED no items to crawl\r\n'],
  ['lru_crawler crawl ,0\r\n', 'BADCLASS invalid class id\r\n'],
  ['lru_crawler metadump ,\r\n', 'NOTSTARTED no items to crawl\r\n'],
], { args: ['-o', 'no_lru_maintainer'], fresh: true, split: false });

// A listing is sent alone: memcached drops what was pipelined behind a metadump in the same read (Cachalot
// answers it after END), so the differential's sentinel cannot follow one.
for (const kind of kindsFor()) {
  test(`admin: metadump lines, byte for byte as memcached's, for every class list [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      await c.send('set a 0 0 1\r\nx\r\nset bb 5 100 3\r\nxyz\r\nset k%/\xe9~_.- 0 0 1\r\nx\r\nget a\r\n');
      await c.readUntil('END\r\n');
      const started = Math.floor(Date.now() / 1000);
      for (const classes of ['all', '1', '1,2', 'hash', '5']) {
        const keys = await metadumpKeys(c, classes);
        if (classes === '5') { assert.equal(keys.size, 0); continue; }
        assert.deepEqual([...keys.keys()].sort(), ['a', 'bb', 'k%/\xe9~_.-']);
        const la = (line: string): number => Number(/ la=(\d+) /.exec(line)?.[1]);
        assert.ok(Math.abs(la(keys.get('a') ?? '') - started) < 100, 'la is unix time');
        const shape = (line: string): string => line.replace(/ la=\d+/, '').replace(/ exp=\d+/, ' exp=<t>').replace(/ cas=\d+/, ' cas=<n>');
        assert.equal(shape(keys.get('a') ?? ''), 'key=a exp=-1 cas=<n> fetch=yes cls=1 size=61');
        assert.equal(shape(keys.get('bb') ?? ''), 'key=bb exp=<t> cas=<n> fetch=no cls=1 size=68');
        assert.equal(shape(keys.get('k%/\xe9~_.-') ?? ''), 'key=k%25%2F%E9~_.- exp=-1 cas=<n> fetch=no cls=1 size=68');
      }
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`admin: a metadump may follow a get or mn in the same read, as their replies are already sent [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      await c.send('set a 0 0 1\r\nx\r\n');
      assert.equal(await c.readLine(), 'STORED');
      for (const [before, reply] of [['get a\r\n', 'VALUE a 0 1\r\nx\r\nEND\r\n'], ['mn\r\n', 'MN\r\n']]) {
        let listing = BUSY;
        // memcached's crawler can miss an item its maintainer moves between LRUs during the walk: walk again
        for (let tries = 0; (listing === BUSY || listing === 'END\r\n') && tries < 100; tries++) {
          if (tries > 0) await sleep(50);
          await c.send(`${before}lru_crawler metadump all\r\n`);
          assert.equal((await c.readUntil(reply)).toString(), reply);
          const first = (await c.readUntil('\n')).toString('latin1');
          listing = first === BUSY || first === 'END\r\n' ? first : first + (await c.readUntil('END\r\n')).toString('latin1');
        }
        assert.match(listing, /^key=a exp=-1 la=\d+ cas=\d+ fetch=(yes|no) cls=1 size=61\nEND\r\n$/, `after ${before}`);
      }
    } finally { c.end(); await server.stop(); }
  });
}

/** What moves with the timing of each server's LRU maintainer: ages, and the HOT/WARM/COLD split. */
const maskItems = (r: Buffer): Buffer => Buffer.from(r.toString('latin1')
  .replace(/(age(_hot|_warm)?|evicted_time|mem_requested|number_(hot|warm|cold)|moves_\w+|crawler_\w+) \d+/g, '$1 <t>'), 'latin1');

differential('admin: lru temp_ttl puts short-lived items in the TEMP LRU, counted in stats items', [
  'lru temp_ttl 30\r\n', 'set short 0 20 1\r\nx\r\n', 'set long 0 100 1\r\nx\r\n', 'set never 0 0 1\r\nx\r\n',
  'stats items\r\n', 'lru temp_ttl -1\r\n', 'set short2 0 20 1\r\nx\r\n', 'stats items\r\n',
], { mask: maskItems });

differential('admin: lru mode flat links new items into COLD, the only LRU in flat mode', [
  'lru mode flat\r\n', 'set a 0 0 1\r\nx\r\n', 'set b 0 0 1\r\nx\r\n', 'stats items\r\n',
], { mask: maskItems });

differential('admin: without the LRU maintainer stats items leaves out the segmented LRUs and their counters', [
  'set a 0 0 1\r\nx\r\n', 'get a\r\n', 'stats items\r\n', 'stats\r\n',
], { mask: maskItems, args: ['-o', 'no_lru_maintainer'] });

differential('admin: HTTP requests are hung up on', ['GET / HTTP/1.1\r\n']);
// no command is a single byte: memcached answers ERROR before it looks for an HTTP version
differential('admin: a one-byte command word is an ERROR, HTTP version or not', ['x HTTP/\r\n', 'G / HTTP/1.1\r\n', 'version\r\n']);
// a known command with the wrong number of words is memcached's WANT_TOKENS ERROR, HTTP version or not
differential('admin: a known command with too many words is an ERROR, even ending in an HTTP version', [
  'flush_all 0 q HTTP/1.1\r\n', 'verbosity 1 noreply HTTP/1.1\r\n', 'verbosity a b c HTTP/1.0\r\n', 'version\r\n',
  'bget\r\n', 'lru\r\n', 'flush_all a b HTTP/1.1\r\n', 'version\r\n',
]);

// memcached's crawler rests lru_crawler_sleep µs after every 1000 items it checks: at a second a rest, a crawl of 3000
// items is still running (and another BUSY) well after it began. Without the LRU maintainer no crawl of the server's
// own is there first.
for (const kind of kindsFor()) {
  test(`admin: a crawl rests lru_crawler_sleep after each 1000 items, and stays BUSY meanwhile [${kind}]`, async () => {
    const server = await serverFor(kind, ['-o', 'no_lru_maintainer'], true);
    const c = await Client.connect(server.port);
    try {
      let sets = '';
      for (let i = 0; i < 3000; i++) sets += `set k${i} 0 0 1 noreply\r\nx\r\n`;
      await c.send(sets);
      assert.equal((await c.request('lru_crawler sleep 1000000\r\n', 4)).toString(), 'OK\r\n');
      assert.equal((await c.request('lru_crawler crawl all\r\n', 4)).toString(), 'OK\r\n');
      // Real time, as memcached has no debugtime: without its rests the crawl of 3000 items is over within a few
      // ms; with them it runs two seconds, so a loaded machine cannot make this pass or fail wrongly.
      await sleep(300);
      assert.equal((await c.request('lru_crawler crawl all\r\n', BUSY.length)).toString(), BUSY);
      assert.equal((await c.stats()).get('lru_crawler_running'), '1');
    } finally { c.end(); await server.stop(); }
  });
}

// A metadump is a run of memcached's crawler: it counts in lru_crawler_starts, and what it looks at in each class's
// crawler_items_checked (a walk of the hash table, `metadump hash`, in no class). Without the LRU maintainer no
// crawl of the server's own comes between.
for (const kind of kindsFor()) {
  test(`admin: a metadump is a crawler run, its items counted as checked [${kind}]`, async () => {
    const server = await serverFor(kind, ['-o', 'no_lru_maintainer'], true);
    const c = await Client.connect(server.port);
    try {
      await c.request(`set a 0 0 1\r\nx\r\nset b 0 0 1\r\nx\r\nset big 0 0 1000\r\n${'v'.repeat(1000)}\r\n`, 3 * 8);
      const bigClass = (await c.stats('items')).has('items:12:number') ? 12 : -1;
      assert.equal(bigClass, 12, 'a 1000-byte value in class 12');
      const seen = async (): Promise<string[]> => {
        const general = await c.stats(), items = await c.stats('items');
        return [general.get('lru_crawler_starts'), items.get('items:1:crawler_items_checked'), items.get('items:12:crawler_items_checked')]
          .map((v) => v ?? 'absent');
      };
      assert.equal((await metadumpKeys(c, 'all')).size, 3);
      assert.deepEqual(await seen(), ['1', '2', '1']);
      assert.equal((await metadumpKeys(c, '1')).size, 2);
      assert.deepEqual(await seen(), ['2', '4', '1']);
      assert.equal((await metadumpKeys(c, 'hash')).size, 3);
      assert.deepEqual(await seen(), ['3', '4', '1']);
    } finally { c.end(); await server.stop(); }
  });
}

// memcached's crawls of its own are scheduled by its LRU maintainer thread, which -o no_lru_maintainer does not start:
// expired items then stay until a lookup, an allocation's tail pull or an asked-for crawl finds them.
for (const kind of kindsFor()) {
  test(`admin: without the LRU maintainer no crawl starts by itself; an asked-for one reclaims [${kind}]`, async () => {
    const server = await serverFor(kind, ['-o', 'no_lru_maintainer'], true);
    const c = await Client.connect(server.port);
    const stat = async (sub: string, name: string): Promise<string> => (await c.stats(sub)).get(name) ?? 'absent';
    try {
      const clock = async (): Promise<number> => Number(await stat('', 'time'));
      const setAt = await clock();
      await c.request('set x1 0 1 1\r\nv\r\nset x2 0 1 1\r\nv\r\nset keep 0 0 1\r\nv\r\n', 3 * 8);
      // (real time: memcached has no debugtime) the server's clock past x1's and x2's second, which a crawl
      // reclaims once it has passed ('<'), and past a maintainer's round; a loaded machine's clock ticks late
      await sleep(2100);
      for (let i = 0; i < 200 && await clock() < setAt + 3; i++) await sleep(20);
      assert.equal(await stat('', 'lru_crawler_starts'), '0');
      assert.equal(await stat('items', 'items:1:crawler_reclaimed'), '0');
      assert.equal(await stat('', 'curr_items'), '3');
      assert.equal((await c.request('lru_crawler crawl 1\r\n', 4)).toString(), 'OK\r\n');
      // the crawl is taken up by the crawler's next round: wait until it has started and is done
      const crawled = async (): Promise<boolean> =>
        await stat('', 'lru_crawler_starts') === '1' && await stat('', 'lru_crawler_running') === '0';
      for (let i = 0; i < 250 && !await crawled(); i++) await sleep(20);
      assert.equal(await stat('', 'lru_crawler_starts'), '1');
      assert.equal(await stat('items', 'items:1:crawler_reclaimed'), '2');
      assert.equal(await stat('', 'curr_items'), '1');
    } finally { c.end(); await server.stop(); }
  });
}

const BUSY = 'BUSY currently processing crawler request\r\n';

/**
 * A metadump's lines by key, until END, and how often each key was listed. memcached runs one crawl at a time
 * and its own start-up and periodic crawls can hold the crawler for a moment: it then answers BUSY, and we
 * ask again. busyBytes: those BUSY replies, which the worker sent and counted in bytes_written.
 */
async function metadump(c: Client, classes = 'all'): Promise<{ lines: Map<string, string>; counts: Map<string, number>; busyBytes: number }> {
  let text = BUSY, busyBytes = 0;
  for (let tries = 0; text === BUSY && tries < 100; tries++) {
    if (tries > 0) await sleep(50);
    await c.send(`lru_crawler metadump ${classes}\r\n`);
    const first = await c.readLine();
    if (first.startsWith('BUSY')) busyBytes += first.length + 2;
    text = first.startsWith('BUSY') ? BUSY : `${first}\n${first === 'END' ? '' : (await c.readUntil('END\r\n')).toString('latin1')}`;
  }
  if (text.startsWith('END')) text = 'END\r\n';
  const lines = new Map<string, string>(), counts = new Map<string, number>();
  for (const line of text.slice(0, -'END\r\n'.length).split('\n').filter(Boolean)) {
    const key = (/^key=(\S+) /.exec(line)?.[1] ?? '').replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    counts.set(key, (counts.get(key) ?? 0) + 1);
    lines.set(key, line);
  }
  return { lines, counts, busyBytes };
}

/** A metadump of a store nobody changes meanwhile: every key exactly once. */
async function metadumpKeys(c: Client, classes = 'all'): Promise<Map<string, string>> {
  const { lines, counts } = await metadump(c, classes);
  assertListedOnce(counts);
  return lines;
}

function assertListedOnce(counts: Map<string, number>): void {
  for (const [key, n] of counts) assert.equal(n, 1, `${key} listed ${n} times`);
}

const N = 12_000;
const SIZES = [10, 300, 2000, 5000]; // four classes

async function fill(c: Client, prefix: string, n = N, sizes = SIZES): Promise<void> {
  let batch = '';
  for (let i = 0; i < n; i++) {
    const v = 'v'.repeat(sizes[i % sizes.length]);
    batch += `set ${prefix}${i} ${i} ${i % 5 === 0 ? -1 : 0} ${v.length} noreply\r\n${v}\r\n`;
    if (batch.length > 256 * 1024 || i === n - 1) { await c.send(batch); batch = ''; }
  }
  await c.send('mn\r\n');
  await c.readUntil('MN\r\n');
}

for (const kind of kindsFor()) {
  test(`admin: a metadump of ${N} keys in four classes lists each live one once, then takes commands again [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '256'], true);
    const c = await Client.connect(server.port);
    try {
      await fill(c, 'k:');
      const keys = await metadumpKeys(c);
      const expired = Math.ceil(N / 5);
      assert.equal(keys.size, N - expired, 'every live key, no expired one');
      const line = keys.get('k:3') ?? '';
      assert.match(line, /^key=k%3A3 exp=-1 la=\d+ cas=\d+ fetch=no cls=\d+ size=\d+$/);
      await c.send('get k:1\r\n');
      assert.equal((await c.readUntil('END\r\n')).toString().slice(0, 16), 'VALUE k:1 1 300\r');
      const onlyOne = await metadumpKeys(c, String(/ cls=(\d+) /.exec(line)?.[1]));
      assert.ok(onlyOne.size > 0 && onlyOne.size < keys.size, 'a class list narrows the walk');
    } finally { c.end(); await server.stop(); }
  });

  test(`admin: a metadump is written as memcached's crawler writes it, outside bytes_written [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      await fill(c, 'k:', 200, [10]);
      const written = async (): Promise<[number, number]> => {
        await c.send('stats\r\n');
        const reply = await c.readUntil('END\r\n');
        return [Number(/^STAT bytes_written (\d+)\r$/m.exec(reply.toString())?.[1]), reply.length];
      };
      const [before, statsReply] = await written();
      const { lines, counts, busyBytes } = await metadump(c);
      assert.equal(lines.size, 160); // fill sets every fifth key already expired
      assertListedOnce(counts);
      const [after] = await written();
      // memcached's worker counts its stats reply (and a BUSY, when a crawl of its own was running); its crawler
      // thread sends the listing (~16 KB) uncounted
      assert.equal(after - before, statsReply + busyBytes);
    } finally { c.end(); await server.stop(); }
  });

  // Lines of ~190 bytes for 100,000 keys: far more than the kernel buffers between a client that stops reading
  // and the server, so the server must hold the rest of the listing back.
  const STALL_KEYS = 100_000, LONG = `k:${'x'.repeat(100)}:`;
  test(`admin: a client that stops reading its metadump holds up nobody else, and hanging up ends it [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '256'], true);
    const loader = await Client.connect(server.port);
    const dumper = await Client.connect(server.port);
    const other = await Client.connect(server.port);
    try {
      await fill(loader, LONG, STALL_KEYS, [1]);
      dumper.pauseReading();
      await dumper.send('lru_crawler metadump all\r\n');
      // the dumper's worker (another thread) starts the dump when it gets to the command: wait until it has, so that
      // what follows is served while the dump runs (a loaded machine could otherwise run all of it first)
      for (let i = 0; i < 250 && (await other.stats()).get('lru_crawler_running') !== '1'; i++) await sleep(20);
      for (let i = 0; i < 50; i++) {
        await other.send(`set o${i} 0 0 1\r\nx\r\nget o${i}\r\n`);
        assert.equal((await other.readUntil('END\r\n')).toString(), `STORED\r\nVALUE o${i} 0 1\r\nx\r\nEND\r\n`);
      }
      // the dump is the crawler's run while it waits on its client; memcached's other crawler commands would wait
      // for the crawler's lock meanwhile (not copied: Cachalot answers BUSY)
      assert.equal((await other.stats()).get('lru_crawler_running'), '1');
      if (kind === 'cachalot') assert.equal((await other.request('lru_crawler crawl all\r\n', BUSY.length)).toString(), BUSY);
      dumper.destroy();
      await other.send(`get ${LONG}1\r\n`);
      assert.equal((await other.readUntil('END\r\n')).toString(), `VALUE ${LONG}1 1 1\r\nv\r\nEND\r\n`);
      const again = await metadumpKeys(other);
      assert.equal(again.size, STALL_KEYS - STALL_KEYS / 5 + 50, 'a later dump is whole');
    } finally { loader.end(); other.end(); await server.stop(); }
  });
}

const TOOL = '/usr/share/memcached/scripts/memcached-tool';
const toolRuns = existsSync(TOOL) && spawnSync('perl', ['-v']).status === 0;

test('admin: memcached-tool dump reads every key and value back from Cachalot', { skip: toolRuns ? false : 'memcached-tool or perl missing' }, async () => {
  const server = await serverFor('cachalot', [], true);
  const c = await Client.connect(server.port);
  try {
    const want = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      const key = `tool:${i}${i % 7 === 0 ? '%é' : ''}`, value = `value-${i}-${'x'.repeat(i)}`;
      want.set(key, `add ${key} ${i} 0 ${value.length}\r\n${value}\r\n`);
      await c.send(`set ${key} ${i} 0 ${value.length}\r\n${value}\r\n`);
      assert.equal((await c.readLine()), 'STORED');
    }
    const run = spawnSync('perl', [TOOL, `127.0.0.1:${server.port}`, 'dump'], { encoding: 'latin1', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const got = run.stdout.split(/(?=^add )/m).sort();
    assert.deepEqual(got, [...want.values()].sort());
    const display = spawnSync('perl', [TOOL, `127.0.0.1:${server.port}`, 'display'], { encoding: 'latin1', timeout: 60_000 });
    assert.match(display.stdout, /^\s+1\s+96B\s+\d+s\s+1\s+\d+\s+no\s+0\s+0\s+0$/m, display.stdout);
  } finally { c.end(); await server.stop(); }
});

/**
 * memcached-tool's report in one mode against a server, with what moves with the clock or the process masked: the
 * header's address, the ages in `display` (Max_age, Evict_Time), and in `stats` and `settings` the fields
 * VOLATILE_STATS names, the buffer pools' figures, bytes_read and written (memcached-tool's own requests), and the
 * port.
 */
function toolReport(port: number, mode: string): string {
  const run = spawnSync('perl', [TOOL, `127.0.0.1:${port}`, mode], { encoding: 'latin1', timeout: 60_000 });
  assert.equal(run.status, 0, `memcached-tool ${mode}: ${run.stderr}`);
  const masked = new Set([...VOLATILE_STATS, 'bytes_read', 'bytes_written', 'tcpport', 'conn_yields']);
  return run.stdout.replaceAll('\r', '').split('\n').map((line) => {
    if (line.startsWith('#127.0.0.1:')) return line.replace(/:\d+/, ':PORT');
    const field = /^\s*(\S+)\s+\S+$/.exec(line); // stats and settings: a field and its value
    if (field !== null && masked.has(field[1])) return `${field[1]} <masked>`; // the column's width follows the value
    const slab = line.split(/\s+/); // display: '', #, size, age, pages, count, full, evicted, evict time, oom
    if (mode === 'display' && /^\d+$/.test(slab[1] ?? '')) { slab[3] = '<age>'; slab[8] = '<age>'; return slab.join(' '); }
    return line;
  }).join('\n');
}

// memcached's own operations script reads its tables from both servers alike: the slab classes after evictions
// (`display`: sizes, pages, counts, full, evicted, OOM), the general stats and the settings. The flat LRU, so that
// evictions follow from the requests alone.
test('admin: memcached-tool display, stats and settings read the same from Cachalot as from memcached', {
  skip: !toolRuns ? 'memcached-tool or perl missing' : kindsFor().length !== 2 ? 'memcached is not installed' : false,
}, async () => {
  const reports: string[][] = [];
  for (const kind of kindsFor()) {
    const server = await serverFor(kind, ['-m', '2', '-o', 'no_lru_maintainer,no_lru_crawler'], true);
    const c = await Client.connect(server.port);
    try {
      let batch = '';
      for (let i = 0; i < 6000; i++) {
        const value = 'v'.repeat((i * 37) % 5000);
        batch += `set tool:${i} ${i} 0 ${value.length} noreply\r\n${value}\r\n`;
      }
      await c.send(`${batch}get tool:5999 tool:0\r\ndelete tool:5998\r\nmn\r\n`);
      await c.readUntil('MN\r\n');
      reports.push(['display', 'stats', 'settings'].map((mode) => toolReport(server.port, mode)));
    } finally { c.end(); await server.stop(); }
  }
  const [ours, theirs] = reports;
  for (let i = 0; i < ours.length; i++) assert.equal(ours[i], theirs[i]);
  assert.match(ours[0], /^ 19 5\.5K <age> 1 \d+ yes [1-9]\d* <age> 0$/m, 'a class that evicted');
  assert.match(ours[1], /^\s+evictions\s+[1-9]\d*$/m);
  assert.match(ours[2], /^\s+maxbytes\s+2097152$/m);
});

// A walk without a snapshot, as memcached's crawler is: an item written while the walk is on may be met more than
// once (its old chunk, then its new ones further on) or not at all; an item nobody touches is met exactly once.
test('admin: a metadump taken while other clients overwrite and delete keys lists every untouched key once', async () => {
  const server = await serverFor('cachalot', ['-t', '4', '-m', '64'], true);
  const writers = await Promise.all([0, 1, 2].map(() => Client.connect(server.port)));
  const reader = await Client.connect(server.port);
  try {
    await fill(writers[0], 'still:', 10_000, [10, 700]);
    await fill(writers[0], 'churn:', 10_000, [10, 700]);
    let stop = false;
    const churn = writers.map(async (c, w) => {
      for (let round = 0; !stop && round < 200; round++) {
        let batch = '';
        for (let i = 0; i < 200; i++) {
          const k = `churn:${(round * 997 + i * 31 + w) % 10_000}`, n = i % 2 === 0 ? 10 : 700;
          batch += i % 3 === 0 ? `delete ${k} noreply\r\n` : `set ${k} 0 0 ${n} noreply\r\n${'z'.repeat(n)}\r\n`;
        }
        await c.send(`${batch}mn\r\n`);
        await c.readUntil('MN\r\n');
      }
    });
    for (const p of churn) p.catch(() => {}); // a failure below closes the writers: report that one, not theirs
    const live = 10_000 - 10_000 / 5; // fill's every fifth key is already expired
    for (let i = 0; i < 3; i++) {
      const { lines, counts } = await metadump(reader);
      const still = [...counts].filter(([k]) => k.startsWith('still:'));
      assert.equal(still.length, live, 'every untouched live key');
      assert.ok(still.every(([, n]) => n === 1), 'each once');
      assert.ok([...counts.keys()].every((k) => k.startsWith('still:') || k.startsWith('churn:')));
      for (const line of lines.values()) assert.match(line, /^key=\S+ exp=-?\d+ la=\d+ cas=\d+ fetch=(yes|no) cls=\d+ size=\d+$/);
    }
    stop = true;
    await Promise.all(churn);
  } finally { for (const c of [...writers, reader]) c.end(); await server.stop(); }
});

// memcached's crawler hands a metadump's connection back to its worker in conn_new_cmd (conn_worker_readd), and it
// stays there until its next read; a connection that then sends a command is itself again.
for (const kind of kindsFor()) {
  test(`admin: after a metadump, stats conns shows the idle connection in conn_new_cmd until it reads [${kind}]`, async () => {
    const server = await serverFor(kind, ['-o', 'no_lru_maintainer'], true);
    const dumper = await Client.connect(server.port);
    const watcher = await Client.connect(server.port);
    const look = async (): Promise<string[]> => {
      await watcher.send('stats conns\r\n');
      const text = (await watcher.readUntil('END\r\n')).toString();
      return [...text.matchAll(/:state (\w+)\r\n/g)].map((m) => m[1]).sort();
    };
    // the states the connections rest in: seen twice in a row, none in conn_watch (memcached's crawler writes END,
    // then hands the connection back; its worker's states pass by after the client has its reply)
    const states = async (): Promise<string[]> => {
      let seen = await look();
      for (let i = 0; i < 100; i++) {
        await sleep(20);
        const again = await look();
        if (again.join() === seen.join() && !seen.includes('conn_watch')) break;
        seen = again;
      }
      return seen;
    };
    try {
      assert.equal((await dumper.request('set k 0 0 1\r\nv\r\n', 8)).toString(), 'STORED\r\n');
      await dumper.send('lru_crawler metadump all\r\n');
      await dumper.readUntil('END\r\n');
      // the listener, the dumper, and the watcher asking
      assert.deepEqual(await states(), ['conn_listening', 'conn_new_cmd', 'conn_parse_cmd']);
      assert.equal((await dumper.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      assert.deepEqual(await states(), ['conn_listening', 'conn_parse_cmd', 'conn_read']);
    } finally { dumper.end(); watcher.end(); await server.stop(); }
  });
}
