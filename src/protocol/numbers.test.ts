import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseI32Wrapped, parseI64, parseU32, parseU64, parseU64Big } from './numbers.ts';

const b = (s: string) => Buffer.from(s);
const whole = <T>(f: (buf: Uint8Array, s: number, e: number) => T, s: string): T => f(b(s), 0, s.length);

test('numbers: strtoul rules: sign, junk, trailing white space', () => {
  assert.equal(whole(parseU64, '42'), 42);
  assert.equal(whole(parseU64, '+42'), 42);
  assert.equal(whole(parseU64, '007'), 7);
  assert.equal(whole(parseU64, '42\t'), 42);
  assert.ok(Number.isNaN(whole(parseU64, '0x1')));
  assert.ok(Number.isNaN(whole(parseU64, '')));
  assert.ok(Number.isNaN(whole(parseU64, '-1')));
  assert.ok(Number.isNaN(whole(parseU64, '1a')));
});

test('numbers: 64-bit limits as memcached', () => {
  assert.equal(whole(parseU64Big, '18446744073709551615'), 18446744073709551615n);
  assert.equal(whole(parseU64Big, '18446744073709551616'), null);
  assert.equal(whole(parseI64, '-5'), -5);
  assert.ok(Number.isNaN(whole(parseI64, '9223372036854775808')));
});

test('numbers: safe_strtoul keeps the low 32 bits (flags, verbosity, cache_memlimit), as memcached 1.6', () => {
  assert.equal(whole(parseU32, '4294967295'), 4294967295);
  assert.equal(whole(parseU32, '4294967296'), 0);
  assert.equal(whole(parseU32, '18446744073709551615'), 4294967295);
  assert.ok(Number.isNaN(whole(parseU32, '-1')));
  // strtoul negates what follows a '-'; only a result that looks negative as a long is refused
  assert.equal(whole(parseU32, '-0'), 0);
  assert.equal(whole(parseU32, '-18446744073709551615'), 1);
  assert.equal(whole(parseU32, '-9223372036854775809'), 4294967295);
});

test('numbers: exptime and lengths take the int32 cast', () => {
  assert.equal(whole(parseI32Wrapped, '-1'), -1);
  assert.equal(whole(parseI32Wrapped, '4294967296'), 0);
  assert.equal(whole(parseI32Wrapped, '2147483648'), -2147483648);
  assert.equal(whole(parseI32Wrapped, '9223372036854775807'), -1);
  assert.ok(Number.isNaN(whole(parseI32Wrapped, '18446744073709551615')));
});
