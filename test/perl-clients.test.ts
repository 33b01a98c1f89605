// Perl's two common memcached clients, unchanged, against Cachalot and a real memcached:
// Cache::Memcached::Fast (XS) and Cache::Memcached (pure Perl), both over the text protocol. The same
// script drives both servers (test/fixtures/perl-clients.pl); every call's result, or the error the
// client died with, must be the same. Debian's libcache-memcached-fast-perl and libcache-memcached-perl.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour } from './support/client-script.ts';

const PERL = '/usr/bin/perl'; // Debian's, where its packages are (not a perlbrew one)
const SCRIPT = join(REPO_ROOT, 'test/fixtures/perl-clients.pl');
const hasClients = existsSync(PERL) &&
  spawnSync(PERL, ['-MCache::Memcached', '-MCache::Memcached::Fast', '-e', '1'], { stdio: 'ignore' }).status === 0;

const skip = !existsSync(PERL) ? `${PERL} is not installed`
  : !hasClients ? 'libcache-memcached-perl or libcache-memcached-fast-perl is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('Cache::Memcached::Fast and Cache::Memcached see the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', PERL, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', PERL, SCRIPT));
  // the script got through every call of both tours
  assert.equal(ours.at(-1), '== done');
  assert.equal(ours.filter((l) => l === 'get foo -> "<baz!"').length, 2, 'both clients stored, appended and prepended');
  assert.ok(ours.includes('cas foo (stale cas) -> ""') && ours.includes('get foo -> "other"'), 'a stale cas lost');
  assert.ok(ours.includes('noreply writes, then get_multi -> {"nr1" => "uno!","nr2" => "two","nrm1" => "m1","nrm2" => "m2","nrn" => 8}'));
  assert.ok(ours.includes('nowait writes, then get_multi -> [49,1,42,undef,50]'), 'nowait writes all arrived');
  assert.ok(ours.includes('get them back -> [256,"same"]'), 'all 256 byte values came back');
  assert.equal(ours.filter((l) => l === 'compress: the VALUE line -> [2,1]').length, 2, 'both clients compressed');
});
