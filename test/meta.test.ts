// The meta protocol (mg ms md ma mn me) as memcached 1.6.18 speaks it: every table runs against
// Cachalot and the real memcached, whole and one byte per write; the E and x flags, which came
// after 1.6.18, run against Cachalot alone (at the end). Tables with CAS values run on
// fresh servers (both count CAS from 1). Replies that depend on the clock (t<n>, l<n>, me's exp= and
// la=) are pinned in meta-time.test.ts, where Cachalot's clock is held still.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { kindsFor, serverFor, spec } from './support/spec.ts';

// ---- mg ----

spec('meta: mg miss is EN; a hit with no flags is HD', [
  ['mg k\r\n', 'EN\r\n'],
  ['ms k 2\r\nhi\r\n', 'HD\r\n'],
  ['mg k\r\n', 'HD\r\n'],
]);

spec('meta: mg v s f k O answer in request order', [
  ['ms k 5 F30\r\nhello\r\n', 'HD\r\n'],
  ['mg k v\r\n', 'VA 5\r\nhello\r\n'],
  ['mg k s v f\r\n', 'VA 5 s5 f30\r\nhello\r\n'],
  ['mg k Oabc k f s\r\n', 'HD Oabc kk f30 s5\r\n'],
  ['mg k k Oabc\r\n', 'HD kk Oabc\r\n'],
  ['mg k f\r\n', 'HD f30\r\n'],
]);

spec('meta: mg miss echoes O and k only', [
  ['mg nope v s f t c Oq1 k\r\n', 'EN Oq1 knope\r\n'],
]);

spec('meta: mg h says whether the item was fetched before; u does not count as a fetch', [
  ['ms k 1\r\na\r\n', 'HD\r\n'],
  ['mg k h u\r\n', 'HD h0\r\n'],
  ['mg k h\r\n', 'HD h0\r\n'],
  ['mg k h\r\n', 'HD h1\r\n'],
]);

spec('meta: mg t is -1 for an item that never expires; T0 keeps it so', [
  ['ms k 1 T0\r\na\r\n', 'HD\r\n'],
  ['mg k t\r\n', 'HD t-1\r\n'],
  ['mg k T0 t v\r\n', 'VA 1 t-1\r\na\r\n'],
]);

spec('meta: mg T-1 expires the item at once', [
  ['ms k 1\r\na\r\n', 'HD\r\n'],
  ['mg k T-1\r\n', 'HD\r\n'],
  ['mg k v\r\n', 'EN\r\n'],
]);

spec('meta: mg q hides a miss, not a hit', [
  ['mg nope v q\r\n', ''],
  ['ms k 1\r\na\r\n', 'HD\r\n'],
  ['mg k v q\r\n', 'VA 1\r\na\r\n'],
  ['mg k q k\r\n', 'HD kk\r\n'],
]);

spec('meta: mg N vivifies a miss: the first caller wins (W), later ones see Z', [
  ['mg k N30 v s\r\n', 'VA 0 s0 W\r\n\r\n'],
  ['mg k N30 v s\r\n', 'VA 0 s0 Z\r\n\r\n'],
  ['mg k v\r\n', 'VA 0 Z\r\n\r\n'],
  ['ms k 3\r\nnew\r\n', 'HD\r\n'],
  ['mg k v\r\n', 'VA 3\r\nnew\r\n'],
]);

spec('meta: mg R wins when the TTL left is below its token, once', [
  ['ms k 3 T100\r\nabc\r\n', 'HD\r\n'],
  ['mg k R30 v\r\n', 'VA 3\r\nabc\r\n'],
  ['mg k R500 v\r\n', 'VA 3 W\r\nabc\r\n'],
  ['mg k R500 v\r\n', 'VA 3 Z\r\nabc\r\n'],
  ['ms j 1 T0\r\nx\r\n', 'HD\r\n'],
  ['mg j R500\r\n', 'HD\r\n'],
]);

