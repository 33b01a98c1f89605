// PHP's two memcached extensions, unchanged, against Cachalot and a real memcached: pecl memcache (its own
// protocol code, over text and over binary) and php-memcached (libmemcached, over text and binary), with
// php-memcached's session handler keeping PHP's sessions, locked, as many PHP sites do. The same
// script drives both servers (test/fixtures/php-clients.php); every call's result, and php-memcached's result
// code, must be the same. Debian's php-cli, php-memcache and php-memcached (installed by .ci/run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour } from './support/client-script.ts';

const PHP = '/usr/bin/php';
const SCRIPT = join(REPO_ROOT, 'test/fixtures/php-clients.php');
const hasClients = spawnSync(PHP, ['-r', 'exit(class_exists("Memcache") && class_exists("Memcached") ? 0 : 1);'],
  { stdio: 'ignore' }).status === 0;

const skip = !hasClients ? 'php-cli, php-memcache or php-memcached is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('pecl memcache and php-memcached (text and binary) see the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', PHP, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', PHP, SCRIPT));
  // the script got through all four tours, and they did what an application expects
  assert.equal(ours.at(-1), '== done');
  assert.equal(ours.filter((l) => l.startsWith('get it back whole -> true')).length, 4, 'compressed values came back in every tour');
  assert.equal(ours.filter((l) => l === "get new -> 'wyz'").length, 2, 'pecl memcache appended and prepended over text and binary');
  assert.equal(ours.filter((l) => l === "get s -> 'changed' (0)").length, 2, 'php-memcached: a cas won over text and binary');
  assert.equal(ours.filter((l) => l.startsWith('cas with it again (stale) -> false')).length, 4, 'every stale cas lost');
  assert.ok(ours.includes('and again -> 8 (0)'), 'binary increment with an initial value');
  assert.equal(ours.filter((l) => l === "the lock, seen from another client -> '1' (0)").length, 2, 'sessions: locked by add');
  assert.equal(ours.filter((l) => l === 'what the session kept -> array (   0 => 1,   1 => 3,   2 => 5000, )').length, 2,
    'sessions: written, unlocked and read back over text and binary');
});

// Both extensions over a unix socket (-s): pecl memcache names it as a unix:// URL, php-memcached (and its session
// handler) by its path. A server started with -s listens on no TCP port, so the tour can only have run over it.
test('pecl memcache and php-memcached over a unix socket see the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', PHP, SCRIPT, { unix: true });
  assertSameTranscript(ours, await clientTour('memcached', PHP, SCRIPT, { unix: true }));
  assert.equal(ours.at(-1), '== done');
  assert.equal(ours.filter((l) => l.startsWith('get it back whole -> true')).length, 4, 'compressed values came back in every tour');
  assert.equal(ours.filter((l) => l === "get new -> 'wyz'").length, 2, 'pecl memcache over text and binary');
  assert.equal(ours.filter((l) => l === 'what the session kept -> array (   0 => 1,   1 => 3,   2 => 5000, )').length, 2,
    'sessions kept over the socket');
});
