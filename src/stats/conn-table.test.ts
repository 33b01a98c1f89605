// The connection table: rows claimed as fds are (lowest free first), and the address words `stats conns` prints.

import test from 'node:test';
import assert from 'node:assert/strict';
import { ConnRow, ConnTable, createConnTable, intToIpv4, ipv4ToInt, ipv6ToWords, wordsToIpv6 } from './conn-table.ts';

test('an IPv4 address, dotted or IPv4-mapped, fits one 32-bit word and reads back the same', () => {
  for (const addr of ['127.0.0.1', '10.1.2.3', '255.255.255.255', '0.0.0.0', '192.168.0.254']) {
    assert.equal(intToIpv4(ipv4ToInt(addr)), addr);
    assert.equal(ipv4ToInt(`::ffff:${addr}`), ipv4ToInt(addr));
  }
  assert.equal(ipv4ToInt('127.0.0.1'), 0x7f000001);
  assert.equal(ipv4ToInt('255.255.255.255'), -1, 'a signed word (Int32Array)');
});

test('anything else is 0, printed as 0.0.0.0', () => {
  const others = [undefined, '', '::1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.4 ', 'a.b.c.d',
    '1234.1.1.1'];
  for (const addr of others) {
    assert.equal(ipv4ToInt(addr), 0, String(addr));
  }
});

test('an IPv6 address fits four words and reads back as inet_ntop writes it', () => {
  const cases: Array<[string, string]> = [
    ['::1', '::1'], ['::', '::'], ['fe80::1', 'fe80::1'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::0001', '2001:db8::1'], ['::ffff:127.0.0.1', '::ffff:127.0.0.1'], ['::127.0.0.1', '::127.0.0.1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'], ['1::', '1::'], ['1:0:0:2::3', '1:0:0:2::3'], ['0:0:1::', '0:0:1::'],
  ];
  for (const [addr, printed] of cases) {
    const words = ipv6ToWords(addr);
    assert.ok(words !== null, addr);
    assert.equal(wordsToIpv6(words), printed, addr);
  }
  for (const bad of [undefined, '', '127.0.0.1', '1:2:3', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(ipv6ToWords(bad), null, String(bad));
  }
});

test('rows are claimed lowest free first, as the kernel hands out fds, across words of the taken bits', () => {
  const table = new ConnTable(createConnTable(70), 14);
  assert.equal(table.rows, 96, 'rounded up to whole words of taken bits');
  const claimed = Array.from({ length: 70 }, () => table.claim());
  assert.deepEqual(claimed, Array.from({ length: 70 }, (_, i) => i));
  table.free(33);
  table.free(5);
  assert.equal(table.used(5), false);
  assert.equal(table.claim(), 5);
  assert.equal(table.claim(), 33);
  assert.equal(table.claim(), 70);
  for (let r = 71; r < 96; r++) assert.equal(table.claim(), r);
  assert.equal(table.claim(), -1, 'every row taken');
  table.free(95);
  assert.equal(table.claim(), 95);
});

test('a claimed row starts cleared; its id counts from the first id given, as memcached\'s fds from its first listener\'s', () => {
  const table = new ConnTable(createConnTable(32), 22);
  const r = table.claim();
  table.set(r, ConnRow.port, 11211);
  table.free(r);
  assert.equal(table.claim(), r);
  assert.equal(table.get(r, ConnRow.port), 0);
  assert.equal(table.idOf(0), 22);
  assert.equal(table.rowOf(table.idOf(r)), r);
  assert.equal(table.lowestFree(), 1, 'the row claim() would take next');
});
