// memcached 1.6.18's command line, pinned: messages and exit codes were taken from the real
// binary (`memcached -u root ...`), replacing only "memcached" by "cachalot" in banners.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSettings, type ParseOutcome, type Settings } from './settings.ts';
import { parseItemSize } from './options.ts';
import { atof, atoi, printfFixed } from './c-numbers.ts';
import { initialMallocFromEnv, reportSettings, storeSettingsOf } from './report.ts';

function run(...argv: string[]): Settings {
  const r = parseSettings(argv, {});
  if (r.kind !== 'run') assert.fail(`expected to run, got exit ${r.code}: ${r.stderr}`);
  return r.settings;
}
function exits(argv: string[]): Extract<ParseOutcome, { kind: 'exit' }> {
  const r = parseSettings(argv, {});
  if (r.kind !== 'exit') assert.fail(`expected an exit for ${argv.join(' ')}`);
  return r;
}
function fails(argv: string[], code: number, stderr: string): void {
  const r = exits(argv);
  assert.deepEqual([r.code, r.stderr, r.stdout], [code, stderr, ''], argv.join(' '));
}

test('defaults are memcached 1.6 defaults, except listening on 127.0.0.1 only', () => {
  const s = run();
  assert.equal(s.port, 11211); assert.equal(s.udpPort, 0); assert.deepEqual(s.listen, ['127.0.0.1']);
  assert.equal(s.threads, 4); assert.equal(s.maxBytes, 64 * 1024 * 1024); assert.equal(s.maxConns, 1024);
  assert.equal(s.reqsPerEvent, 20); assert.equal(s.backlog, 1024); assert.equal(s.protocol, 'auto');
  assert.equal(s.itemSizeMax, 1048576); assert.equal(s.factor, 1.25); assert.equal(s.chunkSizeMin, 48);
  assert.equal(s.evictToFree, true); assert.equal(s.useCas, true); assert.equal(s.socketMask, 0o700);
  assert.equal(s.slabChunkMax, 524288); assert.equal(s.lruSegmented, true); assert.equal(s.hashpowerInit, 0);
});

test('short, clustered, attached and long forms', () => {
  const s = run('-p', '11311', '-t8', '-vvv', '--memory-limit=128', '--conn-limit', '10', '-MC', '--enable-shutdown',
    '--listen=10.0.0.1', '-l', '10.0.0.2,10.0.0.1', '--max-item-size=2m', '--extended=hashpower=20,no_lru_crawler');
  assert.equal(s.port, 11311); assert.equal(s.threads, 8); assert.equal(s.verbose, 3);
  assert.equal(s.maxBytes, 128 * 1048576); assert.equal(s.maxConns, 10);
  assert.equal(s.evictToFree, false); assert.equal(s.useCas, false); assert.equal(s.shutdownEnabled, true);
  assert.deepEqual(s.listen, ['10.0.0.1', '10.0.0.2']); assert.equal(s.numThreadsPerUdp, 1);
  assert.equal(s.itemSizeMax, 2 * 1048576); assert.equal(s.slabChunkMax, 524288);
  assert.equal(s.hashpowerInit, 20); assert.equal(s.lruCrawler, false);
  assert.equal(run('--port', '-1').port, -1, 'ephemeral port');
  assert.equal(run('--memory-l=8').maxBytes, 8 * 1048576, 'an unambiguous prefix of a long option');
  assert.equal(run('-m', '64m').maxBytes, 64 * 1048576, 'atoi stops at the junk, as memcached');
});

test('-l arguments join as memcached\'s settings.inter: one already part of the list is skipped, a comma means several', () => {
  const udp = (...argv: string[]): [string[], number] => { const s = run('-t', '4', ...argv); return [s.listen, s.numThreadsPerUdp]; };
  assert.deepEqual(udp('-l', '127.0.0.1'), [['127.0.0.1'], 4]);
  assert.deepEqual(udp('-l', '10.0.0.1', '-l', '10.0.0.2'), [['10.0.0.1', '10.0.0.2'], 1]);
  assert.deepEqual(udp('-l', '127.0.0.1,127.0.0.1'), [['127.0.0.1'], 1], 'a comma, even between the same address');
  assert.deepEqual(udp('-l', '127.0.0.1', '-l', ''), [['127.0.0.1'], 4], 'the empty string is in every list');
  assert.deepEqual(udp('-l', '127.0.0.1', '-l', '27.0.0.1'), [['127.0.0.1'], 4], 'strstr: inside one given before');
});

