// `slabs reassign` and `slabs automove`, against memcached 1.6.18: every form and refusal byte for byte, and
// a page really moving: out of a class that holds spare room, its items rescued into that room, none lost.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { differential } from './support/differential.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { Client } from './support/client.ts';
import { sleep } from './support/server.ts';

differential('slabs: reassign and automove, every form and refusal', [
  'slabs reassign 1 1\r\n', 'slabs reassign 99 1\r\n', 'slabs reassign 1 99\r\n', 'slabs reassign -2 1\r\n',
  'slabs reassign 1 2\r\n', 'slabs reassign -1 5\r\n', 'slabs reassign 0 5\r\n', 'slabs reassign x 1\r\n',
  'slabs reassign 1 2 3\r\n', 'slabs reassign 1\r\n', 'slabs reassign 4294967297 1\r\n',
  'slabs automove 0\r\n', 'slabs automove 2\r\n', 'slabs automove 3\r\n', 'slabs automove x\r\n',
  'slabs automove -1\r\n', 'slabs automove 1 noreply\r\n', 'slabs automove ratio 0.5\r\n', 'slabs automove ratio\r\n',
  'slabs automove ratio x\r\n', 'slabs automove\r\n', 'slabs\r\n', 'slabs foo 1 2\r\n', 'stats settings\r\n',
]);

differential('slabs: reassign refused when slab_reassign is off', ['slabs reassign 1 2\r\n', 'slabs automove 1\r\n'],
  { args: ['-o', 'no_slab_reassign'] });

type Slabs = Map<number, Map<string, number>>;

/** The resident kB of a process's largest mapping (Cachalot's item arena, reserved far past what it uses). */
function largestMappingRssKb(pid: number): number {
  let largest = 0, rss = 0, size = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')) {
    const m = /^(Size|Rss):\s+(\d+) kB$/.exec(line);
    if (m === null) continue;
    if (m[1] === 'Size') size = Number(m[2]);
    else if (size > largest) { largest = size; rss = Number(m[2]); }
  }
  return rss;
}

async function stats(c: Client, sub = ''): Promise<string> {
  await c.send(`stats${sub ? ` ${sub}` : ''}\r\n`);
  return (await c.readUntil('END\r\n')).toString();
}

function stat(text: string, name: string): number {
  const m = new RegExp(`^STAT ${name} (\\d+)\\r$`, 'm').exec(text);
  assert.ok(m, `no ${name} in ${text.slice(0, 200)}`);
  return Number(m[1]);
}

function slabsOf(text: string): Slabs {
  const out: Slabs = new Map();
  for (const [, id, name, value] of text.matchAll(/^STAT (\d+):(\w+) (\d+)\r$/gm)) {
    const cls = out.get(Number(id)) ?? new Map<string, number>();
    cls.set(name, Number(value));
    out.set(Number(id), cls);
  }
  return out;
}

const pages = (s: Slabs, cls: number): number => s.get(cls)?.get('total_pages') ?? 0;

/** Sets of `prefix`0.. `prefix`(n-1) to `value`, noreply. */
function sets(prefix: string, n: number, value: string): string {
  let batch = '';
  for (let i = 0; i < n; i++) batch += `set ${prefix}${i} 0 0 ${value.length} noreply\r\n${value}\r\n`;
  return batch;
}

/** `stats` (general) read again until `done` holds of it, or 200 reads 25 ms apart: the last one read. */
async function statsUntil(c: Client, done: (general: string) => boolean): Promise<string> {
  let general = await stats(c);
  for (let i = 0; i < 200 && !done(general); i++) {
    await sleep(25);
    general = await stats(c);
  }
  return general;
}

/** The CAS of every odd key below n (the ones the rescue test keeps), by `gets`. */
async function casesOf(c: Client, n: number): Promise<Map<string, string>> {
  let gets = 'gets';
  for (let i = 1; i < n; i += 2) gets += ` k${i}`;
  await c.send(`${gets}\r\n`);
  const text = (await c.readUntil('END\r\n')).toString('latin1');
  return new Map([...text.matchAll(/^VALUE (\S+) \d+ \d+ (\d+)\r$/gm)].map((m) => [m[1], m[2]]));
}

/** Send noreply commands, then mn: all done once it answers. */
async function sendAll(c: Client, commands: string): Promise<void> {
  await c.send(`${commands}mn\r\n`);
  await c.readUntil('MN\r\n');
}

