// Meta replies that show the clock: t (TTL left), l (seconds since last access), me's exp= and la=,
// and R/N/T against real TTLs. memcached's clock cannot be held, so these run on Cachalot only, with
// its clock moved by `debugtime` (far ahead first: then the wall clock never ticks it during a test).
// The same commands are compared with memcached, times masked, in meta-differential.test.ts.

import { spec } from './support/spec.ts';

process.env.CACHALOT_DEBUG_TIME = '1'; // read when the server starts, in the first test

const cachalot = { against: ['cachalot' as const] };
const FREEZE: [string, string] = ['debugtime 100000\r\n', 'OK\r\n'];

// Without the LRU maintainer, whose moves would race the test: once the clock has jumped it may move the item to
// COLD at any moment, where a fetch bumps the item's time later, through the maintainer (memcached's lru_bump_async).
// Without it the LRU is flat, and a fetch updates the time once it is over ITEM_UPDATE_INTERVAL (60 s) old.
spec('meta time: mg t counts down, l counts from the last access, h1 after a fetch', [
  FREEZE,
  ['ms k 3 T100\r\nabc\r\n', 'HD\r\n'],
  ['mg k t l v\r\n', 'VA 3 t100 l0\r\nabc\r\n'],
  ['debugtime 30\r\n', 'OK\r\n'],
  ['mg k t l h\r\n', 'HD t70 l30 h1\r\n'],
  ['mg k l\r\n', 'HD l30\r\n'], // a fetch within 60 s of the last leaves the time
  ['debugtime 31\r\n', 'OK\r\n'],
  ['mg k t l\r\n', 'HD t39 l61\r\n'],
  ['mg k l\r\n', 'HD l0\r\n'],
  ['mg k T50 t\r\n', 'HD t50\r\n'],
  ['mg k t T500 s\r\n', 'HD t50 s3\r\n'],
  ['mg k t\r\n', 'HD t500\r\n'],
  ['debugtime 500\r\n', 'OK\r\n'],
  ['mg k v\r\n', 'EN\r\n'],
], { ...cachalot, args: ['-o', 'no_lru_maintainer'] });

spec('meta time: R wins below its TTL; N sets the vivified TTL; md I T sets the stale TTL; ms I keeps it', [
  FREEZE,
  ['ms k 1 T100\r\na\r\n', 'HD\r\n'],
  ['mg k R99 t\r\n', 'HD t100\r\n'],
  ['debugtime 2\r\n', 'OK\r\n'],
  ['mg k R99 t\r\n', 'HD t98 W\r\n'],
  ['mg n N20 t s\r\n', 'HD t20 s0 W\r\n'],
  ['mg n N90 t\r\n', 'HD t20 Z\r\n'],
  ['md k I T30\r\n', 'HD\r\n'],
  ['mg k t\r\n', 'HD t30 X W\r\n'],
  // a stale store (I, an older CAS) keeps the item's TTL and its token, whatever T says (memcached's CAS_STALE)
  ['ms k 1 C1 I T500\r\nb\r\n', 'HD\r\n'],
  ['mg k t v\r\n', 'VA 1 t30 Z X\r\nb\r\n'],
  ['ms k 1 T0\r\nb\r\n', 'HD\r\n'],
  ['mg k t\r\n', 'HD t-1\r\n'],
], cachalot);

spec('meta time: ma t and T; N sets a new counter TTL; a T before an O too long stays', [
  FREEZE,
  ['ms b1 1\r\nx\r\n', 'HD\r\n'],
  [`mg b1 v T30 O${'1'.repeat(32)}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['mg b1 t v\r\n', 'VA 1 t30\r\nx\r\n'],
  ['ms b5 1\r\n1\r\n', 'HD\r\n'],
  [`ma b5 T30 O${'1'.repeat(32)}\r\n`, 'CLIENT_ERROR opaque token too long\r\n'],
  ['mg b5 v t\r\n', 'VA 1 t30\r\n2\r\n'],
  ['ma c t N100 J7 v\r\n', 'VA 1 t-1\r\n7\r\n'],
  ['mg c t\r\n', 'HD t100\r\n'],
  ['ma c T40 t\r\n', 'HD t40\r\n'],
  ['ma c t N5\r\n', 'HD t40\r\n'],
  ['debugtime 40\r\n', 'OK\r\n'],
  ['ma c\r\n', 'NF\r\n'],
], cachalot);

spec('meta time: me shows exp= (negative: seconds to go), la=, cas=, fetch=, cls=, size=', [
  FREEZE,
  ['ms k 3 T100\r\nabc\r\n', 'HD\r\n'],
  ['me k\r\n', 'ME k exp=-100 la=0 cas=1 fetch=no cls=1 size=63\r\n'],
  ['debugtime 10\r\n', 'OK\r\n'],
  ['mg k\r\n', 'HD\r\n'],
  ['me k\r\n', 'ME k exp=-90 la=10 cas=1 fetch=yes cls=1 size=63\r\n'],
  ['ms Zm9v 1 b F1 T0\r\nx\r\n', 'HD\r\n'],
  ['me Zm9v b\r\n', 'ME Zm9v exp=-1 la=0 cas=2 fetch=no cls=1 size=67\r\n'],
], { ...cachalot, fresh: true, split: false });
