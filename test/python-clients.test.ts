// Four widely used Python clients, unchanged, against Cachalot and a real memcached: pymemcache and
// python-memcached (text protocol), pylibmc (libmemcached, over its text and its binary protocol, and in its
// buffered noreply mode, which pipelines thousands of commands in one stream) and
// python-binary-memcached (binary, a parser of its own; Django's django-bmemcached). The same script drives
// both servers (test/fixtures/python-clients.py); every call's result, or the error the client raised, must
// be the same. Debian's python3-pymemcache, python3-pylibmc, python3-memcache and python3-binary-memcached
// (installed by .ci/run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour } from './support/client-script.ts';

const PYTHON = '/usr/bin/python3'; // Debian's, where its packages are (not a pyenv or venv one)
const SCRIPT = join(REPO_ROOT, 'test/fixtures/python-clients.py');
const hasClients = spawnSync(PYTHON, ['-c', 'import pymemcache, pylibmc, memcache, bmemcached'], { stdio: 'ignore' }).status === 0;

const skip = !hasClients ? 'python3-pymemcache, python3-pylibmc, python3-memcache or python3-binary-memcached is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('pymemcache, pylibmc (text and binary), python-memcached and python-binary-memcached see the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', PYTHON, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', PYTHON, SCRIPT));
  // the script got through every call of all three tours
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes("get foo -> b'<baz!'"), 'pymemcache stored, appended and prepended');
  assert.ok(ours.filter((l) => l === "get b -> 'deux'").length === 3, 'cas: pylibmc over text and binary, python-memcached');
  assert.ok(ours.includes("get dict -> {'a': [1, 2]}"), 'python-binary-memcached: a pickled value by its flags');
  assert.ok(ours.includes("gets foo -> 'baz', cas is int"), 'python-binary-memcached: gets over binary');
  assert.equal(ours.filter((l) => l === 'get_multi 3000 all there -> True').length, 2,
    'pylibmc buffered noreply: 3000 sets pipelined over text and over binary (quiet), all stored');
  assert.equal(ours.filter((l) => l === 'left of 3000 -> 1500').length, 2, 'and half of them deleted the same way');
});

// pymemcache over TLS (its tls_context), against both servers started with -Z: what a TLS deployment's calls see.
test('pymemcache over TLS sees the same results from Cachalot as from memcached, pipelined values past 16 KB included', { skip }, async () => {
  const tls = join(REPO_ROOT, 'test/fixtures/tls');
  const serverArgs = ['-Z', '-o', `ssl_chain_cert=${join(tls, 'server-cert.pem')},ssl_key=${join(tls, 'server-key.pem')}`];
  const ours = await clientTour('cachalot', PYTHON, SCRIPT, { args: ['tls'], serverArgs });
  assertSameTranscript(ours, await clientTour('memcached', PYTHON, SCRIPT, { args: ['tls'], serverArgs }));
  assert.deepEqual([ours[0], ours.at(-1)], ['== pymemcache over TLS', '== done']);
  assert.ok(ours.includes("get_many of them, whole -> ['big0', 'big1', 'big10', 'big11', 'big2', 'big3', 'big4', 'big5', 'big6', 'big7', 'big8', 'big9']"),
    'twelve values of 16-71 KB stored in one set_many and read back whole');
});

// The same tour over a unix socket (-s): the path of Cachalot's connections that the dispatcher hands over as
// descriptors. A server started with -s listens on no TCP port, so the tour can only have run over the socket.
// (bmemcached waits forever, on either server, for two answers it gets only by a TCP socket's timeout: those two
// calls are left out over a unix socket.)
test('the four Python clients over a unix socket see the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', PYTHON, SCRIPT, { unix: true });
  assertSameTranscript(ours, await clientTour('memcached', PYTHON, SCRIPT, { unix: true }));
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes("get foo -> b'<baz!'"), 'pymemcache over the socket');
  assert.ok(ours.filter((l) => l === "get b -> 'deux'").length === 3, 'cas: pylibmc over text and binary, python-memcached');
  assert.equal(ours.filter((l) => l === 'get_multi 3000 all there -> True').length, 2, 'pylibmc pipelining over the socket');
  assert.ok(ours.includes("gets foo -> 'baz', cas is int"), 'python-binary-memcached over the socket');
});