test('-N is checked as memcached checks it: more than 0, no more than -t', () => {
  assert.equal(run('-t', '4', '-N', '2').napiIds, 2);
  assert.equal(run('-t', '4').napiIds, 0);
  const zero = exits(['-N', '0']);
  assert.deepEqual([zero.code, zero.stderr], [1, 'Maximum number of NAPI IDs must be greater than 0\n']);
  const over = exits(['-t', '2', '-N', '3']);
  assert.deepEqual([over.code, over.stderr], [64, 'Number of napi_ids(3) cannot be greater than number of threads(2)\n']);
});

test('-h, -V and -i print and exit 0; later errors are not reached', () => {
  const v = exits(['-V', '-t', '0']);
  assert.deepEqual([v.code, v.stdout, v.stderr], [0, 'cachalot 0.1.0\n', '']);
  const h = exits(['--help']);
  assert.equal(h.code, 0); assert.match(h.stdout, /^cachalot 0\.1\.0\n-p, --port=<num>/);
  assert.match(h.stdout, /^-N, --napi_ids {12}number of napi ids/m);
  assert.match(h.stdout, /^-e, --memory-file=<file>/m);
  assert.equal(run('-e', '/tmp/m', '-f', '1.5').memoryFile, '/tmp/m');
  assert.equal(run('-f', '1.50').slabConfig, '1.50', 'the text as given: a restart compares it as memcached does');
  assert.match(h.stdout, /^-Z, --enable-ssl {10}enable TLS\/SSL$/m);
  assert.match(h.stdout, /^-d, --daemon {14}run as a daemon$/m);
  // memcached's test suite (t/lib/MemcachedTest.pm) takes a server whose -h names ext_path for one with extstore
  assert.match(h.stdout, /\n\n {3}- External storage \(ext_\*\) related options \(see: https:\/\/memcached\.org\/extstore\)\n {3}- ext_path: {12}file to write to for external storage\.\n {26}ie: ext_path=\/mnt\/d1\/extstore:1G\n/);
  assert.doesNotMatch(h.stdout, /refused/);
  assert.equal(exits(['-i']).code, 0);
});

test('getopt errors: memcached prints getopt\'s line, then Illegal argument "?", status 1', () => {
  fails(['-x'], 1, 'cachalot: invalid option -- \'x\'\nIllegal argument "?"\n');
  fails(['--bogus'], 1, 'cachalot: unrecognized option \'--bogus\'\nIllegal argument "?"\n');
  fails(['-p'], 1, 'cachalot: option requires an argument -- \'p\'\nIllegal argument "?"\n');
  fails(['--port'], 1, 'cachalot: option \'--port\' requires an argument\nIllegal argument "?"\n');
  fails(['--enable-shutdown=3'], 1, 'cachalot: option \'--enable-shutdown\' doesn\'t allow an argument\nIllegal argument "?"\n');
});

