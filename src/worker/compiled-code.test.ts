// The worker's compiled code survives the first reply that outgrows the out buffer. That reply frees the old buffer
// (out-buffer.ts free), and V8 throws away, at an isolate's first detach of an ArrayBuffer, every function compiled on
// the promise that none would ever be detached: nearly the whole request path of a busy worker, which then ran in
// V8's middle tier for seconds. So free() gives the buffer's pages back without detaching it, and where it cannot
// (no node:ffi) the worker breaks the promise before it compiles anything (settleDetachPromise): either way nothing
// is thrown away later. Seen here through V8's own traces of a real server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../../test/support/server.ts';
import { Client } from '../../test/support/client.ts';

const SMALL = 'v'.repeat(100);
const BIG = 'b'.repeat(16 * 1024);
const BIG_KEYS = ['big1', 'big2', 'big3', 'big4']; // one get of all four: 64 KB copied into the out buffer, which grows
const BATCH = 200;
const BATCHES_BOUND = 2000; // a failure bound: V8 compiles the get path within a few hundred batches

/**
 * V8's --trace-opt line for the request path compiled by its top tier: the state machine's loop (drive, or its
 * caller when that took it in). A store function such as doItemFind may never be compiled on its own under the raised
 * inlining budgets (src/boot/compiler-flags.ts): its callers take it in first.
 */
const TOP_TIER_GET = /completed compiling .*<JSFunction (drive|driveMachine) .*\(target TURBOFAN_JS\)/;
/** --trace-deopt's line for code thrown away because a protector (an isolate-wide promise) broke. */
const THROWN_AWAY = /marking dependent code .*<SharedFunctionInfo (\S+)>.* reason: dependent property cell changed/g;

test('the first reply larger than the out buffer throws away none of the compiled request path', async () => {
  const server = await startServer('cachalot', ['-t', '1'], { v8Flags: ['--trace-opt', '--trace-deopt'] });
  try {
    const c = await Client.connect(server.port);
    await c.request(`set small 0 0 ${SMALL.length}\r\n${SMALL}\r\n`, 'STORED\r\n'.length);
    for (const k of BIG_KEYS) await c.request(`set ${k} 0 0 ${BIG.length}\r\n${BIG}\r\n`, 'STORED\r\n'.length);
    const smallReply = `VALUE small 0 ${SMALL.length}\r\n${SMALL}\r\nEND\r\n`;
    let batches = 0;
    while (!TOP_TIER_GET.test(server.stdout())) {
      assert.ok(++batches < BATCHES_BOUND, `the state machine not compiled by TurboFan after ${BATCHES_BOUND} batches of gets`);
      await c.request('get small\r\n'.repeat(BATCH), smallReply.length * BATCH);
    }
    const compiledUpTo = server.stdout().length;

    const bigReply = BIG_KEYS.map((k) => `VALUE ${k} 0 ${BIG.length}\r\n${BIG}\r\n`).join('') + 'END\r\n';
    assert.equal((await c.request(`get ${BIG_KEYS.join(' ')}\r\n`, bigReply.length)).toString(), bigReply);
    assert.equal((await c.request('get small\r\n', smallReply.length)).toString(), smallReply);

    const thrownAway = [...server.stdout().slice(compiledUpTo).matchAll(THROWN_AWAY)].map((m) => m[1]);
    assert.deepEqual(thrownAway, [], 'compiled functions thrown away after the big reply');
    c.end();
  } finally {
    await server.stop();
  }
});
