// The text protocol, differential: the same scripts to Cachalot and a real memcached 1.6, the
// same bytes back (CAS numbers and process facts masked). One scripted run of every command and
// error path, and a seeded random run of a few thousand commands over a small key space.

import { differential, pipelined } from './support/differential.ts';
import { mulberry32 as rng } from './support/rng.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client } from './support/client.ts';
import { memcachedAvailable, sleep } from './support/server.ts';
import { kindsFor, serverFor, spec } from './support/spec.ts';

const K251 = 'k'.repeat(251);
/** More keys than a get looks up in one batch (16): hits, misses and repeats across the batches. */
const MANY = Array.from({ length: 40 }, (_, i) => ['m1', 'm2', `miss${i}`, 'm1'][i % 4]).join(' ');
const MANY_THEN_TOO_LONG = Array.from({ length: 19 }, (_, i) => (i % 2 === 0 ? 'm1' : `miss${i}`)).join(' ');

const scripted: string[] = [
  'set a 0 0 1\r\nx\r\n', 'get a b\r\n', 'gets a\r\n', 'set a 0 0 1 noreply\r\ny\r\n', 'get a\r\n',
  'set a 0 0 2\r\nxyz\r\n', 'set a 0 0 -1\r\n', 'set a 0 0 abc\r\n', 'set a abc 0 1\r\nx\r\n',
  'set a 4294967296 0 1\r\nx\r\n', 'get a\r\n', 'set a 0 0\r\n', 'set\r\n', 'get\r\n', 'foo\r\n', '\r\n',
  'set a 0 0 1 2 3 4\r\nx\r\n', 'cas a 0 0 1\r\nx\r\n', 'cas a 0 0 1 abc\r\nx\r\n', 'cas nokey 0 0 1 5\r\nx\r\n',
  'cas a 0 0 1 0\r\nz\r\n', 'incr a 1\r\n', 'set n 0 0 2\r\n10\r\n', 'incr n 5\r\n', 'decr n 100\r\n',
  'incr n 18446744073709551615\r\n', 'incr n 1\r\n', 'incr n abc\r\n', 'incr n -1\r\n', 'incr nokey 1\r\n',
  'set n 0 0 20\r\n18446744073709551615\r\n', 'incr n 1\r\n', 'get n\r\n', 'set n 0 0 3\r\n100\r\n',
  'decr n 1\r\n', 'get n\r\n', 'incr n 1\r\n', 'set n 0 0 1\r\n9\r\n', 'incr n 1\r\n', 'get n\r\n',
  'set n 0 0 2\r\n 1\r\n', 'incr n 1\r\n', 'set n 0 0 2\r\n1x\r\n', 'incr n 1\r\n',
  'delete a 0\r\n', 'delete a 1\r\n', 'delete a\r\n', 'delete a noreply\r\n', 'delete\r\n',
  'set a 0 0 1\r\nx\r\n', 'delete a 0 noreply\r\n', 'delete a noreply 0\r\n', 'delete a 0 0\r\n',
  'set m1 0 0 2\r\nm1\r\n', 'set m2 5 0 2\r\nm2\r\n', `get ${MANY}\r\n`, `gets ${MANY}\r\n`,
  `gat 100 ${MANY}\r\n`, `bget ${MANY}\r\n`, 'bget\r\n', `bget m1 ${K251}\r\n`, `get ${MANY_THEN_TOO_LONG} ${K251} m2\r\n`, `get ${MANY} ${K251}\r\n`,
  // Counters compared before anything expires: memcached's LRU maintainer reclaims expired and
  // flushed items in the background, so after that its curr_items and reclaimed move with timing.
  'stats\r\n',
  'touch n 10\r\n', 'touch zz 10\r\n', 'touch n abc\r\n', 'gat 10 n zz\r\n', 'gats 10 n\r\n', 'gat n\r\n', 'gat\r\n',
  'touch n -1\r\n', 'get n\r\n', 'set g 0 0 1\r\nx\r\n', 'gat -1 g\r\n', 'get g\r\n',
  `set ${K251} 0 0 1\r\nx\r\n`, `get ${K251}\r\n`, `get a ${K251} a\r\n`,
  'set a 0 0 1\r\nx\r\n', 'append a 0 0 1\r\ny\r\n', 'prepend a 0 0 1\r\nz\r\n', 'get a\r\n',
  'append q 0 0 1\r\ny\r\n', 'add a 0 0 1\r\ny\r\n', 'replace q 0 0 1\r\ny\r\n', 'replace a 5 0 1\r\nw\r\n',
  'set e 0 0 0\r\n\r\n', 'get e e e\r\n', 'version\r\n', 'verbosity 1\r\n', 'verbosity\r\n',
  'verbosity 1 noreply\r\n', 'verbosity abc\r\n', 'verbosity 0\r\n', 'shutdown\r\n',
  'cache_memlimit 32\r\n', 'cache_memlimit\r\n', 'cache_memlimit abc\r\n', 'cache_memlimit 0\r\n',
  'cache_memlimit 64\r\n',
  // safe_strtoul: a 64-bit strtoul, signs taken, cut to 32 bits
  'verbosity 4294967296\r\n', 'verbosity -0\r\n', 'verbosity 18446744073709551615 noreply\r\n', 'verbosity 0\r\n',
  'cache_memlimit 4294967296\r\n', 'cache_memlimit 18446744073709551615\r\n', 'cache_memlimit -0\r\n',
  'lru_crawler sleep -0\r\n', 'lru_crawler sleep -9223372036854775809\r\n', 'lru_crawler sleep 100\r\n',
  'slabs automove -18446744073709551615\r\n', 'slabs automove -9223372036854775809\r\n', 'slabs automove -1\r\n',
  'stats foo\r\n', 'stats detail\r\n', 'stats detail on\r\n', 'stats detail off\r\n',
  'flush_all\r\n', 'flush_all 0\r\n', 'flush_all noreply\r\n', 'flush_all abc\r\n', 'flush_all -1\r\n',
  'get a n e\r\n', 'set a 0 0 1\r\nx\r\n', 'get a\r\n',
  `set big 0 0 1048515\r\n${'x'.repeat(1048515)}\r\n`, `set big 0 0 1048514\r\n${'x'.repeat(1048514)}\r\n`,
  'get a\r\n',
];

