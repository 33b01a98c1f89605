// `stats` and its subcommands, against Cachalot and a real memcached.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kindsFor, serverFor, spec } from './support/spec.ts';
import { BINARY_NOOP_SENTINEL, differential } from './support/differential.ts';
import { Client } from './support/client.ts';
import { sleep, startServer } from './support/server.ts';
import net from 'node:net';
import { binRequest, setExtras } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';
import { mulberry32 } from './support/rng.ts';

spec('stats detail: per-prefix gets, hits, sets and deletes', [
  ['stats detail on\r\n', 'OK\r\n'],
  ['set x 0 0 1\r\n1\r\nget x\r\n', 'STORED\r\nVALUE x 0 1\r\n1\r\nEND\r\n'],
  ['get a:b:c\r\nset a:z 0 0 1\r\n1\r\n', 'END\r\nSTORED\r\n'],
  ['delete a:q\r\ndelete a:z\r\nincr a:z 1\r\ntouch a:y 0\r\n', 'NOT_FOUND\r\nDELETED\r\nNOT_FOUND\r\nNOT_FOUND\r\n'],
  ['gat 0 g:1\r\n', 'END\r\n'],
  ['stats detail dump\r\n', 'PREFIX g get 1 hit 0 set 0 del 0\r\nPREFIX a get 1 hit 0 set 1 del 2\r\nEND\r\n'],
  ['stats detail off\r\n', 'OK\r\n'],
  ['get a:1\r\n', 'END\r\n'],
  ['stats detail dump\r\n', 'PREFIX g get 1 hit 0 set 0 del 0\r\nPREFIX a get 1 hit 0 set 1 del 2\r\nEND\r\n'],
  ['stats detail\r\n', 'CLIENT_ERROR usage: stats detail on|off|dump\r\n'],
  ['stats detail foo\r\n', 'CLIENT_ERROR usage: stats detail on|off|dump\r\n'],
], { fresh: true, split: false });