test('value checks with memcached\'s words and exit codes', () => {
  fails(['-t', '0'], 1, 'Number of threads must be greater than 0\n');
  fails(['-c', '0'], 1, 'Maximum connections must be greater than 0\n');
  fails(['-f', '1'], 1, 'Factor must be greater than 1\n');
  fails(['-f', 'nan'], 1, 'Factor must be greater than 1\n'); // memcached lets NaN through, then crashes
  assert.equal(run('-f', 'inf').factor, Infinity, 'strtod reads inf');
  fails(['-n', '0'], 1, 'Chunk size must be greater than 0\n');
  fails(['-R', '0'], 1, 'Number of requests per event must be greater than 0\n');
  fails(['-R', '-1'], 1, 'Number of requests per event must be greater than 0\n'); // memcached starts, then answers nothing
  fails(['-R', '2147483648'], 1, 'Number of requests per event must be greater than 0\n'); // atoi's int: negative
  fails(['-B', 'foo'], 64, 'Invalid value for binding protocol: foo\n -- should be one of auto, binary, or ascii\n');
  fails(['-I', '512'], 64, 'Item max size cannot be less than 1024 bytes.\n');
  fails(['-I', '2000m'], 64, 'Cannot set item size limit higher than 1/2 of memory max.\n');
  fails(['-m', '0'], 64, 'Cannot set item size limit higher than 1/2 of memory max.\n');
  // memcached's (size_t)atoi(optarg) * 1024 * 1024: a negative -m wraps to nearly 2^64 and the server starts
  assert.equal(run('-m', '-1').maxBytes, 2 ** 64 - 2 ** 20);
  assert.equal(run('-m', '-5').maxBytes, 2 ** 64 - 5 * 2 ** 20);
  fails(['-I', '2000m', '-m', '8000'], 64, 'Cannot set item size limit higher than a gigabyte.\n');
  fails(['-p', '70000'], 64, 'ERROR: Invalid port number 70000.\n');
  fails(['-S', '-B', 'ascii'], 64, 'ERROR: You cannot allow the ASCII protocol while using SASL.\n');
  fails(['-Z', '-p', '0'], 64, 'ERROR: You cannot enable SSL without a TCP port.\n');
  assert.equal(run('-d').daemonize, true, 'daemon mode (test/server.test.ts runs it)');
});

test('-o sub-options: errors', () => {
  fails(['-o', 'junk'], 1, 'Illegal suboption "junk"\n');
  fails(['-o', 'hashpower'], 1, 'Missing numeric argument for hashpower\n');
  fails(['-o', 'hashpower=5'], 1, 'Initial hashtable multiplier of 5 is too low\n');
  fails(['-o', 'hash_algorithm=md5'], 1, 'Unknown hash_algorithm option (jenkins, murmur3, xxh3)\n');
  fails(['-o', 'slab_automove=3'], 1, 'slab_automove must be between 0 and 2\n');
  fails(['-o', 'lru_crawler_tocrawl=x'], 1, 'lru_crawler_tocrawl takes a numeric 32bit value\n');
  fails(['-o', 'slab_chunk_max=3'], 64, '-I (item_size_max: 1048576) must be evenly divisible by slab_chunk_max (bytes: 3)\n');
  fails(['-o', 'temporary_ttl=5,no_lru_maintainer'], 64, 'temporary_ttl requires lru_maintainer to be enabled\n');
  fails(['-o', 'hot_lru_pct=50,warm_lru_pct=40'], 64, 'hot_lru_pct + warm_lru_pct cannot be more than 80% combined\n');
  fails(['-o', 'slab_sizes=100-104'], 64, 'slab size 104 must be at least 8 bytes larger than previous class\n');
});

test('-o sub-options: values and toggles', () => {
  const s = run('-o', 'slab_sizes=100-200-300,idle_timeout=30,no_maxconns_fast,watcher_logbuf_size=64,temporary_ttl=10');
  assert.deepEqual(s.slabSizes, [100, 200, 300]); assert.equal(s.idleTimeout, 30);
  assert.equal(s.maxConnsFast, false); assert.equal(s.watcherLogbufSize, 65536);
  assert.equal(s.tempLru, true); assert.equal(s.temporaryTtl, 10);
  assert.equal(run('-o', 'watcher_logbuf_size=99999999').watcherLogbufSize, 3615751168, 'KB times 1024 in a uint32, as memcached\'s');
  const old = run('-o', 'no_modern');
  assert.deepEqual([old.slabChunkMax, old.slabReassign, old.lruSegmented, old.hashAlgorithm], [1048576, false, false, 'jenkins']);
});

test('warnings are returned to print, and -t above 64 still runs', () => {
  const r = parseSettings(['-t', '65'], {});
  assert.equal(r.kind, 'run');
  if (r.kind === 'run') assert.match(r.warnings[0], /^WARNING: Setting a high number of workerthreads/);
});

