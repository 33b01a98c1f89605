// memcached's descriptors counted as its start takes them (start-descriptors.ts); the same starts side by side
// with memcached, through the command line, are in test/maxconns.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSettings, type Settings } from '../settings/settings.ts';
import { descriptorShortage, firstConnId, maxconnsTooLow, pidFileOpens, portFileOpens, StartStage } from './start-descriptors.ts';

function settings(over: Partial<Settings>): Settings { return { ...defaultSettings(), user: null, ...over }; }

test('the first listener\'s descriptor: three of memcached\'s own, four a worker thread, then -e\'s file and extstore\'s', () => {
  assert.equal(firstConnId(settings({ threads: 1 })), 10);
  assert.equal(firstConnId(settings({ threads: 4 })), 22);
  assert.equal(firstConnId(settings({ threads: 2, memoryFile: '/tmp/m' })), 15);
  const ext = { ...defaultSettings().ext, paths: [{ file: '/a', pageCount: 1 }, { file: '/b', pageCount: 1 }] };
  assert.equal(firstConnId(settings({ threads: 2, ext })), 16);
  assert.equal(firstConnId(settings({ threads: 2, maxConns: 5 })), 14, 'whatever -c is');
});

test('each stage finds only its own steps short, in memcached\'s order', () => {
  const at = (maxConns: number, stage: number): string | null =>
    descriptorShortage(settings({ threads: 1, maxConns }), 1, stage as 0)?.stderr ?? null;
  assert.equal(at(6, StartStage.identity), null);
  assert.match(at(6, StartStage.beforeStore)!, /^Failed to duplicate file descriptor\n/);
  assert.equal(at(7, StartStage.beforeStore), null, 'the threads come after the store');
  assert.match(at(7, StartStage.afterStore)!, /^\[warn\] epoll_create/);
  assert.equal(at(10, StartStage.afterStore), null);
  assert.equal(at(10, StartStage.listen), 'server_socket: Too many open files\n');
  assert.equal(at(11, StartStage.listen), null);
});

test('the port file takes the listener\'s place when there is one for it, and none is needed to go on', () => {
  const s = settings({ threads: 1, portFilename: '/tmp/ports' });
  assert.equal(portFileOpens({ ...s, maxConns: 11 }, 1), true);
  assert.equal(descriptorShortage({ ...s, maxConns: 11 }, 1, StartStage.listen)?.stderr, 'server_socket: Too many open files\n');
  assert.equal(portFileOpens({ ...s, maxConns: 10 }, 1), false);
});

test('the reserve check: listening conns (a UDP socket is one a thread) and five descriptors a thread, against -c - 1', () => {
  assert.equal(maxconnsTooLow(settings({ threads: 4, maxConns: 23 }), 1), null);
  const many = settings({ threads: 8, udpPort: 1, numThreadsPerUdp: 8 });
  assert.equal(maxconnsTooLow({ ...many, maxConns: 50 }, 1), 'Maxconns setting is too low, use -c to increase.\n');
  assert.equal(maxconnsTooLow({ ...many, maxConns: 51 }, 1), null);
});

test('the pid file, once memcached listens: a descriptor below -c, or the port file\'s, free again', () => {
  assert.equal(pidFileOpens(settings({ threads: 1, maxConns: 11 }), 1), false);
  assert.equal(pidFileOpens(settings({ threads: 1, maxConns: 12 }), 1), true);
  assert.equal(pidFileOpens(settings({ threads: 1, maxConns: 12, portFilename: '/tmp/ports' }), 1), true);
});