// memcached's stats_prefix_find looks for the delimiter only up to a NUL: a key with a NUL before it has no prefix.
// (Binary keys may hold any byte; the binary protocol counts in stats detail as the text one does.)
for (const kind of kindsFor()) {
  test(`stats detail: a key with a NUL before the delimiter is not counted; one after it is [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const text = await Client.connect(server.port);
    const bin = await Client.connect(server.port);
    try {
      assert.equal((await text.request('stats detail on\r\n', 4)).toString(), 'OK\r\n');
      for (const key of [Buffer.from('a\0b:c'), Buffer.from('p:q\0r')]) {
        await bin.send(Buffer.concat([
          binRequest({ opcode: Op.SET, key, extras: setExtras(0, 0), value: 'v' }), binRequest({ opcode: Op.GET, key }),
          binRequest({ opcode: Op.DELETE, key }),
        ]));
        await bin.read(3 * 24 + 4 + 1); // SET's header; GET's header, flags and value; DELETE's header
      }
      const want = 'PREFIX p get 1 hit 1 set 1 del 1\r\nEND\r\n';
      assert.equal((await text.request('stats detail dump\r\n', want.length)).toString('latin1'), want);
    } finally { text.end(); bin.end(); await server.stop(); }
  });
}

test('stats detail dump: prefixes in memcached\'s order, its table\'s buckets in turn and the newest first in each', async () => {
  const prefixes = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'user', 'session', 'x1', 'zz', 'cart', 'pfx'];
  const seen = new Map<string, string>();
  for (const kind of kindsFor()) {
    const server = await serverFor(kind, [], true);
    try {
      const c = await Client.connect(server.port);
      await c.send(`stats detail on\r\n${prefixes.map((p, i) => `set ${p}:k 0 0 1\r\n${i % 10}\r\nget ${p}:k\r\n`).join('')}stats detail dump\r\nmn\r\n`);
      const reply = (await c.readUntil('MN\r\n')).toString('latin1');
      seen.set(kind, reply.slice(reply.indexOf('PREFIX ')));
      c.end();
    } finally { await server.stop(); }
  }
  const ours = seen.get('cachalot') ?? '';
  assert.equal(ours.split('\r\n').filter((l) => / get 1 hit 1 set 1 del 0$/.test(l)).length, prefixes.length, ours);
  if (seen.has('memcached')) assert.equal(ours, seen.get('memcached'));
});

// memcached's stats_prefix_find walks the prefix's hash bucket, newest first, and compares only the new prefix's
// length (strncmp(pfs->prefix, key, length)): a prefix that begins a longer one in its bucket is counted as that
// one, even when it has a row of its own, older. "a" and "a122" share bucket 0xb2 of 256, "q" and "q437" bucket
// 0xe8; "b" and "b1" do not share one. Reached from binary Stat as from text.
const binSet = (key: string): Buffer => binRequest({ opcode: Op.SET, key, extras: setExtras(0, 0), value: 'v' });
differential('stats detail: a prefix that begins a longer one in its hash bucket is counted as that one, as memcached\'s', [
  binRequest({ opcode: Op.STAT, key: 'detail on' }),
  Buffer.concat([binSet('a122:x'), binSet('a:x'), binRequest({ opcode: Op.GET, key: 'a:y' }), binRequest({ opcode: Op.DELETE, key: 'a:x' })]),
  Buffer.concat([binSet('q:x'), binSet('q437:x'), binSet('q:y'), binRequest({ opcode: Op.GET, key: 'q:y' })]),
  Buffer.concat([binSet('b1:x'), binSet('b:x')]),
  binRequest({ opcode: Op.STAT, key: 'detail dump' }),
], { sentinel: BINARY_NOOP_SENTINEL });

test('stats settings: detail_enabled follows stats detail on and off, as memcached\'s setting does', async () => {
  const seen = new Map<string, string[]>();
  for (const kind of kindsFor()) {
    const server = await serverFor(kind, [], true);
    try {
      const c = await Client.connect(server.port);
      const answers: string[] = [];
      for (const step of ['', 'stats detail on\r\n', 'stats detail off\r\n']) {
        await c.send(`${step}stats settings\r\n`);
        const reply = (await c.readUntil('END\r\n')).toString('latin1');
        answers.push(/STAT detail_enabled (\w+)/.exec(reply)?.[1] ?? 'missing');
      }
      c.end();
      seen.set(kind, answers);
    } finally { await server.stop(); }
  }
  assert.deepEqual(seen.get('cachalot'), ['no', 'yes', 'no']);
  if (seen.has('memcached')) assert.deepEqual(seen.get('memcached'), seen.get('cachalot'));
});

spec('stats: unknown subcommands are ERROR, reset answers RESET', [
  ['stats foo\r\n', 'ERROR\r\n'],
  ['stats reset\r\n', 'RESET\r\n'],
]);

// Debian's memcached has extstore built in: without -o ext_path, `stats extstore` lists nothing and ends, while its
// binary STAT knows no such group (pylibmc's get_stats('extstore') failed on Cachalot with the text ERROR)
differential('stats extstore: END without external storage', ['stats extstore\r\n'], { fresh: false });
differential('stats extstore over binary: no such group (KEY_ENOENT)',
  [Buffer.from('80100008000000000000000800000000000000000000000065787473746f7265', 'hex')],
  { sentinel: BINARY_NOOP_SENTINEL, fresh: false });

// Line for line the same as memcached's (the settings differential masks nothing here).
differential('stats settings: every line of memcached 1.6.18, in its order', ['stats settings\r\n']);

// extstore's options without ext_path: kept and shown, each as memcached reads it (a uint32 cut from a 64-bit
// strtoul; ext_wbuf_size in MB times 2^20 wrapping to 0 at 4096; a drop_unread flag whose value is not read),
// and the `extstore` command changes them from there
differential('-o ext_*: extstore\'s settings as given, then as the extstore command changes them', [
  'stats settings\r\n', 'extstore item_size 7\r\n', 'extstore max_frag 0.25\r\n', 'stats settings\r\n',
], { args: ['-o', 'ext_item_size=1000,ext_item_age=99999999999,ext_wbuf_size=4096,ext_max_frag=-3,ext_low_ttl=5',
  '-o', 'slab_automove_freeratio=0.12345,ext_drop_unread=0,ext_page_size=32,ext_threads=3,ext_io_depth=2,ext_recache_rate=9',
  '-o', 'ext_compact_under=4,ext_drop_under=3,ext_max_sleep=77'] });
differential('-o ext_wbuf_size in megabytes', ['stats settings\r\n'], { args: ['-o', 'ext_wbuf_size=16'] });

// printf's %.2f rounds the double's exact value half to even, and writes every digit of a large one
differential('-f 1.125 is growth_factor 1.12, as printf rounds it', ['stats settings\r\n'], { args: ['-f', '1.125'] });
// atof reads hex floats as strtod does
differential('-f 0x1.4p0 and hot_max_factor=0x1p-2 are 1.25 and 0.25', ['stats settings\r\n'],
  { args: ['-f', '0x1.4p0', '-o', 'hot_max_factor=0x1p-2'] });
differential('-f 1e22 is growth_factor written out in full', ['stats settings\r\n', 'set a 0 0 1\r\nx\r\n', 'stats slabs\r\n'],
  { args: ['-f', '1e22'] });

// strtod takes "inf": every size times it is past slab_chunk_max, so one class holds every item; %.2f prints inf
differential('-f inf: one slab class of slab_chunk_max chunks, and growth_factor inf',
  ['stats settings\r\n', 'set a 0 0 1\r\nx\r\n', `set b 0 0 5000\r\n${'b'.repeat(5000)}\r\n`, 'get a b\r\n', 'stats slabs\r\n'],
  { args: ['-f', 'inf'] });

// memcached's (size_t)atoi(optarg) * 1024 * 1024 wraps a negative -m to nearly 2^64: printed in all its digits
differential('a negative -m is a limit of nearly 2^64 bytes, in stats and stats settings',
  ['stats settings\r\n', 'stats\r\n', 'set a 0 0 1\r\nx\r\n', 'get a\r\n'], { args: ['-m', '-1'] });

differential('stats after traffic: the counters memcached keeps, as it counts them', [
  'set a 0 0 1\r\nx\r\n', 'get a b\r\n', 'gets a\r\n', 'gat 10 a b\r\n', 'touch a 10\r\n', 'touch b 1\r\n',
  'cas a 0 0 1 1\r\ny\r\n', 'cas b 0 0 1 1\r\ny\r\n', 'set n 0 0 1\r\n1\r\n', 'incr n 1\r\n', 'decr n 1\r\n',
  'incr q 1\r\n', 'decr q 1\r\n', 'delete a\r\n', 'delete a\r\n', 'flush_all 1000\r\n',
  `set big 0 0 2000000\r\n${'x'.repeat(2000000)}\r\n`, 'stats\r\n',
]);

// An item takes memcached's size (its header, CAS, the key's NUL, 4 bytes for non-zero flags): a 36-byte value
// under a 2-byte key is 97 bytes there, one past the first class, with or without our own fields' smaller need.
differential('an item takes memcached\'s size: its slab class, bytes and mem_requested', [
  'set k1 0 0 35\r\n' + 'a'.repeat(35) + '\r\n', 'set k2 0 0 36\r\n' + 'b'.repeat(36) + '\r\n',
  'set k3 1 0 31\r\n' + 'c'.repeat(31) + '\r\n', 'set k4 1 0 32\r\n' + 'd'.repeat(32) + '\r\n',
  'set key-of-twenty-ch 0 0 60\r\n' + 'e'.repeat(60) + '\r\n', 'set k5 0 0 0\r\n\r\n',
  'stats slabs\r\n', 'stats sizes\r\n',
  'delete k2\r\n', 'stats slabs\r\n', 'stats\r\n',
], { args: ['-o', 'track_sizes'] });

/**
 * Seeded stores, appends, deletes and gets with values from none to just past -I, under other slab geometries: the
 * growth factor, the smallest chunk, -I, slab_chunk_max (items past it chained), no_modern, no_chunked_items, -C,
 * and -m 8 (evictions, or refusals under -M); then every key and the slab, item and general counters. Without the LRU
 * maintainer, crawler and automover, what is evicted, and from where, follows from the requests alone.
 * bytes_written is left out: the `stats` before it wrote memcached's read buffer gauges, for which Cachalot has
 * placeholders of other lengths.
 */
function slabGeometryScript(seed: number, itemSizeMax: number, n: number): string[] {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const size = (): number => (r() < 0.5 ? Math.floor(r() * 200) : Math.min(Math.floor(Math.exp(r() * Math.log(itemSizeMax * 1.05))), itemSizeMax + 100));
  const key = (): string => `k${Math.floor(r() * 30)}`;
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = size();
    const v = String.fromCharCode(97 + (i % 26)).repeat(len);
    switch (pick(['set', 'set', 'set', 'concat', 'ms', 'get', 'get', 'delete', 'stats'] as const)) {
      case 'set': script.push(`set ${key()} ${i} 0 ${len}\r\n${v}\r\n`); break;
      case 'concat': script.push(`${pick(['append', 'prepend'])} ${key()} 0 0 ${len}\r\n${v}\r\n`); break;
      case 'ms': script.push(`ms ${key()} ${len} ${pick(['', 'MA', 'MP', 'ME'])}\r\n${v}\r\n`); break;
      case 'get': script.push(`get ${key()} ${key()}\r\n`); break;
      case 'delete': script.push(`delete ${key()}\r\n`); break;
      case 'stats': script.push(pick(['stats slabs\r\n', 'stats items\r\n', 'stats\r\n'])); break;
    }
  }
  return [...script, 'stats slabs\r\n', 'stats items\r\n', 'stats\r\n', `get ${Array.from({ length: 30 }, (_, i) => `k${i}`).join(' ')}\r\n`];
}
const withoutBytesWritten = (reply: Buffer): Buffer =>
  Buffer.from(reply.toString('latin1').replace(/^STAT bytes_written \d+\r$/m, 'STAT bytes_written <masked>\r'), 'latin1');
const NO_BACKGROUND = 'no_lru_maintainer,no_lru_crawler,no_slab_automove';
for (const [seed, itemSizeMax, args] of [
  [1, 512 * 1024, ['-f', '1.05', '-n', '100', '-I', '512k', '-o', NO_BACKGROUND]],
  [9, 1024 * 1024, ['-f', '1.5', '-o', `${NO_BACKGROUND},slab_chunk_max=524288,no_chunked_items`]],
  [21, 2 * 1024 * 1024, ['-f', '3.7', '-n', '1000', '-I', '2m', '-o', `${NO_BACKGROUND},slab_chunk_max=65536`]],
  // evictions (15 and 11 of them), then refusals under -M (5)
  [4, 4 * 1024 * 1024, ['-m', '8', '-n', '5', '-I', '4m', '-o', `${NO_BACKGROUND},slab_chunk_max=16384,no_modern`]],
  [12, 2 * 1024 * 1024, ['-m', '8', '-I', '2m', '-o', `${NO_BACKGROUND},slab_chunk_max=65536`]],
  [10, 2 * 1024 * 1024, ['-m', '8', '-I', '2m', '-o', `${NO_BACKGROUND},slab_chunk_max=8192`, '-C', '-M']],
] as const) {
  differential(`stats slabs and items after seeded traffic: ${args.join(' ')}`, slabGeometryScript(seed, itemSizeMax, 300),
    { args: [...args], whole: true, mask: withoutBytesWritten });
}

spec('shutdown with -A: a bad mode is refused, then the server hangs up and exits', [
  ['shutdown foo\r\n', 'CLIENT_ERROR invalid shutdown mode\r\n'],
  ['shutdown graceful x\r\n', 'CLIENT_ERROR invalid shutdown mode\r\n'],
  ['version\r\n', 'VERSION 1.6.18\r\n'],
  ['shutdown\r\n', ''],
], { args: ['-A'], fresh: true, closes: true, split: false });

/**
 * memcached's conn_new_cmd after a batch that spent its -R budget: a read's first command is free, each later one
 * and the pass that sends the replies spend one, so 20 commands at -R 20 (21 when their replies go out at a flush
 * point, as a get's END) yield. With nothing left to read the connection then waits in conn_new_cmd, keeping its
 * read buffer, until its next command; unless an earlier yield of the same batch had input left (40 commands), when
 * memcached's wait for the socket to be writable wakes it at once and it goes on to conn_read.
 */
test('stats conns: a connection whose batch spent its -R budget waits in conn_new_cmd until its next command [cachalot vs memcached]',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const seen: Record<string, string[]> = {};
    for (const kind of ['cachalot', 'memcached'] as const) {
      const server = await serverFor(kind, [], true);
      const probe = await Client.connect(server.port);
      const lookAt = async (c: Client): Promise<string> => {
        await probe.send('stats conns\r\n');
        const text = (await probe.readUntil('END\r\n')).toString();
        const fd = new RegExp(`^STAT (\\d+):addr tcp:127\\.0\\.0\\.1:${c.socket.localPort}\\r$`, 'm').exec(text)?.[1];
        return new RegExp(`^STAT ${fd}:state (\\S+)\\r$`, 'm').exec(text)?.[1] ?? 'no row';
      };
      // the client has its replies before the server's thread is done with them (memcached's conn_mwrite and
      // conn_new_cmd pass by then): the state it rests in is the one seen twice in a row
      const stateOf = async (c: Client): Promise<string> => {
        let state = await lookAt(c);
        for (let i = 0; i < 50; i++) {
          await sleep(20);
          const again = await lookAt(c);
          if (again === state) return state;
          state = again;
        }
        return state;
      };
      const batch = async (c: Client, line: string, reply: string, n: number): Promise<void> => {
        assert.equal((await c.request(line.repeat(n), reply.length * n)).toString(), reply.repeat(n));
      };
      try {
        const states: string[] = [];
        for (const [line, reply] of [['version\r\n', 'VERSION 1.6.18\r\n'], ['get nokey\r\n', 'END\r\n']]) {
          for (const n of [19, 20, 21, 40]) {
            const c = await Client.connect(server.port);
            await batch(c, line, reply, n);
            states.push(`${line.slice(0, 3)} x${n}: ${await stateOf(c)}`);
            await batch(c, line, reply, 1);
            states.push(`then 1: ${await stateOf(c)}`);
            c.end();
          }
        }
        seen[kind] = states;
      } finally {
        probe.end();
        await server.stop();
      }
    }
    assert.deepEqual(seen.cachalot, seen.memcached);
    assert.deepEqual(seen.cachalot, [
      'ver x19: conn_read', 'then 1: conn_read', 'ver x20: conn_new_cmd', 'then 1: conn_read',
      'ver x21: conn_new_cmd', 'then 1: conn_read', 'ver x40: conn_read', 'then 1: conn_read',
      'get x19: conn_read', 'then 1: conn_read', 'get x20: conn_read', 'then 1: conn_read',
      'get x21: conn_new_cmd', 'then 1: conn_read', 'get x40: conn_read', 'then 1: conn_read',
    ]);
  });

/**
 * memcached reads 16 KB at a time and gives every read a whole -R budget: a pipeline of more than 16 KB yields in
 * each read's worth of commands, and the commands left at a read's end, when it runs out of whole lines, start the
 * next read's budget afresh. Cachalot reads 64 KB at a time and counts as memcached's reads would have (Conn.fillEnd):
 * long get lines, noreply sets (a value that goes on past the 16 KB is read to its end, and the next line comes in a
 * read of its own), values swallowed, short lines. Each pipeline is one write under 64 KB, which memcached on
 * loopback reads in full 16 KB pieces.
 */
test('conn_yields: a pipeline over 16 KB yields as memcached\'s 16 KB reads do [cachalot vs memcached]',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const sets = (n: number, size: number): string => Array.from({ length: n },
      (_, i) => `set f${String(i).padStart(5, '0')} 0 0 ${size} noreply\r\n${'y'.repeat(size)}\r\n`).join('');
    const pipelines: Array<[string, string]> = [
      ['250 gets of a 200-byte key', `get ${'k'.repeat(200)}\r\n`.repeat(250)],
      ['300 gets of a 200-byte key', `get ${'k'.repeat(200)}\r\n`.repeat(300)],
      ['700 sets of 40 bytes', sets(700, 40)],
      ['120 sets of 400 bytes, each and 10 versions', sets(120, 400).replace(/\r\n(?=set|$)/g, `\r\n${'version\r\n'.repeat(10)}`)],
      ['40 sets of 1100 bytes over -I 1k (swallowed), each and 20 versions',
        sets(40, 1100).replace(/ noreply/g, '').replace(/\r\n(?=set|$)/g, `\r\n${'version\r\n'.repeat(20)}`)],
      ['3000 gets of a 1-byte key', 'get k\r\n'.repeat(3000)],
      ['1821 versions', 'version\r\n'.repeat(1821)],
    ];
    const seen: Record<string, string[]> = {};
    for (const kind of ['cachalot', 'memcached'] as const) {
      const server = await serverFor(kind, ['-t', '1', '-I', '1k', '-o', 'slab_chunk_max=1024'], true);
      const c = await Client.connect(server.port);
      const yields = async (): Promise<string> => {
        await c.send('stats\r\n');
        return /^STAT conn_yields (\d+)\r$/m.exec((await c.readUntil('END\r\n')).toString())?.[1] ?? '?';
      };
      try {
        const counts: string[] = [];
        for (const [name, pipeline] of pipelines) {
          const before = Number(await yields());
          await c.send(`${pipeline}mn\r\n`);
          await c.readUntil('MN\r\n');
          counts.push(`${name}: ${Number(await yields()) - before}`);
        }
        seen[kind] = counts;
      } finally {
        c.end();
        await server.stop();
      }
    }
    assert.deepEqual(seen.cachalot, seen.memcached);
    assert.deepEqual(seen.cachalot, [
      '250 gets of a 200-byte key: 9', '300 gets of a 200-byte key: 12', '700 sets of 40 bytes: 33',
      '120 sets of 400 bytes, each and 10 versions: 64', '40 sets of 1100 bytes over -I 1k (swallowed), each and 20 versions: 40',
      '3000 gets of a 1-byte key: 149', '1821 versions: 91',
    ]);
  });

spec('shutdown without -A is refused', [
  ['shutdown\r\n', 'ERROR: shutdown not enabled\r\n'],
]);

/**
 * `stats conns` in memcached's words, against memcached: the listener first, then a connection that has
 * not sent anything yet (conn_new_cmd), one idle after a command (conn_read), one inside a value
 * (conn_nread) and the asking one (conn_parse_cmd). Descriptors, ports and ages differ between the two
 * servers and are masked; so is the rows' order, which follows the descriptors memcached is given.
 */
function rowsOf(text: string, port: number): string[] {
  const rows = new Map<string, string[]>();
  for (const [, fd, name, value] of text.matchAll(/^STAT (\d+):(\S+) (.*)\r$/gm)) {
    const masked = value.replace(`:${port}`, ':<port>').replace(/:\d+$/, ':<client port>').replace(/^\d+$/, '<s>');
    rows.set(fd, [...rows.get(fd) ?? [], `${name} ${masked}`]);
  }
  return [...rows.values()].map((r) => r.join(' | ')).sort();
}

test('stats conns: a row per listener and connection, each state as memcached names it [cachalot vs memcached]',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const seen: string[][] = [];
    for (const kind of ['cachalot', 'memcached'] as const) {
      const server = await serverFor(kind, [], true);
      const opened: Client[] = [];
      try {
        const open = async (): Promise<Client> => { const c = await Client.connect(server.port); opened.push(c); return c; };
        const idle = await open();
        await idle.send('version\r\n');
        await idle.readLine();
        await (await open()).send('set x 0 0 10\r\nabc');
        await open();
        const probe = await open();
        let text = '';
        // the half-sent value and the new connection must have reached their worker before the probe asks
        for (let i = 0; i < 100 && !/conn_nread[\s\S]*conn_new_cmd/.test(text); i++) {
          if (i > 0) await sleep(20);
          await probe.send('stats conns\r\n');
          text = (await probe.readUntil('END\r\n')).toString();
        }
        seen.push(rowsOf(text, server.port));
      } finally {
        for (const c of opened) c.end();
        await server.stop();
      }
    }
    assert.deepEqual(seen[0], seen[1]);
    assert.ok(seen[0].includes('addr tcp:127.0.0.1:<port> | state conn_listening | secs_since_last_cmd <s>'));
  });

// A get's hit counts in the LRU it found the item in (hits_to_hot/warm/cold/temp, memcached's lru_hits); a gat's or
// gats' hit in touch_hits alone. Which LRU moves with the maintainer's timing: their sum does not.
for (const kind of kindsFor()) {
  test(`stats items: gat and gats hits are touch hits, not LRU hits [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      await c.request('set k 0 0 1\r\nx\r\n', 8);
      await c.send('gat 100 k\r\ngats 100 k\r\nget k\r\n');
      await c.readUntil('END\r\n'); await c.readUntil('END\r\n'); await c.readUntil('END\r\n');
      const items = await c.stats('items'), slabs = await c.stats('slabs');
      const lruHits = ['hot', 'warm', 'cold', 'temp'].reduce((sum, lru) => sum + Number(items.get(`items:1:hits_to_${lru}`)), 0);
      assert.deepEqual([lruHits, slabs.get('1:get_hits'), slabs.get('1:touch_hits')], [1, '1', '2']);
    } finally { c.end(); await server.stop(); }
  });
}

