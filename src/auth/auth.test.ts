// The credential files and checks, without a socket: memcached's -Y load messages, how lines are
// read, which duplicate counts, PLAIN's message format.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { authfileCheck, authfileInstall, authfileLoad, AuthfileResult } from './authfile.ts';
import { Credentials } from './credentials.ts';
import { saslInstall, saslPlain } from './sasl-plain.ts';
import { initSasl } from './sasl-conf.ts';
import { saslWhy } from './sasl-result.ts';

const dir = mkdtempSync(join(tmpdir(), 'cachalot-auth-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
const B = (s: string): Buffer => Buffer.from(s);

test('authfile: memcached\'s messages for a missing and a malformed file', () => {
  const missing = authfileLoad(join(dir, 'nope'));
  assert.equal(missing.result, AuthfileResult.OPENFAIL);
  assert.equal(missing.error, `Could not open authfile [${join(dir, 'nope')}] for reading, error No such file or directory: No such file or directory\n`);
  const folder = authfileLoad(dir); // fopen opens a directory; its fgets fails: no users, and the server starts
  assert.deepEqual([folder.result, folder.entries?.length], [AuthfileResult.OK, 0]);
  const bad = file('bad', 'alice:pw\nnocolon\n');
  assert.deepEqual(authfileLoad(bad).error, `Authfile [${bad}] has a malformed entry. Should be 'user:password'`);
});

test('authfile: the password runs to the end of the line, colons included; CRLF is fine', () => {
  const { entries } = authfileLoad(file('ok', 'alice:se:cret\r\nbob:\ncarol:x'));
  assert.ok(entries);
  assert.equal(entries.length, 3);
  authfileInstall(entries);
  assert.ok(authfileCheck(B('alice'), B('se:cret')));
  assert.ok(!authfileCheck(B('alice'), B('se')));
  assert.ok(authfileCheck(B('bob'), B('')));
  assert.ok(authfileCheck(B('carol'), B('x')));
});

test('credentials: the first line naming a user decides only when asked', () => {
  const c = new Credentials();
  c.add(B('u'), B('one'));
  c.add(B('u'), B('two'));
  assert.ok(c.check(B('u'), B('one'), true));
  assert.ok(!c.check(B('u'), B('two'), true));
  assert.ok(c.check(B('u'), B('two'), false));
  assert.ok(!c.check(B('v'), B('one'), false));
});

test('sasl PLAIN: authzid NUL user NUL password against MEMCACHED_SASL_PWDB', () => {
  const pwdb = (path: string): void => {
    const init = initSasl({ MEMCACHED_SASL_PWDB: path }, 'host');
    assert.ok('setup' in init);
    saslInstall(init.setup);
  };
  pwdb(file('pwdb', 'alice:secret:ignored\nbob:pw\n'));
  const why = saslWhy();
  assert.ok(saslPlain(B('\0alice\0secret'), why));
  assert.ok(saslPlain(B('alice\0alice\0secret'), why));
  assert.ok(!saslPlain(B('bob\0alice\0secret'), why));
  assert.equal(why.reason, 'Requested identity not authenticated identity');
  assert.ok(!saslPlain(B('\0alice\0secret:ignored'), why));
  assert.ok(!saslPlain(B('alice\0secret'), why));
  assert.ok(!saslPlain(B('\0alice\0sec\0ret'), why));
  assert.ok(!saslPlain(B('\0\0secret'), why));
  assert.ok(saslPlain(B('\0bob\0pw'), why));
  assert.ok(!saslPlain(B(`\0bob\0${'p'.repeat(300)}`), why), 'longer than memcached\'s 256-byte lines');
  assert.ok(!saslPlain(B('\0alice@host\0secret'), why), 'the file\'s names are taken as they are, without a realm');
  pwdb('');
  assert.ok(!saslPlain(B('\0alice\0secret'), why));
  assert.equal(why.reason, 'MEMCACHED_SASL_PWDB is empty');
});