differential('text: every command and error path, scripted', scripted);

// -F: flush_all refused (and still counted in cmd_flush), the items kept; binary's is in binary.test.ts
differential('text: flush_all with -F (disabled)', ['set k 0 0 1\r\nv\r\n', 'flush_all\r\n', 'flush_all 0 noreply\r\n',
  'flush_all bogus\r\n', 'get k\r\n', 'stats\r\n'], { args: ['-F'] });


// Storage lines read without tokenizing when plain (update.ts processUpdateLine), and by the tokenizer otherwise:
// lines at each edge of the plain form, and just past it, mean the same as memcached's.
const K250 = 'k'.repeat(250);
differential('text: storage lines at the edges of their plain form', [
  'set p1 0 0 1\r\nx\r\n', 'set p2 00 000 01\r\nxy\r\n', 'set p3 4294967295 0 1\r\nx\r\n', 'gets p1 p2 p3\r\n',
  'set p4 4294967296 0 1\r\nx\r\n', 'set p5 04294967295 0 1\r\nx\r\n', 'set p6 0 -1 1\r\nx\r\n',
  'set p7 0 -0 1\r\nx\r\n', 'set p8 0 - 1\r\nx\r\n', 'set p9 0 +5 1\r\nx\r\n', 'set p10 +1 0 1\r\nx\r\n',
  'set p11 0 0 +1\r\nx\r\n', 'set p12 0 999999999 1\r\nx\r\n', 'set p13 0 0000000000001 1\r\nx\r\n',
  'set p14 0 -999999999 1\r\nx\r\n', 'set p15 0 -0000000001 1\r\nx\r\n', 'set p16 0 0 0000000001\r\nx\r\n',
  'get p4 p5 p6 p7 p8 p9 p10 p11 p12 p13 p14 p15 p16\r\n',
  'set  q1 0 0 1\r\nx\r\n', 'set q2  0 0 1\r\nx\r\n', 'set q3 0 0 1 \r\nx\r\n', 'set q4 0 0 1 noreply\r\nx\r\n',
  'set q5 0 0 1 NOREPLY\r\nx\r\n', 'set q6 0 0 1 noreplyx\r\nx\r\n', 'set q7 0 0 1 noreply \r\nx\r\n',
  'set q8\t 0 0 1\r\nx\r\n', 'set q9 0 0 1 2\r\nx\r\n', 'set q10 1 2 3 noreply 5\r\n', 'set q11 0 0 1x\r\nx\r\n',
  'set q12 0 0 1\nx\r\n', 'set q13 0 0 1\r\r\nx\r\n', 'set q14 0 0 1\x00 junk\r\nx\r\n', 'set q15 0\t0 1\r\nx\r\n',
  'sets q16 0 0 1\r\nx\r\n', 'SET q17 0 0 1\r\nx\r\n', 'set\tq18 0 0 1\r\nx\r\n', 'set q19 0 0 1\r\nxy\r\n',
  `set ${K250} 7 0 1\r\nx\r\n`, `get ${K250}\r\n`, `set ${K250}x 0 0 1\r\nx\r\n`,
  'get q1 q2 q3 q4 q5 q6 q7 q8\t q9 q10 q11 q12 q13 q14 q15 q16 q17 q18 q19\r\n',
  'add p1 0 0 1\r\ny\r\n', 'add r1 3 0 1\r\ny\r\n', 'replace p1 5 0 1\r\nz\r\n', 'replace r2 0 0 1\r\nz\r\n',
  'append p1 0 0 2\r\nab\r\n', 'prepend p1 0 0 2\r\ncd\r\n', 'append r3 0 0 1\r\na\r\n', 'prepend r4 0 0 1\r\na\r\n',
  'appendx p1 0 0 1\r\na\r\n', 'add  p1 0 0 1\r\na\r\n', 'replace p1 0 0 1 noreply\r\nw\r\n',
  'get p1 r1 r2 r3 r4\r\n',
]);

