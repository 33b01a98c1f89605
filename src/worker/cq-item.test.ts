// The CQ item a new connection travels in: what the dispatcher packs is what the worker reads back,
// for every listener kind, after the structured clone a postMessage makes of it. (A real hand-off, a
// handle moved to a worker thread, is what every socket test does; proto[...] and TLS listeners:
// test/tls.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cqItem, cqProtocol, cqTls, cqUnixFd, cqUnixItem } from './cq-item.ts';
import type { ConnHandle } from '../dispatcher/accept.ts';
import type { Protocol } from '../settings/settings.ts';

test('a CQ item gives back the row, the TLS flag and the forced protocol it was made with', () => {
  const handle = {} as ConnHandle;
  for (const protocol of [null, 'auto', 'ascii', 'binary'] as (Protocol | null)[]) {
    for (const tls of [false, true]) {
      for (const row of [0, 1, 4095, 2 ** 30]) {
        const item = structuredClone(cqItem(handle, row, tls, protocol));
        assert.deepEqual([item[1], cqTls(item), cqProtocol(item), cqUnixFd(item)], [row, tls, protocol, -1], `${row} ${tls} ${protocol}`);
      }
    }
  }
});

test('a unix-socket connection\'s item gives back its descriptor and row, not TLS, -B\'s protocol', () => {
  for (const [fd, row] of [[0, 0], [17, 5], [65535, 2 ** 30]]) {
    const item = structuredClone(cqUnixItem(fd, row));
    assert.deepEqual([cqUnixFd(item), item[1], cqTls(item), cqProtocol(item)], [fd, row, false, null]);
  }
});