test('-o sock_cookie_id is read as memcached\'s safe_strtoul reads it: 32 bits, and 0 (no mark) for what it cannot read', () => {
  const cookie = (v: string | null): number => run('-o', v === null ? 'sock_cookie_id' : `sock_cookie_id=${v}`).sockCookieId;
  assert.deepEqual(['7', '4294967295', '4294967297', 'x', '-1', '', null].map(cookie), [7, 4294967295, 1, 0, 0, 0, 0]);
  const r = parseSettings(['-o', 'sock_cookie_id=7'], {});
  assert.ok(r.kind === 'run' && r.warnings.length === 0, 'taken without a warning');
});

test('-Z and -o ssl_*: memcached\'s values and words', () => {
  const t = run('-Z', '-o', 'ssl_chain_cert=c.pem,ssl_key=k.pem,ssl_verify_mode=2,ssl_keyformat=2,ssl_wbuf_size=8',
    '-o', 'ssl_ca_cert=ca.pem,ssl_ciphers=HIGH,ssl_session_cache,ssl_min_version=3').tls;
  assert.deepEqual(t, { enabled: true, chainCert: 'c.pem', key: 'k.pem', verifyMode: 3, keyFormat: 2, ciphers: 'HIGH',
    caCert: 'ca.pem', wbufSize: 8192, sessionCache: true, kernelTls: false, minVersion: 3 }, 'verify mode 2 is OpenSSL\'s PEER | FAIL_IF_NO_PEER_CERT');
  fails(['-o', 'ssl_key'], 1, 'Missing ssl_key argument\n');
  fails(['-o', 'ssl_verify_mode=x'], 1, 'could not parse argument to ssl_verify_mode\n');
  fails(['-o', 'ssl_verify_mode=4'], 1, 'Invalid ssl_verify_mode. Use help to see valid options.\n');
  fails(['-o', 'ssl_min_version=-1'], 1, 'Invalid ssl_min_version. Use help to see valid options.\n');
  fails(['-o', 'ssl_wbuf_size=z'], 1, 'could not parse argument to ssl_wbuf_size\n');
  const k = parseSettings(['-Z', '-o', 'ssl_kernel_tls'], {});
  assert.ok(k.kind === 'run' && k.warnings[0].startsWith('WARNING: ssl_kernel_tls is not applied'));
});

test('-o ext_*: extstore\'s settings kept as memcached keeps them', () => {
  const e = run('-o', 'ext_item_size=1000,ext_item_age=99999999999,ext_wbuf_size=4096,ext_max_frag=0.5,ext_drop_unread=0',
    '-o', 'slab_automove_freeratio=0.02,ext_page_size=32,ext_threads=2,ext_io_depth=4,ext_max_sleep=9').ext;
  assert.deepEqual(e, {
    uints: [1000, 1215752191, 0, 2000, 0, 0, 9, 1], maxFrag: 0.5, wbufSize: 0, freeRatio: 0.02,
    pageSize: 32 * 1048576, ioThreads: 2, ioDepth: 4, paths: [],
  }, 'item_age cut to 32 bits, 4096 MB of wbuf wrapped to 0, drop_unread on whatever its value');
  assert.equal(run('-o', 'ext_wbuf_size=8').ext.wbufSize, 8 * 1048576);
  assert.equal(run('-o', 'ext_page_size=4097').ext.pageSize, 1048576, 'MB in an unsigned int: 4097 wraps to 1');
  assert.deepEqual(run().ext, {
    uints: [512, 4294967295, 0, 2000, 0, 0, 1000000, 0], maxFrag: 0.8, wbufSize: 4194304, freeRatio: 0.01,
    pageSize: 64 * 1048576, ioThreads: 1, ioDepth: 1, paths: [],
  });
  fails(['-o', 'ext_max_frag'], 1, 'Missing ext_max_frag argument\n');
  fails(['-o', 'ext_threads=x'], 1, 'could not parse argument to ext_threads\n');
  fails(['-o', 'ext_io_depth'], 1, 'Missing ext_io_depth argument\n');
});