function randomScript(seed: number, n: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = (): string => `key${Math.floor(r() * 40)}`;
  const value = (): string => (r() < 0.3 ? String(Math.floor(r() * 1000)) : 'v'.repeat(Math.floor(r() * 300)));
  const noreply = (): string => (r() < 0.1 ? ' noreply' : '');
  const exptime = (): number => pick([0, 0, 0, 100, -1]);
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = value();
    switch (pick(['set', 'get', 'get', 'add', 'replace', 'append', 'prepend', 'cas', 'delete', 'incr',
      'decr', 'touch', 'gat', 'mget', 'bad'] as const)) {
      case 'set': case 'add': case 'replace': case 'append': case 'prepend': {
        const cmd = pick(['set', 'add', 'replace', 'append', 'prepend']);
        script.push(`${cmd} ${key()} ${Math.floor(r() * 70000)} ${exptime()} ${v.length}${noreply()}\r\n${v}\r\n`);
        break;
      }
      case 'cas': script.push(`cas ${key()} 0 0 ${v.length} ${Math.floor(r() * 3)}${noreply()}\r\n${v}\r\n`); break;
      case 'get': script.push(`${pick(['get', 'gets'])} ${key()}\r\n`); break;
      case 'mget': script.push(`get ${Array.from({ length: pick([4, 17, 33]) }, key).join(' ')}\r\n`); break;
      case 'delete': script.push(`delete ${key()}${noreply()}\r\n`); break;
      case 'incr': case 'decr': script.push(`${pick(['incr', 'decr'])} ${key()} ${Math.floor(r() * 100)}${noreply()}\r\n`); break;
      case 'touch': script.push(`touch ${key()} ${exptime()}${noreply()}\r\n`); break;
      case 'gat': script.push(`${pick(['gat', 'gats'])} ${exptime()} ${key()} ${key()}\r\n`); break;
      case 'bad': script.push(pick(['set x 0 0 z\r\n', 'incr x y\r\n', 'bogus\r\n', 'get\r\n', 'delete x 5\r\n'])); break;
    }
  }
  return script;
}

differential('text: a seeded random sequence of 3000 commands', randomScript(20261123, 3000), { whole: true });

differential('text: a seeded random sequence, pipelined', pipelined(randomScript(11, 2000), 1010), { whole: true });

/**
 * Numbers of every shape in every numeric slot (signs, leading zeros, 2^32, 2^63, 2^64, hex, junk), keys at and
 * past 250 bytes, runs of spaces and bare "\n" line ends. A value follows only a length that parses, and is then
 * exactly that long, so nothing waits for more input. TTLs are none, past or far, so no clock tick moves a reply.
 * Whether memcached rewrites a number in place or links a new item depends on references its maintainer holds for
 * a while after a fetch, so the counter n is never fetched, and the fetched keys are never incremented.
 */