spec('meta: mg with a base64 key (b) answers with the key in base64', [
  ['ms Zm9v 3 b\r\nbar\r\n', 'HD\r\n'],
  ['mg Zm9v b v k\r\n', 'VA 3 kZm9v b\r\nbar\r\n'],
  ['mg foo k v\r\n', 'VA 3 kZm9v b\r\nbar\r\n'],
  ['mg YmFy b k\r\n', 'EN kYmFy b\r\n'],
  ['mg AAEC/w== b k s\r\n', 'EN kAAEC/w== b\r\n'],
]);

/** An O token one byte longer than memcached's MFLAG_MAX_OPAQUE_LENGTH (32). */
const O33 = `O${'1'.repeat(32)}`;

spec('meta: mg errors', [
  ['mg\r\n', 'ERROR\r\n'],
  ['mg k v v\r\n', 'CLIENT_ERROR duplicate flag\r\n'],
  ['mg k zz\r\n', 'CLIENT_ERROR invalid flag\r\n'],
  ['mg k \xff\r\n', 'CLIENT_ERROR duplicate flag\r\n'],
  ['mg Zm9 b\r\n', 'CLIENT_ERROR error decoding key\r\n'],
  ['mg k Tx\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['mg k N\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['mg k R1x\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  [`mg ${'a'.repeat(251)} v\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  [`mg ${'a'.repeat(250)} v\r\n`, 'EN\r\n'],
  ['mg k a b c d e f g h i j k l m n o p q\r\n', 'CLIENT_ERROR invalid flag\r\n'],
  ['mg k a b c d e f g h i j k l m n o p q r\r\n', 'CLIENT_ERROR options flags are too long\r\n'],
  [`mg k O${'1'.repeat(32)}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  [`mg k O${'1'.repeat(31)}\r\n`, `EN O${'1'.repeat(31)}\r\n`],
  ['mg k q Tx\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  [' mg k v\r\n', 'EN\r\n'],
]);

// ---- ms ----

spec('meta: ms modes: E add, A append, P prepend, R replace, S set', [
  ['ms k 1 MR\r\na\r\n', 'NS\r\n'],
  ['ms k 1 MA\r\na\r\n', 'NS\r\n'],
  ['ms k 1 ME\r\na\r\n', 'HD\r\n'],
  ['ms k 1 ME\r\nb\r\n', 'NS\r\n'],
  ['ms k 1 MA\r\nz\r\n', 'HD\r\n'],
  ['ms k 1 MP\r\n_\r\n', 'HD\r\n'],
  ['mg k v\r\n', 'VA 3\r\n_az\r\n'],
  ['ms k 2 MR F9\r\nrr\r\n', 'HD\r\n'],
  ['mg k v f\r\n', 'VA 2 f9\r\nrr\r\n'],
  ['ms k 1 MS\r\ns\r\n', 'HD\r\n'],
  ['mg k v f\r\n', 'VA 1 f0\r\ns\r\n'],
]);

spec('meta: ms echoes O and k; q hides HD only', [
  ['ms k 1 O77 k\r\na\r\n', 'HD O77 kk\r\n'],
  ['ms k 1 q\r\nb\r\n', ''],
  ['ms k 1 q MR k\r\nc\r\n', ''],
  ['ms nope 1 q MR k Ox\r\nc\r\n', 'NS kk Ox\r\n'.replace('kk', 'knope')],
  ['mg k v\r\n', 'VA 1\r\nc\r\n'],
]);

spec('meta: ms with a base64 key stores the decoded key', [
  ['ms Zm9v 3 b k\r\nbar\r\n', 'HD kZm9v b\r\n'],
  ['get foo\r\n', 'VALUE foo 0 3\r\nbar\r\nEND\r\n'],
  ['ms Zm9 1 b\r\nx\r\n', 'CLIENT_ERROR error decoding key\r\n'],
]);

spec('meta: ms errors swallow the value once its length is known', [
  ['ms k\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['ms\r\n', 'ERROR\r\n'],
  ['ms k x\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['ms k -1\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['ms k S1\r\na\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
  ['ms k 1 MX\r\na\r\n', 'CLIENT_ERROR invalid mode for ms M token\r\n'],
  ['ms k 1 MEE\r\na\r\n', 'CLIENT_ERROR incorrect length for M token\r\n'],
  ['ms k 1 Fx\r\na\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['ms k 1 Cx\r\na\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['ms k 1 T\r\na\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['ms k 1 zz\r\na\r\n', 'CLIENT_ERROR invalid flag\r\n'],
  ['ms k 1 T1 T2\r\na\r\n', 'CLIENT_ERROR duplicate flag\r\n'],
  [`ms k 1 O${'9'.repeat(32)}\r\na\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  [`ms k 1 O${'9'.repeat(32)} MX\r\na\r\n`, 'CLIENT_ERROR invalid mode for ms M token\r\n'],
  ['ms k 1 q\r\nabc\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
  [`ms ${'a'.repeat(251)} 1\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  ['ms k 1 a b c d e f g h i j k l m n o p q\r\n', 'CLIENT_ERROR options flags too long\r\n'],
  ['mg k\r\n', 'EN\r\n'],
]);

spec('meta: ms over the item size limit is refused, its value skipped, the old value dropped', [
  ['ms k 1\r\na\r\n', 'HD\r\n'],
  [`ms k 1048576 MA\r\n${'x'.repeat(1048576)}\r\n`, 'SERVER_ERROR object too large for cache\r\n'],
  ['mg k v\r\n', 'EN\r\n'],
], { split: false });

// memcached's process_mset_command unlinks the old value of a refused ms whatever its mode (where the text
// protocol does so for a set only), and its error is always sent. -I 2k keeps the refused values short.
const V3K = 'v'.repeat(3000);
const TOO_LARGE = 'SERVER_ERROR object too large for cache\r\n';
spec('meta: a refused ms drops the old value in every mode, q or not', [
  ...['ME', 'MA', 'MP', 'MR', 'MS q', 'C999'].flatMap((flags): [string, string][] => [
    ['ms k 1\r\nx\r\n', 'HD\r\n'],
    [`ms k 3000 ${flags}\r\n${V3K}\r\n`, TOO_LARGE],
    ['mg k v\r\n', 'EN\r\n'],
  ]),
], { args: ['-I', '2k', '-o', 'slab_chunk_max=2048'] });

for (const kind of kindsFor()) {
  test(`meta: out of memory, a refused ms drops the old value; store_no_memory and store_too_large count each refusal [${kind}]`, async () => {
    const server = await serverFor(kind, ['-m', '2', '-M'], true);
    const c = await Client.connect(server.port);
    const oom = 'SERVER_ERROR out of memory storing object\r\n';
    const v = 'v'.repeat(100_000);
    const ms = async (key: string, flags = ''): Promise<string> => {
      const reply = (await c.request(`ms ${key} ${v.length}${flags}\r\n${v}\r\n`, 4)).toString();
      return reply === 'HD\r\n' ? reply : reply + (await c.readUntil('\r\n')).toString();
    };
    try {
      assert.equal(await ms('old'), 'HD\r\n'); // in the class the fill fills
      let reply = '';
      for (let i = 0; i < 200 && reply !== oom; i++) reply = await ms(`fill${i}`);
      assert.equal(reply, oom);
      assert.equal(await ms('old', ' ME'), oom);
      assert.equal((await c.request('mg old s\r\n', 4)).toString(), 'EN\r\n');
      const big = 'x'.repeat(1048577);
      assert.equal((await c.request(`ms big ${big.length}\r\n${big}\r\n`, TOO_LARGE.length)).toString(), TOO_LARGE);
      const stats = await c.stats();
      assert.deepEqual([stats.get('store_no_memory'), stats.get('store_too_large')], ['2', '1']);
    } finally {
      c.end();
      await server.stop();
    }
  });
}

spec('meta: a large (chained) value goes in and comes back whole; ma calls it non-numeric', [
  [`ms big 600000 T0\r\n${'z'.repeat(600000)}\r\n`, 'HD\r\n'],
  ['mg big s\r\n', 'HD s600000\r\n'],
  ['mg big v k\r\n', `VA 600000 kbig\r\n${'z'.repeat(600000)}\r\n`],
  [`ms big 600000 MA\r\n${'y'.repeat(600000)}\r\n`, 'NS\r\n'], // the sum is over -I
  [`ms big 300000 MA\r\n${'y'.repeat(300000)}\r\n`, 'HD\r\n'],
  ['mg big s\r\n', 'HD s900000\r\n'],
  ['ma big\r\n', 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
], { split: false });

spec('meta: ms T sets the TTL; F the client flags (32 bits, as memcached truncates)', [
  ['ms k 1 T-1\r\na\r\n', 'HD\r\n'],
  ['mg k\r\n', 'EN\r\n'],
  ['ms k 1 F4294967297\r\na\r\n', 'HD\r\n'],
  ['mg k f\r\n', 'HD f1\r\n'],
]);

// ---- md ----

spec('meta: md deletes: HD, NF; q hides HD only; O and k echoed', [
  ['md k\r\n', 'NF\r\n'],
  ['md k q Oa k\r\n', 'NF Oa kk\r\n'],
  ['ms k 1\r\na\r\n', 'HD\r\n'],
  ['md k Oa k\r\n', 'HD Oa kk\r\n'],
  ['ms k 1\r\na\r\n', 'HD\r\n'],
  ['md k q\r\n', ''],
  ['mg k\r\n', 'EN\r\n'],
  ['ms Zm9v 1 b\r\na\r\n', 'HD\r\n'],
  ['md Zm9v b k\r\n', 'HD kZm9v b\r\n'],
]);

spec('meta: md I marks the item stale: X, and the next fetch wins (W)', [
  ['ms k 3 T100\r\nold\r\n', 'HD\r\n'],
  ['md k I T30\r\n', 'HD\r\n'],
  ['mg k v\r\n', 'VA 3 X W\r\nold\r\n'],
  ['mg k v\r\n', 'VA 3 Z X\r\nold\r\n'],
  ['md k I q\r\n', ''],
  ['mg k\r\n', 'HD X W\r\n'],
  ['md k\r\n', 'HD\r\n'],
  ['mg k\r\n', 'EN\r\n'],
]);

spec('meta: md errors', [
  ['md\r\n', 'ERROR\r\n'],
  ['md k zz\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['md k q q\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['md k Cx\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['md Zm9 b\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  [`md k O${'1'.repeat(32)}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  [`md ${'a'.repeat(251)}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
  ['md k a b c d e f g h i j k l m n o p q r\r\n', 'CLIENT_ERROR options flags too long\r\n'],
]);

// ---- ma ----

spec('meta: ma increments by 1, D by delta; MD / M- decrement, floored at 0; 64 bits wrap', [
  ['ma n\r\n', 'NF\r\n'],
  ['ms n 2\r\n10\r\n', 'HD\r\n'],
  ['ma n\r\n', 'HD\r\n'],
  ['ma n v\r\n', 'VA 2\r\n12\r\n'],
  ['ma n D10 v\r\n', 'VA 2\r\n22\r\n'],
  ['ma n MD D2 v\r\n', 'VA 2\r\n20\r\n'],
  ['ma n M- D100 v\r\n', 'VA 1\r\n0\r\n'],
  ['ma n M+ D18446744073709551615 v\r\n', 'VA 20\r\n18446744073709551615\r\n'],
  ['ma n MI v\r\n', 'VA 1\r\n0\r\n'],
  ['mg n v\r\n', 'VA 20\r\n0                   \r\n'],
]);

spec('meta: ma N creates a missing counter from J; q hides only a nominal result', [
  ['ma c N0 J5 v\r\n', 'VA 1\r\n5\r\n'],
  ['ma c N0 J5 v\r\n', 'VA 1\r\n6\r\n'],
  ['ma c q v\r\n', ''],
  ['ma d q N0 J9 v\r\n', 'VA 1\r\n9\r\n'],
  ['mg d f s v\r\n', 'VA 1 f0 s1\r\n9\r\n'], // the counter N made: its digits, client flags 0
  ['ma big N0 J18446744073709551615\r\n', 'HD\r\n'],
  ['get big\r\n', 'VALUE big 0 20\r\n18446744073709551615\r\nEND\r\n'],
  // an O token too long on a hit: the error alone; the lookup had bumped the item unless a flag took the lock (h)
  ['ms b8 1\r\nx\r\n', 'HD\r\n'],
  [`mg b8 ${O33}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['mg b8 h\r\n', 'HD h1\r\n'],
  ['ms b7 1\r\nx\r\n', 'HD\r\n'],
  [`mg b7 h ${O33}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['mg b7 h\r\n', 'HD h0\r\n'],
  ['ma nope q\r\n', 'NF\r\n'],
  ['ma nope q O1 k\r\n', 'NF O1 knope\r\n'],
  ['ma c v t Ox k\r\n', 'VA 1 t-1 Ox kc\r\n8\r\n'],
]);

spec('meta: ma errors', [
  ['ma\r\n', 'ERROR\r\n'],
  // an O token too long after the increment: the error alone, the new value stays; with a CAS mismatch, the error
  ['ms b5 1\r\n1\r\n', 'HD\r\n'],
  [`ma b5 ${O33}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['mg b5 v\r\n', 'VA 1\r\n2\r\n'],
  [`ma b5 C999 ${O33}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['ms s 3\r\nabc\r\n', 'HD\r\n'],
  ['ma s\r\n', 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  ['ma s q\r\n', 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
  ['ma n MX\r\n', 'CLIENT_ERROR invalid mode for ma M token\r\n'],
  ['ma n MII\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['ma n Dx\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['ma n D18446744073709551616\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['ma n Jx\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['ma n v v\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  [`ma n O${'1'.repeat(32)}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  [`ma n N0 O${'1'.repeat(32)}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['ma n v\r\n', 'VA 1\r\n1\r\n'],
  [`ma ${'a'.repeat(251)}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
]);

// ---- mn, me, unknown ----

spec('meta: mn answers MN whatever follows; unknown m-commands are ERROR', [
  ['mn\r\n', 'MN\r\n'],
  ['mn foo bar\r\n', 'MN\r\n'],
  ['mx k\r\n', 'ERROR\r\n'],
  ['mz\r\n', 'ERROR\r\n'],
  ['m\r\n', 'ERROR\r\n'],
  ['mgg k\r\n', 'ERROR\r\n'],
]);

spec('meta: me misses, errors', [
  ['me k\r\n', 'EN\r\n'],
  ['me\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  ['me Zm9 b\r\n', 'CLIENT_ERROR bad command line format\r\n'],
  [`me ${'a'.repeat(251)}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
]);

// ---- quiet pipelines ----

spec('meta: a quiet pipeline says only what went wrong, and mn ends it', [
  ['ms a 1 q\r\n1\r\nms b 1 q\r\n2\r\nms c 1 q MR\r\n3\r\nmg a v q\r\nmg x v q k\r\nmg b q k\r\nmd x q\r\n' +
    'md b q\r\nma a q\r\nma x q\r\nmn\r\n',
  'NS\r\nVA 1\r\n1\r\nHD kb\r\nNF\r\nNF\r\nMN\r\n'],
  ['mg a v\r\nmg b v\r\nmn\r\n', 'VA 1\r\n2\r\nEN\r\nMN\r\n'],
  ['mg x q\r\nmg y q\r\nmg z q\r\nmn\r\n', 'MN\r\n'],
]);

// ---- CAS (fresh servers: both count from 1) ----

spec('meta: CAS: mg c, ms C (compare), md C, ma C', [
  ['ms k 1 c\r\na\r\n', 'HD c1\r\n'],
  ['mg k c v\r\n', 'VA 1 c1\r\na\r\n'],
  ['ms k 1 C2 c\r\nb\r\n', 'EX c0\r\n'],
  ['ms k 1 C1 c k\r\nb\r\n', 'HD c2 kk\r\n'],
  ['ms j 1 C5\r\nb\r\n', 'NF\r\n'],
  ['ms k 1 C1 MA\r\nb\r\n', 'EX\r\n'],
  ['ms k 1 C2 MA c\r\nc\r\n', 'HD c3\r\n'],
  ['ms k 1 C1 ME c\r\nd\r\n', 'NS c0\r\n'],
  ['mg k v c\r\n', 'VA 2 c3\r\nbc\r\n'],
  ['md k C1\r\n', 'EX\r\n'],
  ['md k C1 q\r\n', 'EX\r\n'],
  ['ms n 1\r\n5\r\n', 'HD\r\n'],
  ['ma n C1 v\r\n', 'EX\r\n'],
  ['ma n C4 v c\r\n', 'VA 1 c5\r\n6\r\n'],
  ['ma n D10 c v\r\n', 'VA 2 c6\r\n16\r\n'],
  ['md k C3 q\r\n', ''],
  ['mg k\r\n', 'EN\r\n'],
], { fresh: true, split: false });

spec('meta: ms I with an older CAS stores the value but leaves it stale', [
  ['ms k 3 T100 c\r\nold\r\n', 'HD c1\r\n'],
  ['md k I\r\n', 'HD\r\n'],
  ['mg k c v\r\n', 'VA 3 c2 X W\r\nold\r\n'],
  ['ms k 4 C1 I c\r\nlate\r\n', 'HD c3\r\n'],
  ['mg k c v\r\n', 'VA 4 c3 Z X\r\nlate\r\n'],
  ['ms k 5 C3 I c\r\nfresh\r\n', 'HD c4\r\n'],
  ['mg k c v\r\n', 'VA 5 c4\r\nfresh\r\n'],
  ['ms k 1 C1 I\r\nx\r\n', 'HD\r\n'],
  ['ms k 1 C9 I\r\ny\r\n', 'EX\r\n'],
  ['ms k 1 C1 I MA\r\nz\r\n', 'EX\r\n'],
], { fresh: true, split: false });

spec('meta: ma after an incr that grows the value reports the old item: a T there is lost', [
  ['ms n 1\r\n9\r\n', 'HD\r\n'],
  ['ma n T100 t v\r\n', 'VA 2 t100\r\n10\r\n'],
  ['mg n t\r\n', 'HD t-1\r\n'],
  ['ma n T0 t\r\n', 'HD t-1\r\n'],
]);

spec('meta: with -C there is no CAS: c shows 0, a C never matches', [
  ['ms k 1 c\r\na\r\n', 'HD c0\r\n'],
  ['mg k c\r\n', 'HD c0\r\n'],
  ['ms k 1 C0\r\nb\r\n', 'EX\r\n'],
  ['ms k 1 C5\r\nb\r\n', 'EX\r\n'],
  ['md k C5\r\n', 'EX\r\n'],
  ['ms n 1\r\n5\r\n', 'HD\r\n'],
  ['ma n C5 v\r\n', 'EX\r\n'],
  ['ma n C0 v\r\n', 'VA 1\r\n6\r\n'],
], { args: ['-C'], fresh: true, split: false });

// ---- E (explicit CAS) and md's x: memcached 1.6.27+ (1.6.18 refuses them), so Cachalot only ----
// These run on a -F server of their own, never flushed: a flush_all hides every item whose CAS is
// below the counter at the flush (memcached's item_is_flushed), explicit ones included, and an
// explicit CAS above it outlives the flush. So each spec deletes what it stored.

const newerMeta = { against: ['cachalot' as const], args: ['-F'] };

spec('meta E: ms E gives the stored item its CAS; gets and mg c show it; ms C with it succeeds', [
  ['ms k 1 E500 c\r\na\r\n', 'HD c500\r\n'],
  ['gets k\r\n', 'VALUE k 0 1 500\r\na\r\nEND\r\n'],
  ['mg k c v\r\n', 'VA 1 c500\r\na\r\n'],
  ['ms k 1 C499 E1 c\r\nb\r\n', 'EX c0\r\n'],
  ['ms k 1 C500 E600 c\r\nb\r\n', 'HD c600\r\n'],
  ['cas k 0 0 1 600\r\nc\r\n', 'STORED\r\n'],
  ['ms k 1 MA E700 c\r\nd\r\n', 'HD c700\r\n'],
  ['mg k c v\r\n', 'VA 2 c700\r\ncd\r\n'],
  ['ms k 1 E0 c\r\ne\r\n', 'HD c0\r\n'],
  ['ms k 1 E9007199254740991 c\r\nf\r\n', 'HD c9007199254740991\r\n'],
  ['gets k\r\n', 'VALUE k 0 1 9007199254740991\r\nf\r\nEND\r\n'],
  ['md k\r\n', 'HD\r\n'],
], newerMeta);

spec('meta E: ms I with an older CAS stores a stale item with E as its CAS', [
  ['ms si 1 E700\r\na\r\n', 'HD\r\n'],
  ['ms si 1 C10 I E650 c\r\nb\r\n', 'HD c650\r\n'],
  ['mg si c v\r\n', 'VA 1 c650 X W\r\nb\r\n'],
  ['md si\r\n', 'HD\r\n'],
], newerMeta);

spec('meta E: a bad token, or one above 2^53 - 1 (our CAS is a JS number), is refused', [
  ['ms bad 1 Ex\r\na\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['ms bad 1 E9007199254740992\r\na\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['mg bad E\r\n', 'CLIENT_ERROR bad token in command line format\r\n'],
  ['md bad E-1\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['ma bad E1 E2\r\n', 'CLIENT_ERROR invalid or duplicate flag\r\n'],
  ['mg bad\r\n', 'EN\r\n'],
], newerMeta);

spec('meta E: mg N E gives the vivified item its CAS; a hit, T or N leaves the CAS alone', [
  ['mg viv N30 E77 c\r\n', 'HD c77 W\r\n'],
  ['mg viv E88 T60 c\r\n', 'HD c77 Z\r\n'],
  ['mg viv N30 E99 c s\r\n', 'HD c77 s0 Z\r\n'],
  ['ms viv 2 C77 E78 c\r\nhi\r\n', 'HD c78\r\n'],
  ['mg viv E5 c v\r\n', 'VA 2 c78\r\nhi\r\n'],
  ['md viv\r\n', 'HD\r\n'],
], newerMeta);

spec('meta E: ma E is the CAS after an incr in place, after a relink, and of a counter N creates', [
  ['ma cnt N0 J5 E40 c v\r\n', 'VA 1 c40\r\n5\r\n'],
  ['ma cnt E41 c v\r\n', 'VA 1 c41\r\n6\r\n'],
  ['ma cnt D94 E42 c v\r\n', 'VA 3 c42\r\n100\r\n'],
  ['gets cnt\r\n', 'VALUE cnt 0 3 42\r\n100\r\nEND\r\n'],
  ['ma cnt C41 E43\r\n', 'EX\r\n'],
  ['ma cnt C42 E43 c\r\n', 'HD c43\r\n'],
  ['ma cnt MD E44 q\r\n', ''],
  ['gets cnt\r\n', 'VALUE cnt 0 3 44\r\n100\r\nEND\r\n'],
  ['md cnt\r\n', 'HD\r\n'],
], newerMeta);

spec('meta E: md I E marks the item stale with E as its CAS; a writer holding E may then store', [
  ['ms st 1 E10\r\na\r\n', 'HD\r\n'],
  ['md st I E50\r\n', 'HD\r\n'],
  ['mg st c v\r\n', 'VA 1 c50 X W\r\na\r\n'],
  ['ms st 1 C50 E60 c\r\nb\r\n', 'HD c60\r\n'],
  ['mg st c v\r\n', 'VA 1 c60\r\nb\r\n'],
  ['md st C60 E70\r\n', 'HD\r\n'],
  ['mg st\r\n', 'EN\r\n'],
], newerMeta);

spec('meta x: md x leaves the key with an empty value, flags 0, no TTL and the old CAS', [
  ['ms x1 3 F5 T100 E10\r\nabc\r\n', 'HD\r\n'],
  ['md x1 x\r\n', 'HD\r\n'],
  ['mg x1 v c f s t\r\n', 'VA 0 c10 f0 s0 t-1\r\n\r\n'],
  ['gets x1\r\n', 'VALUE x1 0 0 10\r\n\r\nEND\r\n'],
  ['ms x1 1 MA\r\nz\r\n', 'HD\r\n'],
  ['mg x1 v\r\n', 'VA 1\r\nz\r\n'],
  ['md x1 x\r\n', 'HD\r\n'],
  ['md x1\r\n', 'HD\r\n'],
  ['mg x1\r\n', 'EN\r\n'],
  ['md x1 x\r\n', 'NF\r\n'],
], newerMeta);

spec('meta x: md x takes F and E for the emptied item; C gates it; q hides HD; O, k and b echo', [
  ['ms x2 3 E20\r\nabc\r\n', 'HD\r\n'],
  ['md x2 x C19 E30\r\n', 'EX\r\n'],
  ['mg x2 v c\r\n', 'VA 3 c20\r\nabc\r\n'],
  ['md x2 x C20 E30 F7 q\r\n', ''],
  ['mg x2 v c f\r\n', 'VA 0 c30 f7\r\n\r\n'],
  ['md x2 x O1 k\r\n', 'HD O1 kx2\r\n'],
  ['md x2\r\n', 'HD\r\n'],
  ['md Zm9v b x k\r\n', 'NF kZm9v b\r\n'],
  ['ms Zm9v 1 b\r\nv\r\n', 'HD\r\n'],
  ['md Zm9v b x k\r\n', 'HD kZm9v b\r\n'],
  ['mg Zm9v b k s\r\n', 'HD kZm9v b s0\r\n'],
  ['mg foo k\r\n', 'HD kZm9v b\r\n'],
  ['md foo\r\n', 'HD\r\n'],
], newerMeta);

spec('meta x: md x I leaves a stale tombstone; E is its CAS, T its TTL', [
  ['ms x3 3 T100 E20\r\nabc\r\n', 'HD\r\n'],
  ['md x3 x I E40 T0\r\n', 'HD\r\n'],
  ['mg x3 v c t\r\n', 'VA 0 c40 t-1 X W\r\n\r\n'],
  ['mg x3 c\r\n', 'HD c40 Z X\r\n'],
  ['ms x3 3 C40 E41 c\r\nnew\r\n', 'HD c41\r\n'],
  ['md x3 x I\r\n', 'HD\r\n'],
  ['ms x3 1 C41 c\r\nz\r\n', 'EX c0\r\n'],
  ['md x3\r\n', 'HD\r\n'],
], newerMeta);

spec('meta x: mg, ms and ma accept x and ignore it, as memcached 1.6.27+ does', [
  ['ms x4 1 x\r\na\r\n', 'HD\r\n'],
  ['mg x4 x v\r\n', 'VA 1\r\na\r\n'],
  ['ms x5 1\r\n1\r\n', 'HD\r\n'],
  ['ma x5 x v\r\n', 'VA 1\r\n2\r\n'],
  ['md x4\r\n', 'HD\r\n'],
  ['md x5\r\n', 'HD\r\n'],
], newerMeta);

spec('meta E: after a flush_all, an item given a CAS below the flush\'s is hidden, as in memcached', [
  ['ms a 1 c\r\na\r\n', 'HD c1\r\n'],
  ['flush_all\r\n', 'OK\r\n'],
  ['ms b 1 E1\r\nb\r\n', 'HD\r\n'],
  ['mg b v\r\n', 'EN\r\n'],
], { against: ['cachalot'], fresh: true, split: false });

spec('meta E with -C: there is no CAS to set, c shows 0', [
  ['ms k 1 E5 c\r\na\r\n', 'HD c0\r\n'],
  ['md k x E6\r\n', 'HD\r\n'],
  ['mg k c v\r\n', 'VA 0 c0\r\n\r\n'],
  ['ma n N0 E7 c\r\n', 'HD c0\r\n'],
], { args: ['-C'], against: ['cachalot'], fresh: true, split: false });
