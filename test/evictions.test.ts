// Memory under pressure against memcached 1.6.18: which items go when memory runs out, and when an item a
// reply names stops being in use. Without the LRU maintainer and crawler memcached evicts only inside the
// allocation that needs room, so its choices are deterministic and a script must get the same replies and the
// same stats from both servers: scripted cases, each pinning one rule, then seeded random scripts, pipelined,
// with values from a few bytes to past slab_chunk_max.

import { differential, pipelined } from './support/differential.ts';
import { mulberry32 as rng } from './support/rng.ts';

// -o no_modern turns slab_reassign off and makes slab_chunk_max the page: memcached then mallocs each page as just
// its chunks (size * perslab, not 1 MB) and counts that against -m and in total_malloced. Values of 550,000 bytes
// sit one to a ~600 KB page, so -m 2 holds three of them (not two) before the fourth evicts the first.
const V550K = 'v'.repeat(550_000);
differential('-o no_modern: a page counts as its chunks\' bytes against -m and in total_malloced', [
  ...[1, 2, 3, 4].map((i) => `set k${i} 0 0 ${V550K.length}\r\n${V550K}\r\n`),
  'mg k1\r\n', 'mg k2\r\n', 'mg k4\r\n', 'stats slabs\r\n', 'stats items\r\n',
  'set small 0 0 1\r\nx\r\n', 'stats slabs\r\n',
], { args: ['-m', '2', '-o', 'no_modern'] });

// An item in use at the LRU tail (here the mg reply's, held until the batch is sent) is counted in lrutail_reflocked
// and then treated as any other, as memcached's lru_pull_tail does: in the flat LRU (no maintainer) each allocation
// looks at COLD's tail for the expired, and stops at the first that is not, in use or not. So the expired b behind
// the held a stays until something reaches it.
differential('the LRU tail walk stops at an item in use as at any other live one, counting it', [
  'set a 0 0 1\r\nx\r\n', 'set b 0 0 1\r\ny\r\n', 'gat -1 b\r\n',
  'mg a v\r\nset c 0 0 1\r\nz\r\n', 'stats items\r\n',
  'set d 0 0 1\r\nw\r\n', 'stats items\r\n',
], { args: ['-o', 'no_lru_maintainer,no_lru_crawler'], mask: maskAges });

// A text get's END is a flush point: memcached sends the reply there, from the item, and lets go of it before it
// runs the next command. Pipelined behind it, a set that must evict finds that item free at the tail: evicting it
// frees its memory, and nothing else goes. (Had the reply still held it, the eviction would free nothing yet and
// a second item would go.) 100 KB values are sent from their items here too.
const V100K = 'v'.repeat(100_000);
differential('a get\'s reply lets go of its item at the flush point, before a pipelined set evicts', [
  ...Array.from({ length: 30 }, (_, i) => `set k${i} 0 0 ${V100K.length}\r\n${V100K}\r\n`), // k10 is now COLD's tail
  `get k10\r\nset n 0 0 ${V100K.length}\r\n${V100K}\r\n`, 'mg k10\r\nmg k11\r\nmg n\r\n', 'stats items\r\n',
], { args: ['-m', '2', '-o', 'no_lru_maintainer,no_lru_crawler'], mask: maskAges });

// mg is no flush point: memcached keeps its item referenced until the read's replies go out, so a set pipelined
// behind it that must evict finds it in use at the tail, evicts it without freeing anything yet, and evicts the
// next one too. Cachalot sends a reply this big (600 KB, over its 512 KB flush size) before the set runs; the
// item stays referenced all the same.
const V600K = 'v'.repeat(600_000);
differential('an mg\'s item stays referenced to the end of the read, even when its reply goes out before', [
  ...Array.from({ length: 20 }, (_, i) => `set k${i} 0 0 ${V600K.length}\r\n${V600K}\r\n`), // k8 is now COLD's tail
  `mg k8 v\r\nset n 0 0 ${V600K.length}\r\n${V600K}\r\n`, 'mg k8\r\nmg k9\r\nmg k10\r\nmg n\r\n', 'stats items\r\n',
], { args: ['-m', '8', '-o', 'no_lru_maintainer,no_lru_crawler'], mask: maskAges });