// storage_conf_parse: `<file>:<size>[:<bucket>]`, the size an int and a unit letter, counted in whole pages
test('-o ext_path: each file and its pages, the last one given first in the list, as memcached lists them', () => {
  const paths = (...argv: string[]): Settings['ext']['paths'] => run(...argv).ext.paths;
  assert.deepEqual(paths('-o', 'ext_path=/d/a:1G,ext_path=/d/b:64m', '-o', 'ext_path=/d/c:2g:default'),
    [{ file: '/d/c', pageCount: 32 }, { file: '/d/b', pageCount: 1 }, { file: '/d/a', pageCount: 16 }]);
  assert.deepEqual(paths('-o', 'ext_page_size=8,ext_path=x:100M'), [{ file: 'x', pageCount: 12 }], 'whole pages, rounded down');
  assert.deepEqual(paths('-o', 'ext_path=x:1T'), [{ file: 'x', pageCount: 16384 }]);
  assert.deepEqual(paths('-o', 'ext_path=x:1p'), [{ file: 'x', pageCount: 16777216 }]);
  assert.deepEqual(paths('-o', 'ext_path=x:32m'), [{ file: 'x', pageCount: 0 }], 'less than a page');
  assert.deepEqual(paths('-o', 'ext_path=x:64'), [{ file: 'x', pageCount: 0 }], 'no unit: 0 bytes');
  assert.deepEqual(paths('-o', 'ext_path=x:64k'), [{ file: 'x', pageCount: 0 }], 'k is no unit of memcached\'s');
  assert.deepEqual(paths('-o', 'ext_path=x:-1g'), [{ file: 'x', pageCount: 4294967280 }], 'a negative int wraps in uint64');
  assert.deepEqual(paths('-o', 'ext_path=x:4294967296m'), [{ file: 'x', pageCount: 0 }], 'atoi: (int)2^32 is 0');
  assert.deepEqual(paths('-o', 'ext_path=::x::64m:'), [{ file: 'x', pageCount: 1 }], 'strtok_r skips empty tokens');
  assert.deepEqual(paths('-o', 'ext_path=x:64m', '-o', 'ext_wbuf_size=8').map((p) => p.pageCount), [1]);
});

test('-o ext_path and ext_page_size, when bad: storage_read_config\'s and storage_conf_parse\'s words, status 1', () => {
  const parseFailed = 'failed to parse ext_path argument\n';
  fails(['-o', 'ext_path'], 1, 'missing argument to ext_path, ie: ext_path=/d/file:5G\n');
  fails(['-o', 'ext_path='], 1, parseFailed);
  fails(['-o', 'ext_path=::'], 1, parseFailed);
  fails(['-o', 'ext_path=/d/f'], 1, 'must supply size to ext_path, ie: ext_path=/f/e:64m (M|G|T|P supported)\n' + parseFailed);
  fails(['-o', 'ext_path=/d/f:'], 1, 'must supply size to ext_path, ie: ext_path=/f/e:64m (M|G|T|P supported)\n' + parseFailed);
  for (const bucket of ['compact', 'lowttl', 'chunked']) {
    fails(['-o', `ext_path=/d/f:1g:${bucket}`], 1, 'ext_path only presently supports the default bucket\n' + parseFailed);
  }
  fails(['-o', 'ext_path=/d/f:1g:foo'], 1, 'Unknown extstore bucket: foo\n' + parseFailed);
  fails(['-o', 'ext_path=/d/f:1g::default'], 1, 'Unknown extstore bucket: :default\n' + parseFailed);
  fails(['-o', 'ext_path=/d/f:1g:default:x'], 1, 'Unknown extstore bucket: default:x\n' + parseFailed);
  // memcached divides by the page size here and dies of SIGFPE
  fails(['-o', 'ext_page_size=0,ext_path=/d/f:1g'], 1, parseFailed);
  fails(['-o', 'ext_page_size=4096,ext_path=/d/f:1g'], 1, parseFailed);
  assert.equal(run('-o', 'ext_page_size=0').ext.pageSize, 0, 'taken while no file needs it');
  fails(['-o', 'ext_path=/d/f:1g,ext_page_size=32'], 1, 'Must specify ext_page_size before any ext_path arguments\n');
  fails(['-o', 'ext_path=/d/f:1g', '-o', 'ext_page_size'], 1, 'Must specify ext_page_size before any ext_path arguments\n');
  fails(['-o', 'ext_page_size'], 1, 'Missing ext_page_size argument\n');
  fails(['-o', 'ext_page_size=-1'], 1, 'could not parse argument to ext_page_size\n');
});

