// The read buffer cache's arithmetic, as memcached 1.6.18's thread.c and resp_allocate do it
// (the socket-level behaviour is pinned against memcached in test/conn-limits.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadBufCache, RESP_PER_BUNDLE } from './rbuf-cache.ts';

const MB = 1024 * 1024;

test('each thread gets limit / threads in 16 KB buffers, and at least one', () => {
  assert.equal(new ReadBufCache(0, 4).limit, 0);
  assert.equal(new ReadBufCache(MB, 2).limit, 32);
  assert.equal(new ReadBufCache(MB, 32).limit, 2);
  assert.equal(new ReadBufCache(MB, 100).limit, 1); // 10 KB a thread: memcached still allows one
});

test('response objects come 13 to a buffer, and the last buffer is kept once made', () => {
  const cache = new ReadBufCache(MB, 32); // 2 buffers
  assert.equal(cache.rbufAlloc(), true);
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true, `object ${i + 1}`);
  assert.equal(cache.respStart(), false, 'a 14th needs a third buffer');
  cache.respsDone();
  assert.equal(cache.rbufAlloc(), false, 'the kept bundle and the read buffer fill the 2');
  cache.rbufRelease();
  assert.equal(cache.rbufAlloc(), true);
});

test('a command waiting for its value keeps its object out of the next batch\'s', () => {
  const cache = new ReadBufCache(MB, 32);
  cache.rbufAlloc();
  cache.respStart();
  cache.respHold();
  cache.respsSent(); // the replies before it went out
  for (let i = 1; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
  assert.equal(cache.respStart(), false, 'the held object counts in the bundle');
  cache.respsDone();
  cache.respsUnhold(1);
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
});

test('a get takes the objects of all its keys at once, or none of them', () => {
  const cache = new ReadBufCache(MB, 32); // 2 buffers: with a read buffer out, 13 objects
  cache.rbufAlloc();
  cache.respStart(); // the get's own
  assert.equal(cache.respReserve(13), 12, 'only 12 more are left');
  assert.equal(cache.respReserve(12), 12, 'and none of them was taken');
  assert.equal(cache.respStart(), false, 'the reserved ones are out');
  cache.respResume(); // a key is answered: its object is among the replies being collected
  cache.respsSent();
  cache.respsUnhold(11); // the rest go back
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
});

test('replies the socket could not take keep their objects until the client reads them', () => {
  const cache = new ReadBufCache(MB, 32);
  cache.rbufAlloc();
  for (let i = 0; i < 5; i++) cache.respStart();
  cache.respsFlushPoint(); // a get's END: memcached would send these 5 now
  cache.respStart(); // the next command's
  assert.equal(cache.respsQueued(), 6, 'the write was queued: both batches are still unsent');
  for (let i = 6; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
  assert.equal(cache.respStart(), false, 'the queued ones fill the bundle');
  cache.respsSent();
  cache.respsUnhold(6); // read
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
});

test('a flush point\'s objects are free once the write took them all', () => {
  const cache = new ReadBufCache(MB, 32);
  cache.rbufAlloc();
  for (let i = 0; i < RESP_PER_BUNDLE; i++) cache.respStart();
  cache.respsFlushPoint();
  cache.respsSent();
  assert.equal(cache.respsQueued(), 0, 'nothing left to hold');
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
});

test('a reply sent early keeps its object until the next flush point or the batch\'s write', () => {
  const cache = new ReadBufCache(MB, 32);
  cache.rbufAlloc();
  cache.respStart();
  cache.respsSentEarly(); // a reply past 512 KB, taken whole: memcached has not sent it yet
  for (let i = 1; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
  assert.equal(cache.respStart(), false, 'the early one still counts in the bundle');
  cache.respsSent(); // the batch's write (memcached's conn_mwrite)
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
  cache.respsDone();
  cache.respStart();
  cache.respsSentEarly();
  cache.respsFlushPoint(); // memcached sends it here
  for (let i = 0; i < RESP_PER_BUNDLE; i++) assert.equal(cache.respStart(), true);
});