// memcached notes the time of every command (last_cmd_time): secs_since_last_cmd is how long a connection has been
// quiet, not how old it is.
for (const kind of kindsFor()) {
  test(`stats conns: secs_since_last_cmd counts from a connection's last command [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const [quiet, active] = [await Client.connect(server.port), await Client.connect(server.port)];
    try {
      for (const c of [quiet, active]) assert.equal((await c.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
      await sleep(2100); // two ticks of the clock: both are 2 s quiet, or 3
      // ...when the ticks come on time: the server's clock moves on its own timer (memcached's clock_handler), which
      // a loaded machine runs late, so the quiet one can still read 1 here. Asked again until it has had its two
      // ticks; the active one, asking each time, stays at 0.
      let conns = '';
      let idle: Array<readonly [string, number]> = [];
      for (let i = 0; i < 100 && !(idle.length === 2 && idle[1][1] >= 2); i++) {
        if (i > 0) await sleep(50);
        assert.equal((await active.request('version\r\n', 16)).toString(), 'VERSION 1.6.18\r\n');
        await active.send('stats conns\r\n');
        conns = (await active.readUntil('END\r\n')).toString();
        idle = [...conns.matchAll(/^STAT (\d+):state (conn_\w+)\r\nSTAT \1:secs_since_last_cmd (\d+)\r$/gm)]
          .filter((m) => m[2] !== 'conn_listening').map((m) => [m[2], Number(m[3])] as const).sort();
      }
      assert.equal(idle.length, 2, conns);
      assert.equal(idle[0][0], 'conn_parse_cmd'); // the asking one, this very second
      assert.equal(idle[0][1], 0);
      assert.equal(idle[1][0], 'conn_read');
      assert.ok(idle[1][1] >= 2, `the quiet one: ${conns}`);
    } finally { quiet.end(); active.end(); await server.stop(); }
  });
}

/** `stats conns` and `stats` asked on c: c's own id (the connection in conn_parse_cmd), the listener's, and the counts. */
async function connIds(c: Client): Promise<{ own: string; listener: string; counts: string }> {
  await c.send('stats conns\r\n');
  const conns = (await c.readUntil('END\r\n')).toString();
  await c.send('stats\r\n');
  const stats = (await c.readUntil('END\r\n')).toString();
  const line = (name: string): string => new RegExp(`^STAT ${name} (\\d+)\\r$`, 'm').exec(stats)?.[1] ?? '?';
  return {
    own: /^STAT (\d+):state conn_parse_cmd\r$/m.exec(conns)?.[1] ?? '?',
    listener: /^STAT (\d+):state conn_listening\r$/m.exec(conns)?.[1] ?? '?',
    counts: `curr ${line('curr_connections')}, structures ${line('connection_structures')}`,
  };
}

/** Ask c's `stats` until curr_connections is n: the server has closed its side of the others. */
async function untilConnections(c: Client, n: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    await c.send('stats\r\n');
    if ((await c.readUntil('END\r\n')).toString().includes(`STAT curr_connections ${n}\r`)) return;
    await sleep(20);
  }
  assert.fail(`curr_connections never came to ${n}`);
}

// A connection's id is memcached's fd: the lowest free one is taken, so a closed connection's id goes to the
// next, and connection_structures (conns[] entries ever made) stays at the most connections open at once. The ids
// are memcached's fds themselves: under the tests' MEMCACHED_PORT_FILENAME memcached's port file takes a descriptor
// while it listens and leaves a hole below its listener, which the first client takes (Cachalot keeps that row).
test('connection ids are taken lowest free first, as fds; connection_structures is the most open at once [cachalot vs memcached]',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const seen: string[][] = [];
    const listeners: string[] = [];
    for (const kind of ['cachalot', 'memcached'] as const) {
      const server = await serverFor(kind, ['-t', '2'], true);
      const ids: string[] = [];
      const lines: string[] = [];
      const note = async (c: Client): Promise<void> => {
        const { own, listener, counts } = await connIds(c);
        if (!ids.includes(own)) ids.push(own);
        lines.push(`connection ${ids.indexOf(own) + 1} (id ${own}), ${counts}`);
        listeners.push(`${kind} ${listener}`);
      };
      const open: Client[] = [];
      try {
        for (let i = 0; i < 3; i++) open.push(await Client.connect(server.port));
        await untilConnections(open[0], 3);
        for (const c of open) await note(c);
        open[1].end(); // its id is free again once the server has closed it
        await untilConnections(open[0], 2);
        open[1] = await Client.connect(server.port);
        await note(open[1]);
        for (let i = 0; i < 4; i++) { // one after another, never more than four open at once
          const passer = await Client.connect(server.port);
          await note(passer);
          passer.end();
          await untilConnections(open[0], 3);
        }
      } finally {
        for (const c of open) c.end();
        await server.stop();
      }
      seen.push(lines);
    }
    assert.deepEqual(seen[0], seen[1]);
    assert.deepEqual(seen[0], ['connection 1 (id 14), curr 3, structures 4', 'connection 2 (id 16), curr 3, structures 4',
      'connection 3 (id 17), curr 3, structures 4', 'connection 2 (id 16), curr 3, structures 4',
      ...Array<string>(4).fill('connection 4 (id 18), curr 4, structures 5')]);
    // memcached 1.6.18 listens on fd 6 + 4 x threads, one more with the port file open meanwhile: 15 with -t 2
    assert.deepEqual([...new Set(listeners)], ['cachalot 15', 'memcached 15']);
  });

for (const kind of kindsFor()) {
  test(`stats: a listening socket counts in total_connections, not in curr_connections [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      await c.send('stats\r\n');
      const text = (await c.readUntil('END\r\n')).toString();
      assert.match(text, /^STAT curr_connections 1\r$/m);
      assert.match(text, /^STAT total_connections 2\r$/m);
    } finally { c.end(); await server.stop(); }
  });
}