test('with ext_path, storage_check_config after -I\'s checks: -I within one write buffer, no UDP (status 64)', () => {
  fails(['-I', '8m', '-o', 'ext_path=/d/f:1g'], 64, '-I (item_size_max: 8388608) cannot be larger than ext_wbuf_size: 4194304\n');
  fails(['-o', 'ext_path=/d/f:1g,ext_wbuf_size=4096'], 64, '-I (item_size_max: 1048576) cannot be larger than ext_wbuf_size: 0\n');
  assert.equal(run('-I', '8m', '-o', 'ext_path=/d/f:1g,ext_wbuf_size=8').itemSizeMax, 8388608);
  assert.equal(run('-I', '8m', '-o', 'ext_wbuf_size=2').itemSizeMax, 8388608, 'no ext_path: not checked');
  fails(['-U', '11211', '-o', 'ext_path=/d/f:1g'], 64, 'Cannot use UDP with extstore enabled (-U 0 to disable)\n');
  fails(['-U', '-1', '-o', 'ext_path=/d/f:1g'], 64, 'Cannot use UDP with extstore enabled (-U 0 to disable)\n');
  fails(['-U', '1', '-I', '8m', '-o', 'ext_path=/d/f:1g'], 64,
    '-I (item_size_max: 8388608) cannot be larger than ext_wbuf_size: 4194304\n');
  fails(['-I', '64m', '-o', 'ext_path=/d/f:1g'], 64, 'Cannot set item size limit higher than 1/2 of memory max.\n');
  fails(['-U', '1', '-o', 'ext_path=/d/f:1g,slab_sizes=1-2'], 64, 'Cannot use UDP with extstore enabled (-U 0 to disable)\n');
  fails(['-o', 'ext_path=/d/f:1g,slab_sizes=1-2'], 64, 'slab size 1 is out of valid range\n');
});

test('printf\'s %.Nf as glibc prints it: exact value, ties to even, every digit', () => {
  const cases: Array<[number, number, string]> = [[1.125, 2, '1.12'], [0.375, 2, '0.38'], [1.005, 2, '1.00'], [2.5, 0, '2'],
    [3.5, 0, '4'], [0.8, 2, '0.80'], [0.01, 3, '0.010'], [9.995, 2, '9.99'], [-1.125, 2, '-1.12'], [-0, 2, '-0.00'],
    [1e22, 2, '10000000000000000000000.00'], [5e-324, 3, '0.000'], [Infinity, 2, 'inf'], [-Infinity, 2, '-inf'], [NaN, 2, 'nan']];
  for (const [x, digits, printed] of cases) assert.equal(printfFixed(x, digits), printed, `${x} at ${digits}`);
});

test('-S forces binary, -Y forces ascii, -U alone moves TCP too; env gives the port file', () => {
  assert.equal(run('-S').protocol, 'binary');
  assert.equal(run('-Y', '/tmp/auth').protocol, 'ascii');
  assert.equal(run('-U', '11999').port, 11999);
  assert.equal(parseSettings([], { MEMCACHED_PORT_FILENAME: '/tmp/p' }).kind === 'run' &&
    (parseSettings([], { MEMCACHED_PORT_FILENAME: '/tmp/p' }) as { settings: Settings }).settings.portFilename, '/tmp/p');
});

