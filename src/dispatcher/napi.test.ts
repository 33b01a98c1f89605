// -N's choice of a worker by the connection's NAPI id, as memcached's select_thread_by_napi_id makes it. (On
// loopback every socket's id is 0, so the servers in the suite only ever take the round-robin fallback:
// test/text-stats.test.ts pins that against memcached.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NapiThreads } from './napi.ts';

test('each new NAPI id takes the next worker, in the order the ids come, and keeps it', () => {
  const napi = new NapiThreads(3);
  assert.deepEqual([7, 9, 7, 4, 9, 4, 7].map((id) => napi.select(id).thread), [0, 1, 0, 2, 1, 2, 0]);
});

test('an id that finds every worker taken by others starts the assignment over, counted as unexpected', () => {
  const napi = new NapiThreads(2);
  assert.deepEqual([napi.select(7), napi.select(9)], [{ thread: 0, unexpected: false }, { thread: 1, unexpected: false }]);
  assert.deepEqual(napi.select(5), { thread: 0, unexpected: true });
  assert.deepEqual(napi.select(7), { thread: 1, unexpected: false }, 'the old ids are forgotten: 7 is new again');
  assert.deepEqual(napi.select(9), { thread: 0, unexpected: true });
});