function oddTokensScript(seed: number, n: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const NUMBERS = ['0', '-0', '+0', '1', '+5', '007', '-1', '4294967295', '4294967296', '9223372036854775807',
    '9223372036854775808', '18446744073709551615', '18446744073709551616', '-18446744073709551615',
    '-9223372036854775809', '2147483648', '-2147483649', '0x10', '1e3', '1.5', 'abc', '5abc'];
  const number = (): string => (r() < 0.5 ? pick(NUMBERS) : String(Math.floor(r() * 100)));
  const exptime = (): string => pick(['0', '-1', '-0', '+0', '100000', '4294967296', '2147483648', 'abc', '1e3']);
  const LENGTHS: Array<[string, number]> = [['0', 0], ['3', 3], ['+3', 3], ['003', 3], ['-0', 0], ['-1', -1], ['0x3', -1], ['3x', -1]];
  const fetched = (): string => pick(['a', 'b', 'k'.repeat(250), 'k'.repeat(251)]);
  const key = (): string => (r() < 0.4 ? 'n' : fetched());
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const sp = r() < 0.9 ? ' ' : '  ';
    const nl = r() < 0.9 ? '\r\n' : '\n';
    const line = (...tokens: string[]): string => tokens.join(sp) + nl;
    switch (pick(['store', 'store', 'cas', 'get', 'delta', 'delta', 'touch', 'gat', 'delete', 'admin'] as const)) {
      case 'store': case 'cas': {
        const [text, len] = pick(LENGTHS);
        const cmd = pick(['set', 'add', 'replace', 'append', 'prepend', 'cas']);
        const tokens = [cmd, key(), number(), exptime(), text, ...(cmd === 'cas' ? [number()] : [])];
        const value = len < 0 ? '' : (r() < 0.5 ? String(100 + Math.floor(r() * 900)) : 'xyz').slice(0, len).padEnd(len, '9');
        script.push(line(...tokens) + (len < 0 ? '' : `${value}\r\n`));
        break;
      }
      case 'get': script.push(line(pick(['get', 'gets']), fetched(), fetched())); break;
      case 'delta': script.push(line(pick(['incr', 'decr']), 'n', number(), ...(r() < 0.2 ? ['noreply'] : []))); break;
      case 'touch': script.push(line('touch', fetched(), exptime())); break;
      case 'gat': script.push(line(pick(['gat', 'gats']), exptime(), fetched())); break;
      case 'delete': script.push(line('delete', key(), ...pick([[], ['0'], ['-0'], ['00'], ['1'], ['noreply']]))); break;
      case 'admin': script.push(line(...pick([['verbosity', number()], ['cache_memlimit', number()], ['lru_crawler', 'sleep', number()],
        ['lru_crawler', 'tocrawl', number()], ['slabs', 'automove', number()], ['lru', 'temp_ttl', number()], ['verbosity', '0']]))); break;
    }
  }
  return script;
}

differential('text: numbers of every shape in every slot, seeded', oddTokensScript(4242, 1500), { whole: true });

/**
 * A stored number of 2^63 or more is negative as a signed one, and memcached 1.6.18 then refuses it when strchr
 * finds a '-' from the value's start: after the number's white space too, but not past a NUL. Each value has a chunk
 * no item held before, so memcached's scan, which goes on past the value's "\r\n" (see the next test), finds only
 * the zeros of a new page there.
 */
const BIG_NUMBER_VALUES = ['18446744073709551615 -', '9223372036854775808 x-', '100 -', '9223372036854775807 -',
  ' 9223372036854775808', '9223372036854775808\0-', '9223372036854775808 \0 -', '-18446744073709551615', '-1',
  '  -9223372036854775808', '9223372036854775808\t-1'];
differential('text: incr, decr and ma of a stored number past 2^63 with a \'-\' after it refused, as memcached 1.6.18 refuses them',
  BIG_NUMBER_VALUES.flatMap((v, i) => [`set n${i} 0 0 ${Buffer.byteLength(v)}\r\n${v}\r\n`, `incr n${i} 0\r\n`, `decr n${i} 1\r\n`,
    `ma n${i} v\r\n`]));