for (const kind of kindsFor()) {
  test(`stats: the hash table doubles past 1.5 items a bucket, unless -o no_hashexpand [${kind}]`, async () => {
    for (const [opts, power] of [['hashpower=13', '14'], ['hashpower=13,no_hashexpand', '13']] as const) {
      const server = await serverFor(kind, ['-o', opts], true);
      const c = await Client.connect(server.port);
      try {
        let sets = ''; // 13000 items: past 1.5 x 8192 (memcached's -t 4 has 2^12 item locks, which the table must pass)
        for (let i = 0; i < 13000; i++) sets += `set h${i} 0 0 1 noreply\r\nx\r\n`;
        await c.send(`${sets}mn\r\n`);
        await c.readUntil('MN\r\n');
        let level = '';
        for (let i = 0; i < 100 && level !== '14'; i++) { // memcached's assoc thread doubles it a moment later
          await c.send('stats\r\n');
          level = /^STAT hash_power_level (\d+)\r$/m.exec((await c.readUntil('END\r\n')).toString())?.[1] ?? '';
          if (level !== '14') await sleep(20);
        }
        assert.equal(level, power, opts);
        const want = 'VALUE h12999 0 1\r\nx\r\nEND\r\n';
        assert.equal((await c.request('get h12999\r\n', want.length)).toString(), want);
      } finally { c.end(); await server.stop(); }
    }
  });
}

