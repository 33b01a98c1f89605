// Three Node.js clients, unchanged, against Cachalot and a real memcached: memcached (3rd-Eden's, text, with
// its own line parser and a pool of connections), memjs (binary) and memcache-client (Walmart's electrode,
// text). The same script drives both servers (test/fixtures/node-clients.ts); every call's result, or the
// error the client raised, must be the same. The clients are this project's devDependencies.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour } from './support/client-script.ts';

const SCRIPT = join(REPO_ROOT, 'test/fixtures/node-clients.ts');
const skip = kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('memcached (3rd-Eden), memjs and memcache-client see the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await clientTour('cachalot', process.execPath, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', process.execPath, SCRIPT));
  // the script got through all three tours, and they did what an application expects
  assert.equal(ours.at(-1), '== done');
  assert.ok(ours.includes('getMulti 300 keys -> 300'), '3rd-Eden: a 300-key multi-get');
  assert.ok(ours.includes('get object -> {a: [1, 2], b: "c"}'), '3rd-Eden: a JSON value by its flags');
  assert.equal(ours.filter((l) => l === 'cas right -> true' || l === 'cas right -> ["STORED"]').length, 2, 'both text clients won a cas');
  assert.ok(ours.includes('increment counter again -> {success: true, value: 8}'), 'memjs: binary increment with an initial value');
  assert.ok(ours.includes('value of -I !! SERVER_ERROR object too large for cache'), 'memcache-client: a value over -I is refused');
  assert.ok(ours.includes('still serving -> {casUniq: undefined, tokens: ["VALUE", "q", "0", "5"], value: "quiet"}'),
    'and its connection goes on after the refused value is swallowed');
});