// Nor does memcached send anything while a value is still arriving: the mg's item is still referenced when the
// prepend, its 788 KB in at last, allocates its new item, and the LRU tail's look at it counts a second time.
const V675K = 'a'.repeat(675_170), V788K = 'c'.repeat(788_386);
differential('an mg\'s item stays referenced while a value pipelined behind it arrives', [
  'set b 0 0 2\r\n13\r\n', `set a 0 0 ${V675K.length}\r\n${V675K}\r\n`,
  `mg a s\r\nprepend b 0 0 ${V788K.length}\r\n${V788K}\r\n`, 'stats items\r\n',
], { args: ['-m', '8', '-o', 'no_lru_maintainer,no_lru_crawler'], mask: maskAges });

/**
 * Text and meta commands over `keys` keys with values up to `maxValue` bytes. TTLs are none, far or past (-1), so
 * no clock tick changes an answer; no meta flag reads the clock (t, l, R, N, T past 0).
 */
function randomScript(seed: number, n: number, keys: number, maxValue: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = (): string => `key${Math.floor(r() * keys)}`;
  const value = (): string => (r() < 0.3 ? String(Math.floor(r() * 1000))
    : String.fromCharCode(97 + Math.floor(r() * 26)).repeat(Math.floor(r() * maxValue)));
  const noreply = (): string => (r() < 0.1 ? ' noreply' : '');
  const exptime = (): number => pick([0, 0, 0, 100000, -1]);
  const some = (flags: string[], p: number): string => flags.filter(() => r() < p).join(' ');
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = value();
    switch (pick(['store', 'store', 'get', 'get', 'mget', 'cas', 'delete', 'delta', 'touch', 'gat', 'mg', 'ms', 'ma', 'md'] as const)) {
      case 'store': {
        const cmd = pick(['set', 'set', 'add', 'replace', 'append', 'prepend']);
        script.push(`${cmd} ${key()} ${Math.floor(r() * 70000)} ${exptime()} ${v.length}${noreply()}\r\n${v}\r\n`);
        break;
      }
      case 'cas': script.push(`cas ${key()} 0 0 ${v.length} ${Math.floor(r() * 40)}${noreply()}\r\n${v}\r\n`); break;
      case 'get': script.push(`${pick(['get', 'gets'])} ${key()}\r\n`); break;
      case 'mget': script.push(`get ${Array.from({ length: pick([4, 17]) }, key).join(' ')}\r\n`); break;
      case 'delete': script.push(`delete ${key()}${noreply()}\r\n`); break;
      case 'delta': script.push(`${pick(['incr', 'decr'])} ${key()} ${Math.floor(r() * 100)}${noreply()}\r\n`); break;
      case 'touch': script.push(`touch ${key()} ${exptime()}${noreply()}\r\n`); break;
      case 'gat': script.push(`${pick(['gat', 'gats'])} ${exptime()} ${key()} ${key()}\r\n`); break;
      case 'mg': script.push(`mg ${key()} ${some(['s', 'v', 'f', 'k', 'h', 'c', 'q', 'O9', 'T0'], 0.25)}\r\n`); break;
      case 'ms': {
        const flags = some(['T0', 'F3', pick(['MA', 'MP', 'MR', 'ME', 'MS']), 'I', 'q', `C${Math.floor(r() * 40)}`, 'c', 'k'], 0.2);
        script.push(`ms ${key()} ${v.length} ${flags}\r\n${v}\r\n`);
        break;
      }
      case 'ma': script.push(`ma ${key()} ${some(['v', 'N0', 'J5', 'MD', 'D3', 'c', 'q'], 0.3)}\r\n`); break;
      case 'md': script.push(`md ${key()} ${some(['q', 'I', 'k', `C${Math.floor(r() * 40)}`], 0.3)}\r\n`); break;
    }
  }
  return script;
}