for (const kind of kindsFor()) {
  // memcached's slab_rebalance_start always takes the class's first page ("most likely to contain the oldest items"),
  // not the emptiest: with the first page full and the second nearly empty, the first page's items are rescued into
  // the second's free chunks until they run out, and the rest of them evicted. (No LRU maintainer or crawler: nothing
  // else moves items meanwhile.)
  test(`slabs: reassign takes the class's first page, however full, not the emptiest [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '64', '-o', 'no_lru_maintainer,no_lru_crawler'], true);
    const c = await Client.connect(server.port);
    try {
      // class 1 (96-byte chunks, 10922 a page): a full first page and 1078 items in the second
      await sendAll(c, sets('k', 12_000, 'x'));
      assert.deepEqual([...slabsOf(await stats(c, 'slabs')).get(1) ?? []].filter(([k]) => /^(total_pages|used_chunks)$/.test(k)),
        [['total_pages', 2], ['used_chunks', 12_000]]);
      await c.send('slabs reassign 1 0\r\n');
      assert.equal(await c.readLine(), 'OK');
      const general = await statsUntil(c, (g) => stat(g, 'slab_reassign_running') === 0 && stat(g, 'slabs_moved') !== 0);
      assert.deepEqual(['slabs_moved', 'slab_reassign_rescues', 'slab_reassign_evictions_nomem', 'curr_items'].map((n) => stat(general, n)),
        [1, 10_922 - 1078, 1078, 10_922]);
      // the second page's items all stay; of the first page's, those set first are evicted: a new page is handed out
      // from its end, and the move walks it from its start, rescuing the last ones set until the room runs out
      await c.send('get k0 k1077 k1078 k10921 k11999\r\n');
      assert.equal((await c.readUntil('END\r\n')).toString(), ['k1078', 'k10921', 'k11999'].map((k) => `VALUE ${k} 0 1\r\nx\r\n`).join('') + 'END\r\n');
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`slabs: reassign moves a page and rescues its items into the class's free room [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '64'], true);
    const c = await Client.connect(server.port);
    try {
      // three pages of one class, then every other key deleted: a page's worth of free chunks spread over all three
      const value = 'v'.repeat(100), n = 3 * 6000;
      await sendAll(c, `${sets('k', n, value)}set small 0 0 1 noreply\r\nx\r\n`);
      const before = slabsOf(await stats(c, 'slabs'));
      const src = [...before.keys()].find((id) => pages(before, id) >= 3);
      assert.ok(src !== undefined, 'a class with three pages');
      const dst = src + 5;
      let deletes = '';
      for (let i = 0; i < n; i += 2) deletes += `delete k${i} noreply\r\n`;
      await sendAll(c, deletes);
      const casBefore = await casesOf(c, n);

      await c.send(`slabs reassign ${src} ${dst}\r\n`);
      assert.equal(await c.readLine(), 'OK');
      let general = await statsUntil(c, (g) => stat(g, 'slab_reassign_running') === 0 && stat(g, 'slabs_moved') !== 0);
      assert.equal(stat(general, 'slabs_moved'), 1);
      assert.ok(stat(general, 'slab_reassign_rescues') > 0, 'items rescued, not evicted');
      assert.equal(stat(general, 'slab_reassign_evictions_nomem'), 0);
      const after = slabsOf(await stats(c, 'slabs'));
      assert.equal(pages(after, src), pages(before, src) - 1);
      assert.equal(pages(after, dst), pages(before, dst) + 1);
      let gets = '';
      for (let i = 1; i < n; i += 2) gets += `get k${i}\r\n`;
      await c.send(gets);
      const got = (await c.readUntil(`VALUE k${n - 1} 0 100\r\n${value}\r\nEND\r\n`)).toString();
      assert.equal(got.split('VALUE ').length - 1, n / 2, 'every key kept');
      // a rescued item is linked anew (do_item_replace), with a new CAS: a client's cas with the old one fails
      const casAfter = await casesOf(c, n);
      const changed = [...casBefore].filter(([k, cas]) => casAfter.get(k) !== cas).map(([k]) => k);
      assert.equal(changed.length, stat(general, 'slab_reassign_rescues'), 'the rescued items, and only they, have new CAS values');
      await c.send(`cas ${changed[0]} 0 0 1 ${casBefore.get(changed[0])}\r\nz\r\n`);
      assert.equal(await c.readLine(), 'EXISTS');
    } finally { c.end(); await server.stop(); }
  });

  test(`slabs: a page given to the global pool (dst 0) is the next one a class takes, and -vv says the move started and ` +
    `finished [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '64', '-vv'], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'v'.repeat(100);
      await sendAll(c, sets('k', 2 * 6000, value));
      const before = slabsOf(await stats(c, 'slabs'));
      const src = [...before.keys()].find((id) => pages(before, id) >= 2);
      assert.ok(src !== undefined);
      await c.send(`slabs reassign ${src} 0\r\n`);
      assert.equal(await c.readLine(), 'OK');
      let general = await statsUntil(c, (g) => stat(g, 'slab_global_page_pool') !== 0);
      assert.equal(stat(general, 'slab_global_page_pool'), 1);
      const totalBefore = stat(await stats(c, 'slabs'), 'total_malloced');
      const big = 'b'.repeat(5000);
      await c.send(`set big 0 0 ${big.length}\r\n${big}\r\n`);
      assert.equal(await c.readLine(), 'STORED');
      general = await stats(c);
      assert.equal(stat(general, 'slab_global_page_pool'), 0, 'the new class took the pooled page');
      assert.equal(stat(await stats(c, 'slabs'), 'total_malloced'), totalBefore, 'no new memory for it');
      // the rebalancer thread prints its "finished" line after it has put the page in the pool: it may still be to come
      for (let i = 0; i < 200 && !/\nfinished a slab move\n/.test(server.stderr()); i++) await sleep(10);
      const err = server.stderr(), started = err.indexOf('\nStarted a slab rebalance\n');
      assert.ok(started >= 0 && err.indexOf('\nfinished a slab move\n', started) > started, 'the move\'s two -vv lines');
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`slabs: the automover gives a class's spare pages back to the global pool once its window is clean [${kind}]`, async () => {
    // slab_automove 1 (the default) with a window of 3 samples, one a second: a class holding more than 2.5
    // pages of free chunks, and no eviction or new page for the whole window, lets its pages go one by one
    const server = await serverFor(kind, ['-m', '64', '-o', 'slab_automove_window=3'], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'v'.repeat(100), n = 26_000;
      let deletes = '';
      for (let i = 0; i < n; i++) deletes += `delete k${i} noreply\r\n`;
      await sendAll(c, sets('k', n, value));
      const full = slabsOf(await stats(c, 'slabs'));
      const cls = [...full.keys()].find((id) => pages(full, id) >= 4);
      assert.ok(cls !== undefined, 'a class of four pages or more');
      const watcher = await Client.connect(server.port);
      await watcher.send('watch sysevents\r\n');
      assert.equal(await watcher.readLine(), 'OK');
      await sendAll(c, deletes);
      let now = full;
      for (let i = 0; i < 400 && pages(now, cls) > 2; i++) {
        await sleep(25);
        now = slabsOf(await stats(c, 'slabs'));
      }
      assert.equal(pages(now, cls), 2, 'down to no more than 2.5 pages of free chunks');
      // memcached's slab_rebalance_finish gives the page up under its slabs lock and counts the move after it has let
      // that go: `stats slabs` can show the last page gone a moment before `stats` counts it
      const general = await statsUntil(c, (g) => stat(g, 'slab_reassign_running') === 0 && stat(g, 'slabs_moved') >= pages(full, cls) - 2);
      assert.equal(stat(general, 'slab_global_page_pool'), pages(full, cls) - 2);
      assert.equal(stat(general, 'slabs_moved'), pages(full, cls) - 2);
      // each move the automover asked for, logged to `watch sysevents` as memcached's LOGGER_SLAB_MOVE (memcached
      // also logs its crawler's scheduling there, type=lru_crawler, per LRU: Cachalot schedules per class)
      for (let moved = 0; moved < pages(full, cls) - 2;) {
        const line = await watcher.readLine();
        if (line.includes(' type=lru_crawler ')) continue;
        assert.match(line, new RegExp(`^ts=\\d+\\.\\d+ gid=\\d+ type=slab_move src=${cls} dst=0$`));
        moved++;
      }
      watcher.end();
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`slabs: the automover moves a page from the class with the oldest tail to one that keeps evicting [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '8', '-o', 'slab_automove_window=3'], true);
    const c = await Client.connect(server.port);
    try {
      const old = 'o'.repeat(100), churn = 'c'.repeat(2000);
      await sendAll(c, sets('old', 4 * 6000, old));
      const start = slabsOf(await stats(c, 'slabs'));
      const src = [...start.keys()].find((id) => pages(start, id) >= 3);
      assert.ok(src !== undefined);
      // then only the other class is written, far past what the rest of memory holds: it evicts, its tail stays young
      let general = await stats(c), round = 0;
      for (; round < 400 && stat(general, 'slabs_moved') === 0; round++) {
        await sendAll(c, sets(`churn${round}:`, 200, churn));
        await sleep(20);
        general = await stats(c);
      }
      assert.ok(stat(general, 'evictions') > 0, 'the churned class evicts');
      assert.ok(stat(general, 'slabs_moved') >= 1, 'a page moved');
      const end = slabsOf(await stats(c, 'slabs'));
      assert.ok(pages(end, src) < pages(start, src), `the old class gave a page (${pages(start, src)} -> ${pages(end, src)})`);
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`slabs: moving pages that hold chained items' chunks and headers rescues them, none lost [${kind}]`, async () => {
    // values over slab_chunk_max (16 KB here) are chained: their headers sit in a small class, their chunks in
    // the largest; both kinds of page are emptied for the pool while every item stays readable
    const server = await serverFor(kind, ['-m', '64', '-o', 'slab_chunk_max=16384,slab_automove=0'], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'c'.repeat(40_000), n = 300;
      await sendAll(c, sets('chained', n, value));
      let deletes = '';
      for (let i = 0; i < n; i += 3) deletes += `delete chained${i} noreply\r\n`; // free chunks to rescue into
      await sendAll(c, deletes);
      const slabs = slabsOf(await stats(c, 'slabs'));
      const classes = [...slabs.keys()].filter((id) => pages(slabs, id) >= 2);
      let moved = 0;
      for (const cls of classes) {
        await c.send(`slabs reassign ${cls} 0\r\n`);
        assert.equal(await c.readLine(), 'OK');
        // memcached's rebalancer thread takes the request up later: wait for the move to be done, not to start
        const general = await statsUntil(c, (g) => stat(g, 'slabs_moved') > moved && stat(g, 'slab_reassign_running') === 0);
        moved = stat(general, 'slabs_moved');
      }
      assert.ok(moved >= 1);
      for (let i = 0; i < n; i++) {
        if (i % 3 === 0) continue;
        await c.send(`get chained${i}\r\n`);
        const reply = (await c.readUntil('END\r\n')).toString();
        assert.equal(reply, `VALUE chained${i} 0 ${value.length}\r\n${value}\r\nEND\r\n`, `chained${i} after the moves`);
      }
      const general = await stats(c);
      assert.equal(stat(general, 'slab_reassign_evictions_nomem'), 0, 'nothing evicted');
      assert.ok(stat(general, 'slab_reassign_rescues') + stat(general, 'slab_reassign_chunk_rescues') > 0, 'something rescued');
      await c.send('stats reset\r\n');
      assert.equal(await c.readLine(), 'RESET');
      const reset = await stats(c); // memcached's stats_reset clears every page mover's counter
      for (const name of ['slabs_moved', 'slab_reassign_rescues', 'slab_reassign_chunk_rescues', 'slab_reassign_evictions_nomem',
        'slab_reassign_inline_reclaim', 'slab_reassign_busy_items', 'slab_reassign_busy_deletes']) assert.equal(stat(reset, name), 0, name);
    } finally { c.end(); await server.stop(); }
  });
}

