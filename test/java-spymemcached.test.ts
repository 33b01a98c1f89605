// spymemcached, Java's common memcached client, unchanged, against Cachalot and a real memcached, over its
// text and its binary protocol code: pipelined operations, gets merged into multi-gets, serialized and
// compressed values. The same program drives both servers (test/fixtures/SpyTour.java, run from source);
// every call's result must be the same. Debian's default-jdk-headless and libspymemcached-java (.ci/run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './support/server.ts';
import { kindsFor } from './support/spec.ts';
import { assertSameTranscript, clientTour } from './support/client-script.ts';

const JAVA = '/usr/bin/java';
const JAR = '/usr/share/java/spymemcached.jar';
const SCRIPT = join(REPO_ROOT, 'test/fixtures/SpyTour.java');
// running a program from its source takes the JDK's compiler module, which a bare JRE lacks
const hasJdk = existsSync(JAVA) && /^jdk\.compiler@/m.test(spawnSync(JAVA, ['--list-modules'], { encoding: 'utf8' }).stdout ?? '');

const skip = !hasJdk ? 'a JDK (default-jdk-headless) is not installed'
  : !existsSync(JAR) ? 'libspymemcached-java is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('spymemcached (text and binary) sees the same results from Cachalot as from memcached', { skip }, async () => {
  const java = { interpreter: JAVA, args: ['-cp', JAR] };
  const ours = await clientTour('cachalot', java, SCRIPT);
  assertSameTranscript(ours, await clientTour('memcached', java, SCRIPT));
  // both tours got through, and did what an application expects
  assert.equal(ours.at(-1), '== done');
  assert.equal(ours.filter((l) => l === 'get new -> wyz').length, 2, 'appended and prepended over text and binary');
  assert.equal(ours.filter((l) => l === 'a 500 KB string, compressed -> true true').length, 2);
  assert.equal(ours.filter((l) => l === '500 sets in flight -> 500').length, 2, 'pipelined sets all stored');
  assert.equal(ours.filter((l) => l === '500 gets in flight, 71 missing -> 429').length, 2, 'merged gets all answered');
  assert.equal(ours.filter((l) => l === 'cas with it again (stale) -> EXISTS').length, 2);
  assert.ok(ours.includes('get and touch -> changed'), 'binary get-and-touch');
});
