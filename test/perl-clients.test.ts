// Perl's memcached clients, unchanged, against Cachalot and a real memcached: Cache::Memcached::Fast (XS)
// and Cache::Memcached (pure Perl) over the text protocol, Cache::Memcached again with the C parser for get
// replies that it takes wherever Cache::Memcached::GetParserXS is installed, and AnyEvent::Memcached, an
// asynchronous client with its own text protocol code and its own hashing of keys over several servers.
// The same script drives both kinds of server (test/fixtures/perl-clients.pl, perl-anyevent.pl); every
// call's result, or the error the client died with, must be the same. Debian's libcache-memcached-fast-perl,
// libcache-memcached-perl, libcache-memcached-getparserxs-perl and libanyevent-memcached-perl.

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
const ANYEVENT_SCRIPT = join(REPO_ROOT, 'test/fixtures/perl-anyevent.pl');

/** Why a test that needs these Perl modules cannot run, or false when it can. */
function skipUnless(modules: string[], packages: string): string | false {
  if (!existsSync(PERL)) return `${PERL} is not installed`;
  const loads = spawnSync(PERL, [...modules.map((m) => `-M${m}`), '-e', '1'], { stdio: 'ignore' }).status === 0;
  if (!loads) return `${packages} is not installed`;
  return kindsFor().length !== 2 ? 'memcached is not installed' : false;
}

const skip = skipUnless(['Cache::Memcached', 'Cache::Memcached::Fast'],
  'libcache-memcached-perl or libcache-memcached-fast-perl');

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
  assert.ok(ours.includes('== get replies through Cache::Memcached::GetParser'), 'the pure-Perl parser, though the XS one be installed');
  assert.ok(ours.includes('get_multi of them all, through it -> [2003,2003]'), 'a reply of megabytes read whole through 32 KB reads');
});

test('Cache::Memcached reading with GetParserXS sees the same results from Cachalot as from memcached', {
  skip: skipUnless(['Cache::Memcached', 'Cache::Memcached::Fast', 'Cache::Memcached::GetParserXS'],
    'libcache-memcached-perl, libcache-memcached-fast-perl or libcache-memcached-getparserxs-perl'),
}, async () => {
  const args = ['cache_memcached_xs'];
  const ours = await clientTour('cachalot', PERL, SCRIPT, { args });
  assertSameTranscript(ours, await clientTour('memcached', PERL, SCRIPT, { args }));
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('== get replies through Cache::Memcached::GetParserXS'));
  assert.ok(ours.includes('get_multi of them all and 500 missing -> [2003,2003]'), 'every value of a reply of megabytes read whole');
  assert.ok(ours.includes('get_multi of them all, through it -> [2003,2003]'), 'and through a 32 KB receive buffer');
});

// Both clients over a unix socket (-s), which each takes as a server by itself: a server started with -s listens
// on no TCP port, so the tour can only have run over the socket.
test('Cache::Memcached::Fast and Cache::Memcached (both parsers) over a unix socket see the same results from Cachalot as from memcached', {
  skip: skipUnless(['Cache::Memcached', 'Cache::Memcached::Fast', 'Cache::Memcached::GetParserXS'],
    'libcache-memcached-perl, libcache-memcached-fast-perl or libcache-memcached-getparserxs-perl'),
}, async () => {
  const tour = { args: ['fast', 'cache_memcached', 'cache_memcached_xs'], unix: true };
  const ours = await clientTour('cachalot', PERL, SCRIPT, tour);
  assertSameTranscript(ours, await clientTour('memcached', PERL, SCRIPT, tour));
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('nowait writes, then get_multi -> [49,1,42,undef,50]'), 'nowait writes all arrived');
  assert.ok(ours.includes('get them back -> [256,"same"]'), 'all 256 byte values came back');
  assert.equal(ours.filter((l) => l === 'get_multi of them all, through it -> [2003,2003]').length, 2,
    'a reply of megabytes read whole by both parsers');
});

test('AnyEvent::Memcached over two servers sees the same results from Cachalots as from memcacheds', {
  skip: skipUnless(['AnyEvent::Memcached'], 'libanyevent-memcached-perl'),
}, async () => {
  const ours = await clientTour('cachalot', PERL, ANYEVENT_SCRIPT, { servers: 2 });
  assertSameTranscript(ours, await clientTour('memcached', PERL, ANYEVENT_SCRIPT, { servers: 2 }));
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('get them all, with 20 missing -> [100,100]'), 'a multi-get split over both servers');
  assert.ok(ours.includes('the keys each server holds (its own hashing) -> [51,49,"key1 key3 key4 key6 key8"]'));
  assert.ok(ours.includes('300 sets, 300 gets and 300 incrs at once -> 900'), 'pipelined calls all answered in order');
  assert.ok(ours.includes('noreply writes, then get -> {"nrn" => 7}'), 'noreply writes took effect');
  assert.ok(!ours.some((l) => l.includes('a reply on the noreply connection')), 'nothing answered a noreply command');
});