// memcached 1.6.18's scan goes on past the value, through what the chunk held before, to some NUL: a '-' left there by
// an earlier item makes it refuse a number it reads whole (memcached fixed that in 1.6.22). Cachalot's stops at the
// value's end, so a counter past 2^63 counts wherever it is stored.
spec('text: a number past 2^63 in a chunk that held dashes before is counted (memcached 1.6.18 reads the old bytes)', [
  [`set a 0 0 90\r\n${'-'.repeat(90)}\r\n`, 'STORED\r\n'],
  ['delete a\r\n', 'DELETED\r\n'],
  [`set b 0 0 63\r\n9223372036854775808${' '.repeat(44)}\r\n`, 'STORED\r\n'],
  ['incr b 1\r\n', '9223372036854775809\r\n'],
], { against: ['cachalot'], fresh: true });

// memcached reads a line into its 16 KB read buffer: a line whose newline lies past it is, to memcached, over 2048
// bytes without one, and only a get or gets line may grow (gat may not). Each on a fresh connection.
const KEYS_22K = Array.from({ length: 2800 }, (_, i) => `k${i}`).join(' ');
for (const [name, line] of [
  ['a line of 16384 bytes is read', `${'x'.repeat(16382)}\r\nversion\r\n`],
  ['a line of 16385 bytes is hung up on', `${'x'.repeat(16383)}\r\nversion\r\n`],
  ['a gat of 22 KB is hung up on', `gat 0 ${KEYS_22K}\r\nversion\r\n`],
  ['a get of 22 KB is answered', `get ${KEYS_22K}\r\nversion\r\n`],
] as const) {
  differential(`text: ${name}`, [line]);
}

// incr, decr and ma read the stored value with C's strtoull, whose string ends at a NUL: digits then a NUL are a
// number (the rest of the value unread), a NUL first is not. Each counter is changed before any fetch, so both
// servers rewrite it in place (memcached's async LRU bump holds a fetched item for a while).
differential('text: a stored number ends at a NUL, as C reads it', [
  'set a 0 0 3\r\n12\x00\r\n', 'incr a 1\r\n', 'get a\r\n', 'set b 0 0 5\r\n7\x00abc\r\n', 'decr b 2\r\n',
  'ms c 4\r\n9\x00 x\r\n', 'ma c v\r\n', 'set d 0 0 2\r\n\x005\r\n', 'incr d 1\r\n', 'mg b v\r\n', 'mg c v\r\n',
]);

// cas_hits and cas_badval go to the class of the item the CAS found, not to the new value's (memcached's
// do_store_item counts in old_it's class): a 1-byte item replaced by a 2000-byte one and back, by text cas and
// by ms, stale (I) included. A fresh server's first item has CAS 1.
const V2000 = 'v'.repeat(2000);
differential('text: a CAS counts its hit or bad value in the class of the item it found', [
  'set k 0 0 1\r\nx\r\n', `cas k 0 0 2000 1\r\n${V2000}\r\n`, 'cas k 0 0 1 1\r\nx\r\n', 'gets k\r\n',
  `ms k 1 C999 I\r\nx\r\n`, `ms k 2000 C1 I\r\n${V2000}\r\n`, 'stats slabs\r\n', 'stats\r\n',
]);

// bytes_written counts a reply when memcached sends it: at its flush point (a get's END, mn), not when the read's
// replies leave together, so a stats or stats reset later in the same read sees it sent.
differential('text: bytes_written counts a reply at its flush point, in the read that sent it', [
  'set q 0 0 1\r\nz\r\n', 'get q\r\nstats reset\r\nget x\r\nset r 0 0 1\r\ny\r\nstats\r\n',
]);

