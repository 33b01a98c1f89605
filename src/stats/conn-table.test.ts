// The connection table's address words: what `stats conns` prints is read back from them.

import test from 'node:test';
import assert from 'node:assert/strict';
import { intToIpv4, ipv4ToInt, ipv6ToWords, wordsToIpv6 } from './conn-table.ts';

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