differential('stats sizes: the item size histogram, switched on and off while running', [
  'set before 0 0 10\r\n0123456789\r\n', 'stats sizes\r\n', 'stats sizes_enable\r\n', 'stats sizes_enable\r\n',
  'set a 0 0 1\r\nx\r\n', 'set b 5 0 100\r\n' + 'y'.repeat(100) + '\r\n', `set c 0 0 3000\r\n${'z'.repeat(3000)}\r\n`,
  'set d 0 0 1\r\nx\r\n', 'stats sizes\r\n', 'delete a\r\n', 'set b 0 0 1\r\nx\r\n', 'append d 0 0 40\r\n' + 'w'.repeat(40) + '\r\n',
  'stats sizes\r\n', 'stats settings\r\n', 'stats sizes_disable\r\n', 'stats sizes\r\n', 'stats sizes_enable\r\n', 'stats sizes\r\n',
  // enabling takes a CAS of its own as the mark: the last item set before it stays out, even when unlinked
  'set last 0 0 1\r\nx\r\n', 'stats sizes_disable\r\n', 'stats sizes_enable\r\n', 'delete last\r\n', 'stats sizes\r\n',
]);

differential('stats sizes: kept from the start with -o track_sizes', [
  'set a 0 0 1\r\nx\r\n', 'set b 0 0 500\r\n' + 'y'.repeat(500) + '\r\n', 'stats sizes\r\n', 'stats settings\r\n',
], { args: ['-o', 'track_sizes'] });