test('C number readers behave as glibc', () => {
  assert.equal(atoi('  42xyz'), 42); assert.equal(atoi('abc'), 0); assert.equal(atoi('-1'), -1);
  assert.deepEqual(['0x1.4p0', '0x2', '-0X.8', '1e1x', '0x', '0x1p1000000', ' 1.5', 'x'].map(atof), [1.25, 2, -0.5, 10, 0, Infinity, 1.5, 0],
    'atof as -f reads it: hex floats too; "0x" is the 0 before the x');
  assert.equal(parseItemSize('1k'), 1024); assert.equal(parseItemSize('4096m'), 0, 'int overflow wraps as in C');
});

test('stats settings: memcached 1.6.18 names and order, with our values', () => {
  const lines: string[] = [];
  reportSettings(run('-p', '-1', '-U', '0', '-l', '127.0.0.1', '-a', '755', '-f', '1.5'), (n, v) => lines.push(`${n} ${v}`), { oldest: 7 });
  assert.deepEqual(lines.slice(0, 13), ['maxbytes 67108864', 'maxconns 1024', 'tcpport -1', 'udpport 0',
    'inter 127.0.0.1', 'verbosity 0', 'oldest 7', 'evictions on', 'domain_socket NULL', 'umask 755',
    'shutdown_command no', 'growth_factor 1.50', 'chunk_size 48']);
  assert.equal(lines.length, 76, 'as many lines as Debian memcached 1.6.18 prints'); assert.equal(lines[75], 'memory_file (null)');
  const noL: string[] = [];
  reportSettings(run(), (n, v) => noL.push(`${n} ${v}`));
  assert.equal(noL[4], 'inter NULL', 'memcached says NULL when -l was not given');
});

test('storeSettingsOf carries the store\'s share', () => {
  const st = storeSettingsOf(run('-m', '128', '-I', '2m', '-t', '2', '-n', '64', '-f', '1.08', '-L', '-M', '-C',
    '-o', 'hot_lru_pct=30,warm_lru_pct=50,temporary_ttl=30,lru_crawler_sleep=50,slab_automove=2'), 8 << 30);
  assert.deepEqual(st, { maxBytes: 128 * 1048576, reserveBytes: 0, chunkSizeMin: 64, factor: 1.08, slabSizes: null, itemSizeMax: 2 * 1048576,
    slabPageSize: 1048576, slabChunkMax: 524288, preallocate: true, largePages: true, evictToFree: false, useCas: false,
    hashpowerInit: 0, hashExpand: true, numThreads: 2, lruSegmented: true, hotLruPct: 30, warmLruPct: 50,
    hotMaxFactor: 0.2, warmMaxFactor: 2, tempLru: true, temporaryTtl: 30, lruCrawler: true, lruMaintainer: true, lruCrawlerSleep: 50,
    lruCrawlerTocrawl: 0, slabReassign: true, slabAutomove: 2, slabAutomoveRatio: 0.8, slabAutomoveWindow: 30,
    trackSizes: false, trackSizesAt: null, prefillPool: false, extPrefill: false, slabAutomoveFreeratio: 0.01, mallocedBase: 0 });
  const e = storeSettingsOf(run('-e', '/tmp/memory'), 8 << 30);
  assert.deepEqual([e.preallocate, e.prefillPool, e.largePages], [true, true, false],
    'memcached preallocates with -e, and fills the global pool, in pages of the usual size');
  assert.equal(e.reserveBytes, 0, 'preallocated: nothing reserved for cache_memlimit (memcached refuses it)');
  assert.equal(storeSettingsOf(run('-m', '64'), 8 << 30).reserveBytes, 8 << 30, 'the arena reserved for cache_memlimit');
  assert.deepEqual(storeSettingsOf(run('-o', 'slab_sizes=100-200-300')).slabSizes, [100, 200, 300], 'the classes -o slab_sizes gives');
});

test('T_MEMD_INITIAL_MALLOC, memcached\'s test hook, is read as safe_strtoll reads it, else ignored', () => {
  assert.equal(initialMallocFromEnv('4294967328'), 4294967328);
  assert.equal(initialMallocFromEnv(undefined), 0);
  assert.equal(initialMallocFromEnv('6MB'), 0);
  assert.equal(initialMallocFromEnv(''), 0);
  assert.equal(initialMallocFromEnv('-5'), 0);
});
