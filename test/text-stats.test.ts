// `stats` and its subcommands, against Cachalot and a real memcached.

import { spec } from './support/spec.ts';
import { differential } from './support/differential.ts';

spec('stats detail: per-prefix gets, hits, sets and deletes, newest prefix first', [
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

spec('stats: unknown subcommands are ERROR, reset answers RESET', [
  ['stats foo\r\n', 'ERROR\r\n'],
  ['stats reset\r\n', 'RESET\r\n'],
]);

// Line for line the same as memcached's (the settings differential masks nothing here).
differential('stats settings: every line of memcached 1.6.18, in its order', ['stats settings\r\n']);

differential('stats after traffic: the counters memcached keeps, as it counts them', [
  'set a 0 0 1\r\nx\r\n', 'get a b\r\n', 'gets a\r\n', 'gat 10 a b\r\n', 'touch a 10\r\n', 'touch b 1\r\n',
  'cas a 0 0 1 1\r\ny\r\n', 'cas b 0 0 1 1\r\ny\r\n', 'set n 0 0 1\r\n1\r\n', 'incr n 1\r\n', 'decr n 1\r\n',
  'incr q 1\r\n', 'decr q 1\r\n', 'delete a\r\n', 'delete a\r\n', 'flush_all 1000\r\n',
  `set big 0 0 2000000\r\n${'x'.repeat(2000000)}\r\n`, 'stats\r\n',
]);

spec('shutdown with -A: a bad mode is refused, then the server hangs up and exits', [
  ['shutdown foo\r\n', 'CLIENT_ERROR invalid shutdown mode\r\n'],
  ['shutdown graceful x\r\n', 'CLIENT_ERROR invalid shutdown mode\r\n'],
  ['version\r\n', 'VERSION 1.6.18\r\n'],
  ['shutdown\r\n', ''],
], { args: ['-A'], fresh: true, closes: true, split: false });

spec('shutdown without -A is refused', [
  ['shutdown\r\n', 'ERROR: shutdown not enabled\r\n'],
]);