// memcached makes its buckets as it reads -o track_sizes: with the -I given before it, or memcached's 1 MB when -I
// comes after, so larger items are not counted (a 1.2 MB append included), until sizes_disable and sizes_enable
// make the buckets again, for the -I it runs with.
const V600K = 'v'.repeat(600_000);
for (const args of [['-o', 'track_sizes', '-I', '2m'], ['-I', '2m', '-o', 'track_sizes']]) {
  differential(`stats sizes: the buckets reach the -I given before -o track_sizes (${args.join(' ')})`, [
    `set big 0 0 1200000\r\n${'b'.repeat(1_200_000)}\r\n`, `set a 0 0 600000\r\n${V600K}\r\n`,
    `append a 0 0 600000\r\n${V600K}\r\n`, 'set small 0 0 1\r\nx\r\n', 'stats sizes\r\n', 'delete big\r\n', 'stats sizes\r\n',
    'stats sizes_disable\r\n', 'stats sizes_enable\r\n', `set big 0 0 1200000\r\n${'b'.repeat(1_200_000)}\r\n`, 'stats sizes\r\n',
  ], { args });
}

for (const kind of kindsFor()) {
  test(`stats sizes: the histogram's mark is a CAS of its own, taken at start and at each sizes_enable [${kind}]`, async () => {
    const server = await serverFor(kind, ['-o', 'track_sizes'], true);
    const c = await Client.connect(server.port);
    try {
      const want = 'STORED\r\nVALUE a 0 1 2\r\nx\r\nEND\r\n'; // CAS 1 went to the mark
      assert.equal((await c.request('set a 0 0 1\r\nx\r\ngets a\r\n', want.length)).toString(), want);
      await c.send('stats sizes_disable\r\nstats sizes_enable\r\n');
      await c.readUntil('STAT sizes_status enabled\r\n'); // no END after these two
      const next = 'STORED\r\nVALUE b 0 1 4\r\nx\r\nEND\r\n'; // and 3 to the new one
      assert.equal((await c.request('set b 0 0 1\r\nx\r\ngets b\r\n', next.length)).toString(), next);
    } finally { c.end(); await server.stop(); }
  });
}

