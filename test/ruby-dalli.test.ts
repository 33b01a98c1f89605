// Ruby's most used memcached client, Dalli, unchanged, against Cachalot and a real memcached. Dalli speaks
// only the binary protocol, quiet commands included (its `multi` block pipelines setq/addq/deleteq and
// get_multi pipelines getkq before a noop). The same script drives both servers
// (test/fixtures/dalli-client.rb); every call's result, or the error Dalli raised, must be the same.
// Debian's ruby-dalli (3.0.6), run by Debian's ruby.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour } from './support/client-script.ts';

const RUBY = '/usr/bin/ruby'; // Debian's, where ruby-dalli is (not an rbenv or rvm one)
const SCRIPT = join(REPO_ROOT, 'test/fixtures/dalli-client.rb');
const hasDalli = spawnSync(RUBY, ['-e', 'require "dalli"'], { stdio: 'ignore' }).status === 0;

const skip = !hasDalli ? `${RUBY} or its dalli gem (Debian's ruby-dalli) is not installed`
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('Dalli (binary protocol) sees the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', RUBY, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', RUBY, SCRIPT));
  // the script got through every call, and the calls did real work
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('get raw all bytes -> true'), 'a value of all 256 byte values came back whole');
  assert.ok(ours.includes('set_cas cv with the stale cas -> false'), 'a stale CAS was refused');
  assert.ok(ours.includes('after multi -> {"m1": "a", "m3": "c"}'), 'quiet sets and deletes took effect');
  assert.ok(ours.includes('get_multi of those -> 500'), '500 quiet sets, read back through getkq');
  assert.match(ours.find((l) => l.startsWith('stats -> ')) ?? '', /"get_hits": "[1-9]\d*"/);
});

// The same script over a unix socket (-s), whose path Dalli takes as the server: a server started with -s listens
// on no TCP port, so the script can only have run over the socket.
test('Dalli over a unix socket sees the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', RUBY, SCRIPT, { unix: true });
  assertSameTranscript(ours, await clientTour('memcached', RUBY, SCRIPT, { unix: true }));
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('get raw all bytes -> true'), 'a value of all 256 byte values came back whole');
  assert.ok(ours.includes('after multi -> {"m1": "a", "m3": "c"}'), 'quiet sets and deletes took effect');
  assert.ok(ours.includes('get_multi of those -> 500'), '500 quiet sets, read back through getkq');
});