// memcached reads into a 16 KB buffer from the start of the line it is missing the end of (or from the first byte
// after a value, which it reads to its end straight into the item), and works off the whole lines in it before it
// reads again. A 3 KB gat line is answered where a read starts with it; where more than 2048 of its bytes end a read
// without its newline, memcached sees a line without one and hangs up (the STORED before it is lost with the
// connection). A junk line so placed is hung up on too, where it would otherwise be an ERROR.
const GAT_3K = `gat 0 ${Array.from({ length: 600 }, (_, i) => `k${i}`).join(' ')}\r\n`;
differential('text: a line over 2048 bytes that straddles memcached\'s 16 KB read is hung up on', [
  GAT_3K, `set v 0 0 20000\r\n${'v'.repeat(20000)}\r\n${GAT_3K}`, `set v 0 0 12000\r\n${'v'.repeat(12000)}\r\n${GAT_3K}`,
  `set v 0 0 14000\r\n${'v'.repeat(14000)}\r\n${GAT_3K}`,
]);
differential('text: a junk line over 2048 bytes that straddles memcached\'s 16 KB read is hung up on', [
  `${'x'.repeat(3000)}\r\n`, `set v 0 0 14000\r\n${'v'.repeat(14000)}\r\n${'x'.repeat(3000)}\r\n`,
]);

// Where memcached's 16 KB read runs out of whole lines, it sends the replies so far before it reads on (conn_mwrite),
// so a line it then hangs up on, or refuses, takes none of them with it: 3000 junk bytes without a newline after
// 1700 or 1810 versions (the junk starts before the 16 KB, with under 2048 of its bytes in it), and a 20 KB get line
// of a key too long after 1500 versions (its first 2884 bytes end the read: a get line's buffer grows).
for (const kind of kindsFor()) {
  test(`text: the replies before a line hung up on went out where memcached's 16 KB read ran out [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      for (const n of [1700, 1810]) {
        const c = await Client.connect(server.port);
        await c.send(`${'version\r\n'.repeat(n)}${'x'.repeat(3000)}`);
        assert.equal((await c.read(16 * n)).toString(), 'VERSION 1.6.18\r\n'.repeat(n));
        await c.closed();
      }
    } finally { await server.stop(); }
  });
}
differential('text: the replies before a get line of 20 KB went out where memcached\'s 16 KB read ran out', [
  `${'version\r\n'.repeat(1500)}get ${'k'.repeat(20000)}\r\n`, `${'version\r\n'.repeat(1800)}get ${'k'.repeat(20000)}\r\n`,
]);

// A value read on past the first read: memcached reads its rest straight into the item in the event it began in (the
// bytes are there), so its buffer is empty after it, and conn_new_cmd sends the replies (conn_mwrite) and comes back
// once more, a step of the -R budget, and a yield where it was the last. Values of 20 KB, 70 KB (past Cachalot's
// 64 KB read) and 200 KB; one refused for -I (swallowed); with and without noreply. conn_yields compared. Each
// value is the first command of its write: where a command ran before it in the same event, whether the value's rest
// is read in that event too is timing (when the client's bytes reach the socket), for memcached as for Cachalot.
const V = (n: number): string => 'v'.repeat(n);
for (const r of ['1', '2']) {
  differential(`text: a value read on past the first read spends -R as memcached's conn_nread does (-R ${r})`, [
    ...[20_000, 69_500, 200_000].flatMap((n) => [`set a 0 0 ${n}\r\n${V(n)}\r\n`, `set a 0 0 ${n} noreply\r\n${V(n)}\r\n`,
      `cas a 0 0 ${n} 2\r\n${V(n)}\r\n`, `set a 0 0 ${n}\r\n${V(n)}\r\nget a\r\n`]),
    `set a 0 0 2000000\r\n${V(2_000_000)}\r\nget a\r\n`, 'stats\r\n',
  ], { args: ['-R', r] });
}

// And a value whose rest comes after a pause: memcached's conn_nread meets EAGAIN and reads the rest in an event of
// its own, with a whole budget. The first write fills one of Cachalot's 64 KB reads exactly, or leaves it short. (Had
// the pause been too short for a server, it read everything in one event, as the other would have: the counts agree
// either way.) conn_yields read with a stats on the same connection, as udp.test.ts reads it.
test(`text: a value's rest sent after a pause is a new event's, with a whole -R budget [cachalot vs memcached]`, {
  skip: memcachedAvailable() === null ? 'memcached is not installed' : false,
}, async () => {
  assert.deepEqual(await yieldsAfterPausedValues('cachalot'), await yieldsAfterPausedValues('memcached'));
});