const NO_MAINTAINER = 'no_lru_maintainer,no_lru_crawler';
const STATS = ['stats\r\n', 'stats items\r\n', 'stats slabs\r\n'];
const WHOLE = { whole: true, mask: maskAges };

// -m 2: small values evict all the time, in a dozen classes
differential('memory: a seeded random script under -m 2, pipelined',
  [...pipelined(randomScript(1, 4000, 5000, 3000), 1), ...STATS], { ...WHOLE, args: ['-m', '2', '-o', NO_MAINTAINER] });

// -m 8: values up to 900 KB, sent from their items, chained past slab_chunk_max, appended to past it
// (seed 1 found the in-use item the LRU tail skipped, seed 8 the chain an append built past a fallback chunk).
// How many times the tail met an item in use is left out: a reply's items are held until the value of a later
// command in the same batch is in, so the count follows where the kernel cut the 900 KB values into reads (a
// CI run under load saw 3 against memcached's 2, with every reply and every other counter the same).
for (const seed of [1, 8]) {
  differential(`memory: a seeded random script of large values under -m 8, pipelined, seed ${seed}`,
    [...pipelined(randomScript(seed, 3000, 100, 900_000), seed), ...STATS],
    { ...WHOLE, mask: (r) => maskReflocked(maskAges(r)), args: ['-m', '8', '-o', NO_MAINTAINER] });
}

function maskReflocked(reply: Buffer): Buffer {
  return Buffer.from(reply.toString('latin1').replace(/^STAT (items:\d+:)?lrutail_reflocked \d+/gm, 'STAT $1lrutail_reflocked <n>'), 'latin1');
}

// the flat LRU of memcached 1.4 (-o no_modern), whose every allocation first looks for an expired item at the tail
differential('memory: a seeded random script under -o no_modern, pipelined',
  [...pipelined(randomScript(3, 3000, 3000, 20_000), 3), ...STATS], { ...WHOLE, args: ['-m', '2', '-o', 'no_modern'] });

/** The seconds since the tail item's last access: the clock may tick between two servers' runs. */
function maskAges(reply: Buffer): Buffer {
  return Buffer.from(reply.toString('latin1').replace(/^STAT items:(\d+):(age|evicted_time) \d+/gm, 'STAT items:$1:$2 <s>'), 'latin1');
}

// do_add_delta counts incr_hits / decr_hits once the number is read, before it allocates the new value's item: an incr
// whose longer number cannot be stored (-M, its class full) is a hit and SERVER_ERROR. The 19-digit numbers sit in
// class 1 (96-byte chunks); 20 digits need class 2, which the 40-byte values fill.
const NINES = '9999999999999999999';
const fillClass2 = Array.from({ length: 9000 }, (_, i) => `set f${String(i).padStart(5, '0')} 0 0 40 noreply\r\n${'y'.repeat(40)}\r\n`).join('');
differential('an incr or ma that runs out of memory has counted its hit, as memcached\'s do_add_delta has', [
  ...['nnnnnnnnnnnnnnnnnn', 'nnnnnnnnnnnnnnnnnm'].map((k) => `set ${k} 0 0 ${NINES.length}\r\n${NINES}\r\n`),
  fillClass2, 'set one-more 0 0 40\r\n' + 'y'.repeat(40) + '\r\n',
  'incr nnnnnnnnnnnnnnnnnn 1\r\n', 'ma nnnnnnnnnnnnnnnnnm\r\n', 'stats\r\n', 'stats slabs\r\n',
], {
  args: ['-o', 'no_lru_maintainer', '-m', '2', '-M'],
  // the fill is one write of 590 KB: memcached's count of its yields moves by one with where its own reads happen to
  // end (416 or 417 on loopback), and Cachalot's model of them (64 KB reads) lands on one of those
  mask: (r) => Buffer.from(r.toString('latin1').replace(/STAT conn_yields \d+/, 'STAT conn_yields <masked>'), 'latin1'),
});

