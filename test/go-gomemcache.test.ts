// Go's most used memcached client, gomemcache, unchanged, against Cachalot and a real memcached. Its reply
// parser compares whole lines byte for byte and reads values through `gets`; its pool opens and drops
// connections under 32 goroutines. The same program drives both servers (test/fixtures/gomemcache-client.go);
// every call's result, or the error the client gave, must be the same. Debian's
// golang-github-bradfitz-gomemcache-dev, built by Debian's golang-go in GOPATH mode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour, type Interpreter } from './support/client-script.ts';

const GO = '/usr/bin/go';
const GOPATH = '/usr/share/gocode'; // where Debian's golang-*-dev packages put their sources
const SCRIPT = join(REPO_ROOT, 'test/fixtures/gomemcache-client.go');
// GOPATH mode (Debian's package is no module); the build cache in tmp, so that a machine without $HOME
// builds too and a second run reuses the first one's build
const GO_RUN: Interpreter = {
  interpreter: '/usr/bin/env',
  args: ['GO111MODULE=off', `GOPATH=${GOPATH}`, `GOCACHE=${join(tmpdir(), 'cachalot-gocache')}`, GO, 'run'],
};

const skip = !existsSync(GO) || !existsSync(join(GOPATH, 'src/github.com/bradfitz/gomemcache/memcache'))
  ? 'golang-go or golang-github-bradfitz-gomemcache-dev is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('gomemcache (Go, text protocol) sees the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', GO_RUN, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', GO_RUN, SCRIPT));
  // the program got through every call, and the calls did real work
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('get raw all bytes -> true'), 'a value holding every byte and the reply framing came back whole');
  assert.ok(ours.includes('cas cv (5 bytes) !! memcache: compare-and-swap conflict'), 'a stale CAS was refused');
  assert.ok(ours.includes('get mb -> mb flags=0 <1048476 bytes>'), 'a value near -I 1m');
  assert.ok(ours.includes('get foo -> foo flags=7 "baz"'), 'the connection that sent a value too large went on');
  assert.ok(ours.includes('concurrent failures -> 0'), '32 goroutines through the pool');
  assert.ok(ours.includes('get shared -> shared flags=0 "1600"'), 'every increment of the shared counter counted');
});

// The same program over a unix socket (-s), whose path gomemcache takes as the server: a server started with -s
// listens on no TCP port, so the program can only have run over the socket.
test('gomemcache over a unix socket sees the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', GO_RUN, SCRIPT, { unix: true });
  assertSameTranscript(ours, await clientTour('memcached', GO_RUN, SCRIPT, { unix: true }));
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('get raw all bytes -> true'), 'every byte value over the socket');
  assert.ok(ours.includes('concurrent failures -> 0'), '32 goroutines through the pool');
  assert.ok(ours.includes('get shared -> shared flags=0 "1600"'), 'every increment of the shared counter counted');
});