differential('stats sizes: refused without CAS (-C)', ['stats sizes_enable\r\n', 'stats sizes\r\n'], { args: ['-C'] });

// -o track_sizes takes a CAS as its mark when CAS is on as it is read: a -C after it leaves every item's CAS 0, under
// the mark, and nothing is counted; a -C before it, no mark, and every item is.
for (const args of [['-o', 'track_sizes', '-C'], ['-C', '-o', 'track_sizes']]) {
  differential(`stats sizes: -o track_sizes counts under -C only when -C came first (${args.join(' ')})`, [
    'set a 0 0 5\r\nhello\r\n', 'set b 0 0 500\r\n' + 'y'.repeat(500) + '\r\n', 'stats sizes\r\n', 'delete a\r\n', 'stats sizes\r\n',
  ], { args });
}

/** Whether this machine has an IPv6 loopback to listen on. */
async function ipv6Loopback(): Promise<boolean> {
  const probe = net.createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

test('stats conns over IPv6: tcp6:[addr]:port, as inet_ntop writes it [cachalot vs memcached]', async (t) => {
  if (kindsFor().length < 2) { t.skip('memcached is not installed'); return; }
  if (!(await ipv6Loopback())) { t.skip('no IPv6 loopback'); return; }
  const seen: string[][] = [];
  for (const kind of ['cachalot', 'memcached'] as const) {
    const server = await startServer(kind, [], { listen: '::1' });
    try {
      const socket = net.connect({ host: '::1', port: server.port });
      let text = '';
      await new Promise<void>((resolve, reject) => {
        socket.on('error', reject);
        socket.on('data', (d: Buffer) => { text += d.toString('latin1'); if (text.endsWith('END\r\n')) resolve(); });
        socket.write('stats conns\r\n');
      });
      socket.destroy();
      seen.push(rowsOf(text, server.port));
    } finally { await server.stop(); }
  }
  assert.deepEqual(seen[0], seen[1]);
  assert.ok(seen[0].some((row) => row.startsWith('addr tcp6:[::1]:<port> | state conn_listening')), seen[0].join('\n'));
  assert.ok(seen[0].some((row) => row.startsWith('addr tcp6:[::1]:<client port> | listen_addr tcp6:[::1]:<port>')));
});

// memcached's stats leave out the crawler's lines without its crawler, the LRU maintainer's without that
// thread, and have idle_kicks only with -o idle_timeout (memcached's t/stats.t counts the lines)
// -N: every connection that gets no NAPI id from the kernel (all of them on loopback) goes round-robin and counts in
// round_robin_fallback, which `stats reset` zeroes with memcached's other counters (memcached's `stats settings`
// crashes with -N, so it is not asked for here)
differential('stats: with -N each connection counts in round_robin_fallback, until stats reset', ['version\r\n', 'stats\r\n',
  'stats reset\r\n', 'stats\r\n'], { args: ['-N', '2', '-t', '2'] });
differential('stats: the lines without the LRU crawler and maintainer', ['stats\r\n'],
  { args: ['-o', 'no_lru_crawler,no_lru_maintainer'] });
// memcached's `lru_crawler disable` answers OK before its crawler thread has stopped (CRAWLER_NOWAIT); the
// thread clears settings.lru_crawler as it exits. So `stats` is read until its crawler lines are gone.
test('stats: idle_kicks with -o idle_timeout; the crawler\'s lines gone once it is disabled [cachalot vs memcached]',
  { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async () => {
    const names: string[][] = [];
    for (const kind of kindsFor()) {
      const server = await startServer(kind, ['-o', 'idle_timeout=3']);
      const c = await Client.connect(server.port);
      try {
        assert.equal((await c.request('lru_crawler disable\r\n', 4)).toString(), 'OK\r\n');
        let text = '';
        for (let i = 0; i < 200; i++) {
          await c.send('stats\r\n');
          text = (await c.readUntil('END\r\n')).toString('latin1');
          if (!text.includes('STAT lru_crawler_running ')) break;
          await sleep(10);
        }
        names.push([...text.matchAll(/^STAT (\w+) /gm)].map((m) => m[1]));
      } finally { c.end(); await server.stop(); }
    }
    assert.ok(names[0].includes('idle_kicks'));
    assert.ok(!names[0].includes('lru_crawler_running') && !names[0].includes('lru_crawler_starts'));
    assert.deepEqual(names[0], names[1], 'the same lines in the same order');
  });

// memcached's flat LRU (-o no_modern) reclaims an expired or flushed item from COLD's tail before every
// allocation (do_item_alloc_pull): the set after a flush_all reclaims the flushed item (memcached's t/issue_183.t)
differential('stats: a flat LRU reclaims the flushed item when the next set allocates', [
  'set key 0 0 1\r\n1\r\n', 'flush_all\r\n', 'set key 0 0 1\r\n1\r\n', 'get key\r\n', 'stats\r\n',
], { args: ['-o', 'no_modern'] });

// A hit counts in the LRU segment the item was in when found: memcached's mg counts lru_hits after do_item_bump,
// whose COLD -> WARM move is queued for the maintainer, so both hits on a COLD item count in hits_to_cold, as a
// get's do.
for (const kind of kindsFor()) {
  test(`stats items: hits on a COLD item count in hits_to_cold, for get and mg alike [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    const c = await Client.connect(server.port);
    try {
      for (const [key, hit] of [['g', 'get g\r\n'], ['m', 'mg m v\r\n']]) {
        assert.equal((await c.request(`set ${key} 0 0 1\r\nx\r\n`, 8)).toString(), 'STORED\r\n');
        // the maintainer moves an idle HOT item to COLD (real time: memcached has no debugtime); HOT holds nothing else
        const hot = async (): Promise<string | undefined> => (await c.stats('items')).get('items:1:number_hot');
        for (let i = 0; i < 500 && await hot() !== '0'; i++) await sleep(20);
        assert.equal(await hot(), '0', `${key} moved to COLD`);
        const before = await c.stats('items');
        const reply = hit.startsWith('get') ? `VALUE ${key} 0 1\r\nx\r\nEND\r\n` : 'VA 1\r\nx\r\n';
        for (let i = 0; i < 2; i++) assert.equal((await c.request(hit, reply.length)).toString(), reply);
        const after = await c.stats('items');
        const delta = (name: string): number => Number(after.get(`items:1:${name}`) ?? 0) - Number(before.get(`items:1:${name}`) ?? 0);
        assert.deepEqual([delta('hits_to_hot'), delta('hits_to_warm'), delta('hits_to_cold')], [0, 0, 2], `${hit.trim()}`);
      }
    } finally { c.end(); await server.stop(); }
  });
}