async function yieldsAfterPausedValues(kind: 'cachalot' | 'memcached'): Promise<string[]> {
  const lines: string[] = [];
  for (const r of ['1', '2', '3']) {
    const server = await serverFor(kind, ['-t', '1', '-R', r], true);
    const c = await Client.connect(server.port);
    try {
      const counts: string[] = [];
      for (const firstWrite of [65_536, 30_000]) {
        const head = 'get a\r\nset b 0 0 100000\r\n';
        await c.send(head + V(firstWrite - head.length));
        await sleep(300);
        await c.send(`${V(100_000 - firstWrite + head.length)}\r\nstats\r\nversion\r\n`);
        counts.push(/^STAT conn_yields (\d+)\r$/m.exec((await c.readUntil('VERSION 1.6.18\r\n')).toString())?.[1] ?? '?');
      }
      lines.push(`-R ${r}: ${counts.join(' ')}`);
    } finally { c.end(); await server.stop(); }
  }
  return lines;
}

/**
 * Stores, gets and meta commands with values up to 70 KB: lines and values straddle memcached's 16 KB reads and
 * Cachalot's 64 KB ones. None past -I (a value swallowed while it arrives). Counters are kept apart from fetched
 * keys (memcached's async LRU bump, see the NUL case above).
 */
function largeValuesScript(seed: number, n: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = (): string => `key${Math.floor(r() * 30)}`;
  const anyKey = (): string => (r() < 0.2 ? pick(['n0', 'n1']) : key());
  const value = (): string => (r() < 0.25 ? String(Math.floor(r() * 1000))
    : r() < 0.7 ? V(Math.floor(r() * 300)) : 'w'.repeat(Math.floor(r() * 70_000)));
  const noreply = (): string => (r() < 0.2 ? ' noreply' : '');
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = value();
    switch (pick(['store', 'store', 'cas', 'get', 'get', 'mget', 'mg', 'ms', 'delete', 'delta', 'touch', 'bad'] as const)) {
      case 'store': script.push(`${pick(['set', 'add', 'replace', 'append', 'prepend'])} ${anyKey()} ${Math.floor(r() * 70000)} ${pick([0, 0, 100, -1])} ${v.length}${noreply()}\r\n${v}\r\n`); break;
      case 'cas': script.push(`cas ${anyKey()} 0 0 ${v.length} ${Math.floor(r() * 3)}${noreply()}\r\n${v}\r\n`); break;
      case 'get': script.push(`${pick(['get', 'gets'])} ${key()}\r\n`); break;
      case 'mget': script.push(`get ${Array.from({ length: pick([4, 17, 33]) }, key).join(' ')}\r\n`); break;
      case 'mg': script.push(`mg ${key()} ${pick(['v', 's v', 'k v q', 'v f', 'q'])}\r\n`); break;
      case 'ms': script.push(`ms ${anyKey()} ${v.length} ${pick(['', 'q', 'T0', 'MA', 'I'])}\r\n${v}\r\n`); break;
      case 'delete': script.push(`delete ${anyKey()}${noreply()}\r\n`); break;
      case 'delta': script.push(`${pick(['incr', 'decr'])} ${pick(['n0', 'n1'])} ${Math.floor(r() * 100)}${noreply()}\r\n`); break;
      case 'touch': script.push(`touch ${key()} ${pick([0, 100, -1])}${noreply()}\r\n`); break;
      case 'bad': script.push(pick(['set x 0 0 z\r\n', 'incr x y\r\n', 'bogus\r\n', 'get\r\n', 'delete x 5\r\n'])); break;
    }
  }
  return script;
}

// The counters the whole run leaves; not those memcached's maintainer moves as it reaps, nor conn_yields: a batch of
// several commands runs past a loopback segment, and where a server's reads of it come short is timing (a CI run
// under load had 122 against memcached's 123). The cases above pin that count.
const maskReaped = (reply: Buffer): Buffer => Buffer.from(reply.toString('latin1')
  .replace(/^STAT (get_expired|get_flushed|reclaimed|expired_unfetched|curr_items|bytes|conn_yields) \d+/gm, 'STAT $1 <masked>'), 'latin1');
for (const [seed, args] of [[6, ['-R', '2']], [15, ['-R', '1']], [30, ['-R', '3']], [7, []]] as const) {
  differential(`text: values up to 70 KB, seeded, pipelined${args.length > 0 ? `, ${args.join(' ')}` : ''}`,
    [...pipelined(largeValuesScript(seed, 700), seed), 'stats\r\n'], { whole: true, args: [...args], mask: maskReaped });
}