// cache_memlimit, as memcached's slabs_adjust_mem_limit: the limit moves both ways while the server runs
for (const kind of kindsFor()) {
  test(`slabs: cache_memlimit raises the limit past -m: new pages come and nothing more is evicted [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '8', '-o', 'slab_automove=0'], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'v'.repeat(50_000);
      await sendAll(c, sets('a', 200, value)); // 10 MB into 8
      const evicted = stat(await stats(c), 'evictions');
      assert.ok(evicted > 0);
      const malloced = stat(await stats(c, 'slabs'), 'total_malloced');

      await c.send('cache_memlimit 16\r\n');
      assert.equal(await c.readLine(), 'OK');
      assert.equal(stat(await stats(c, 'settings'), 'maxbytes'), 16 * 1024 * 1024);
      assert.equal(stat(await stats(c), 'limit_maxbytes'), 16 * 1024 * 1024);
      await sendAll(c, sets('b', 60, value)); // 3 MB more
      assert.ok(stat(await stats(c, 'slabs'), 'total_malloced') > malloced, 'total_malloced grew');
      assert.equal(stat(await stats(c), 'evictions'), evicted, 'no new evictions');
      let gets = '';
      for (let i = 0; i < 60; i++) gets += `get b${i}\r\n`;
      await c.send(gets);
      const got = (await c.readUntil(`VALUE b59 0 ${value.length}\r\n${value}\r\nEND\r\n`)).toString();
      assert.equal(got.split('VALUE ').length - 1, 60, 'every new key kept');
    } finally { c.end(); await server.stop(); }
  });

  test(`slabs: under a lowered cache_memlimit, pages given back to the global pool are let go [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '16', '-o', 'slab_automove=0'], true);
    const c = await Client.connect(server.port);
    try {
      const value = 'v'.repeat(50_000), n = 240; // 12 MB, no eviction
      await sendAll(c, sets('k', n, value));
      const full = slabsOf(await stats(c, 'slabs'));
      const cls = [...full.keys()].find((id) => pages(full, id) >= 10);
      assert.ok(cls !== undefined, 'one class holding the values');
      const malloced = stat(await stats(c, 'slabs'), 'total_malloced');

      await c.send('cache_memlimit 8\r\n');
      assert.equal(await c.readLine(), 'OK');
      assert.equal(stat(await stats(c, 'slabs'), 'total_malloced'), malloced, 'pages in classes stay');
      let deletes = '';
      for (let i = 0; i < n; i++) deletes += `delete k${i} noreply\r\n`;
      await sendAll(c, deletes);
      const residentBefore = largestMappingRssKb(server.pid);
      await c.send(`slabs reassign ${cls} 0\r\n`);
      assert.equal(await c.readLine(), 'OK');
      const general = await statsUntil(c, (g) => stat(g, 'slabs_moved') !== 0);
      assert.equal(stat(general, 'slabs_moved'), 1);
      assert.equal(stat(general, 'slab_global_page_pool'), 0, 'the page left the pool');
      const page = 1024 * 1024;
      assert.equal(stat(await stats(c, 'slabs'), 'total_malloced'), malloced - page, 'and total_malloced');
      // memcached frees the page (whether glibc gives it back to the system is glibc's business); Cachalot's arena
      // gives the page's memory back: what its chunks took (its tail past the last chunk was never touched), less
      // the partial OS pages at its two ends
      if (kind === 'cachalot') {
        const dropped = residentBefore - largestMappingRssKb(server.pid);
        assert.ok(dropped >= 768, `the arena's resident memory went down by ${dropped} kB`);
      }

      // raised again, a set is served from the memory the limit gives back
      await c.send('cache_memlimit 16\r\n');
      assert.equal(await c.readLine(), 'OK');
      await sendAll(c, sets('k', n, value));
      assert.equal(stat(await stats(c, 'slabs'), 'total_malloced'), malloced);
      assert.equal(stat(await stats(c), 'evictions'), 0);
    } finally { c.end(); await server.stop(); }
  });
}

