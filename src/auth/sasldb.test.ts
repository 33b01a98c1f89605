// The sasldb reader against files Cyrus's own saslpasswd2 made (Debian's sasl2-bin, which brings db5.3_dump
// and db5.3_load with it; skipped without): every pair it reads is what `db5.3_dump -p` prints, across realms,
// a password long enough to go to an overflow page, a deleted user, the other byte order and a smaller page
// size; and whatever it cannot read (checksums, a btree, a text file, a truncated file, a broken overflow
// chain) is refused with a SasldbError, never read wrong.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSasldb, readSasldb, SasldbError } from './sasldb.ts';

const tool = (name: string): string | null =>
  ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => join(d, name)).find((p) => existsSync(p)) ?? null;
const SASLPASSWD2 = tool('saslpasswd2');
const DB_DUMP = tool('db5.3_dump');
const DB_LOAD = tool('db5.3_load');
const skip = SASLPASSWD2 === null || DB_DUMP === null || DB_LOAD === null
  ? 'saslpasswd2, db5.3_dump or db5.3_load is not installed (Debian: sasl2-bin)' : false;

const dir = mkdtempSync(join(tmpdir(), 'cachalot-sasldb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[], input?: string | Buffer): Buffer {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** saslpasswd2 as a Debian user runs it: -a memcached, -c to create, the password on stdin (-p). */
function saslpasswd2(db: string, user: string, pass: string, realm?: string): void {
  run(SASLPASSWD2!, ['-a', 'memcached', '-c', '-p', '-f', db, ...(realm ? ['-u', realm] : []), user], pass);
}

/** db5.3_dump -p's pairs, its escapes (\XX hex, \\) undone, as "key => data" lines in a stable order. */
function dumped(db: string): string[] {
  const text = run(DB_DUMP!, ['-p', db]).toString('latin1');
  const body = text.slice(text.indexOf('HEADER=END\n') + 11, text.indexOf('DATA=END'));
  const unescape = (l: string): string => l.slice(1).replace(/\\(\\|[0-9a-f]{2})/g, (_, x: string) =>
    x === '\\' ? '\\' : String.fromCharCode(parseInt(x, 16)));
  const lines = body.split('\n').filter((l) => l.startsWith(' ')).map(unescape);
  const pairs: string[] = [];
  for (let i = 0; i < lines.length; i += 2) pairs.push(`${lines[i]} => ${lines[i + 1]}`);
  return pairs.sort();
}

const read = (db: string): string[] =>
  readSasldb(readFileSync(db)).map(([k, v]) => `${k.toString('latin1')} => ${v.toString('latin1')}`).sort();

const LONG = 'L'.repeat(1500) + 'ong'.repeat(150); // 1950 bytes: more than fits on a 4 KiB hash page's share
let made = '';
function madeBySaslpasswd2(): string {
  if (made !== '') return made;
  made = join(dir, 'sasldb2');
  saslpasswd2(made, 'alice', 'alice-pw', 'host.example');
  saslpasswd2(made, 'bob', 'bob-pw', 'other.example');
  saslpasswd2(made, 'alice', 'alice-in-other', 'other.example');
  saslpasswd2(made, 'long', LONG, 'host.example');
  saslpasswd2(made, 'gone', 'x', 'host.example');
  run(SASLPASSWD2!, ['-a', 'memcached', '-d', '-f', made, '-u', 'host.example', 'gone']);
  saslpasswd2(made, 'carol', 'pw with spaces: and colons', 'host.example');
  return made;
}

test('sasldb: saslpasswd2\'s users, realms and a long password, read as db5.3_dump prints them; a deleted user is gone', { skip }, () => {
  const db = madeBySaslpasswd2();
  const pairs = read(db);
  assert.deepEqual(pairs, dumped(db));
  assert.deepEqual(pairs, [
    'alice\0host.example\0userPassword => alice-pw',
    'alice\0other.example\0userPassword => alice-in-other',
    'bob\0other.example\0userPassword => bob-pw',
    'carol\0host.example\0userPassword => pw with spaces: and colons',
    `long\0host.example\0userPassword => ${LONG}`,
  ]);
});

test('sasldb: the same pairs from a big-endian file and from one of 512-byte pages (buckets and overflow chains)', { skip }, () => {
  const dump = run(DB_DUMP!, [madeBySaslpasswd2()]);
  const big = join(dir, 'big-endian'), small = join(dir, 'small-pages');
  run(DB_LOAD!, ['-c', 'db_lorder=4321', big], dump);
  run(DB_LOAD!, ['-c', 'db_pagesize=512', small], dump);
  assert.equal(readFileSync(big).readUInt32BE(12), 0x061561, 'the magic in big-endian order');
  assert.deepEqual(read(big), read(made));
  assert.deepEqual(read(small), read(made));
  assert.deepEqual(read(small), dumped(small));
});

test('sasldb: many users over many pages', { skip }, () => {
  const db = join(dir, 'many');
  const input = ['VERSION=3', 'format=print', 'type=hash', 'HEADER=END'];
  for (let i = 0; i < 300; i++) input.push(` user${i}\\00realm\\00userPassword`, ` password-${i}`);
  run(DB_LOAD!, ['-c', 'db_pagesize=512', db], input.join('\n') + '\nDATA=END\n');
  const pairs = read(db);
  assert.equal(pairs.length, 300);
  assert.deepEqual(pairs, dumped(db));
});

test('sasldb: a file it cannot read is refused, never read wrong', { skip }, () => {
  const dump = run(DB_DUMP!, [madeBySaslpasswd2()]);
  const refused = (bytes: Buffer, why: RegExp): void => {
    assert.throws(() => readSasldb(bytes), (e: unknown) => e instanceof SasldbError && why.test(e.message));
  };
  const checksums = join(dir, 'checksums');
  run(DB_LOAD!, ['-c', 'chksum=1', checksums], dump);
  refused(readFileSync(checksums), /checksums/);
  const btree = join(dir, 'btree');
  run(DB_LOAD!, [btree], 'VERSION=3\nformat=print\ntype=btree\nHEADER=END\n a\n b\nDATA=END\n');
  refused(readFileSync(btree), /not a Berkeley DB hash database/);
  refused(Buffer.from('alice:secret\n'.repeat(100)), /not a Berkeley DB hash database/);
  const whole = readFileSync(made);
  refused(whole.subarray(0, whole.length - 4096), /truncated/);
  // the long password's reference (H_OFFPAGE) made to point at page 0, the meta page
  const broken = Buffer.from(whole);
  const at = broken.indexOf(Buffer.from('long\0host.example\0userPassword'));
  const pageStart = at - (at % 4096);
  const ref = broken.indexOf(3, pageStart + 26 + 2 * broken.readUInt16LE(pageStart + 20)); // the first H_OFFPAGE item
  broken.writeUInt32LE(0, ref + 4);
  refused(broken, /broken overflow chain/);
});

test('sasldb: loadSasldb reads the file now; a missing file has no users, an unreadable one is a reason', () => {
  const why = { reason: '' };
  assert.deepEqual(loadSasldb(join(dir, 'no-such-file'), why), []);
  const junk = join(dir, 'junk');
  writeFileSync(junk, Buffer.alloc(1024, 0x41));
  assert.equal(loadSasldb(junk, why), null);
  assert.match(why.reason, /^unable to read Berkeley db .*junk: not a Berkeley DB hash database$/);
  assert.equal(loadSasldb(dir, why), null, 'a directory');
  assert.match(why.reason, /^unable to open Berkeley db .*: EISDIR$/);
});