differential('slabs: cache_memlimit is refused when memory is preallocated (-L)',
  ['cache_memlimit 128\r\n', 'cache_memlimit 32\r\n', 'cache_memlimit 64 noreply\r\n', 'mn\r\n'], { args: ['-L', '-m', '64'] });

for (const kind of kindsFor()) {
  test(`slabs: -o slab_sizes gives the classes those sizes (aligned to 8), then slab_chunk_max [${kind}]`, async () => {
    const server = await serverFor(kind, ['-o', 'slab_sizes=200-403-800'], true);
    const c = await Client.connect(server.port);
    try {
      // items of 48 + 8 + key + 1 + value: 300 bytes in class 2 (408), 700 in class 3 (800), 2000 past them all
      await sendAll(c, sets('a', 3, 'x'.repeat(300 - 59)) + sets('b', 2, 'x'.repeat(700 - 59)) + sets('c', 1, 'x'.repeat(2000 - 59)));
      const slabs = slabsOf(await stats(c, 'slabs'));
      const sizes = [1, 2, 3, 4].map((cls) => slabs.get(cls)?.get('chunk_size'));
      const used = [1, 2, 3, 4].map((cls) => slabs.get(cls)?.get('used_chunks'));
      assert.deepEqual(sizes, [undefined, 408, 800, 524288]); // class 1 (200) holds nothing: not listed
      assert.deepEqual(used, [undefined, 3, 2, 1]);
      assert.equal(stat(await stats(c, 'settings'), 'slab_chunk_max'), 524288);
    } finally { c.end(); await server.stop(); }
  });
}
