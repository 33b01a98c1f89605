// -S's configuration as memcached and Cyrus find and read it (each rule below was checked against Debian's
// memcached 1.6.18 and its Cyrus 2.1.28), and the user names Cyrus makes canonical. Through sockets, side by
// side with memcached: test/auth-sasl-cyrus.test.ts and test/auth-sasl-scram.test.ts.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cyrusSetup, cyrusStrtoul, findMech, initSasl, loadConfig, parseConfig, saslGetconf, type SaslSetup } from './sasl-conf.ts';
import { canonUser } from './sasl-plain.ts';
import { SaslCode } from './sasl-result.ts';

const dir = mkdtempSync(join(tmpdir(), 'cachalot-sasl-conf-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('sasl_getconf: SASL_CONF_PATH as it is; else /etc/sasl, then /etc/sasl2, each a directory or memcached.conf one', () => {
  const getconf = (files: string[], env: NodeJS.ProcessEnv = {}): string | null => saslGetconf(env, (p) => files.includes(p));
  assert.equal(getconf(['/etc/sasl2/memcached.conf'], { SASL_CONF_PATH: '/opt/a:/opt/b' }), '/opt/a:/opt/b');
  assert.equal(getconf([], { SASL_CONF_PATH: '' }), '', 'set but empty: memcached passes it on');
  assert.equal(getconf(['/etc/sasl2/memcached.conf']), '/etc/sasl2');
  assert.equal(getconf(['/etc/sasl/memcached.conf', '/etc/sasl2/memcached.conf']), '/etc/sasl');
  assert.equal(getconf(['/etc/sasl/memcached.conf', '/etc/sasl/memcached.conf/memcached.conf']), '/etc/sasl/memcached.conf');
  assert.equal(getconf(['/etc/sasl/other.conf']), null, 'no config path: memcached exits');
});

test('sasl_config_init: "key: value" lines, keys in any case, the first of a key counts; a malformed file is refused', () => {
  const conf = parseConfig('# a comment\n\n  MECH_List:   plain  \r\nsasldb_path: /x y\nmech_list: cram-md5\n: empty key\n');
  assert.deepEqual([...(conf ?? [])], [['mech_list', 'plain'], ['sasldb_path', '/x y'], ['', 'empty key']]);
  for (const bad of ['mech list plain\n', 'mech_list:\n', 'mech_list:   \n', 'mech_list : plain\n', 'mech.list: plain\n']) {
    assert.equal(parseConfig(bad), null, JSON.stringify(bad));
  }
});

test('load_config: the first memcached.conf of the directory list that opens; a directory reads as empty', () => {
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  writeFileSync(join(dir, 'b/memcached.conf'), 'mech_list: plain\n');
  assert.deepEqual([...(loadConfig(`${dir}/none:${dir}/a:${dir}/b`) ?? [])], [['mech_list', 'plain']]);
  assert.deepEqual([...(loadConfig(`${dir}/none`) ?? [])], [], 'no file at all: no settings, Cyrus\'s defaults');
  mkdirSync(join(dir, 'c/memcached.conf'), { recursive: true });
  assert.deepEqual([...(loadConfig(`${dir}/c:${dir}/b`) ?? [])], []);
});

test('-S\'s setup: mech_list\'s SCRAM, CRAM-MD5 and PLAIN entries are offered in its order, in any case, as often as named', () => {
  const setup = (text: string) => cyrusSetup(parseConfig(text)!, 'host').setup;
  const { scramSaltKey, ...rest } = setup('sasldb_path: /db\n');
  assert.deepEqual(rest, { mechs: 'SCRAM-SHA-512 SCRAM-SHA-384 SCRAM-SHA-256 SCRAM-SHA-224 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN', pwdb: null,
    sasldb: '/db', pwcheck: 'auxprop', saslauthdPath: '/var/run/saslauthd/mux', authdaemondPath: '/dev/null', realm: 'host',
    scramIterations: 4096 },
  'without mech_list, in Cyrus\'s order');
  assert.match(scramSaltKey, /^[0-9a-f]{32}$/, 'SCRAM\'s 16-byte salt key, drawn at start');
  assert.notEqual(setup('sasldb_path: /db\n').scramSaltKey, scramSaltKey);
  assert.equal(setup('mech_list: plain\n').sasldb, '/etc/sasldb2', 'Debian\'s default sasldb');
  assert.equal(setup('mech_list: scram-sha-1 Plain digest-md5 cram-MD5\n').mechs, 'SCRAM-SHA-1 PLAIN CRAM-MD5');
  assert.equal(setup('mech_list: plain plain  foo Plain\n').mechs, 'PLAIN PLAIN PLAIN');
  assert.equal(setup('mech_list: digest-md5 ntlm\n').mechs, '', 'nothing Cachalot implements: nothing offered');
  assert.equal(setup('mech_list: plain,cram-md5\n').mechs, '', 'names are separated by white space only');
  assert.equal(setup('mech_list: cram plainx\n').mechs, '', 'whole names only');
  assert.equal(setup('mech_list: plain-plus cram-md5-PLUS\n').mechs, 'CRAM-MD5', '"-PLUS" on the last name only, as Cyrus reads it');
  assert.equal(cyrusSetup(parseConfig('mech_list: plain cram-md5 login ntlm\n')!, 'h').notes[0],
    'mech_list: not offered, Cachalot implements SCRAM-SHA-512 SCRAM-SHA-384 SCRAM-SHA-256 SCRAM-SHA-224 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN only: ntlm');
});

test('-S\'s setup: scram_iteration_counter as Cyrus reads it: strtoul over the whole value into an unsigned int, else 4096', () => {
  const count = (value: string): number => cyrusSetup(parseConfig(`scram_iteration_counter: ${value}\n`)!, 'host').setup.scramIterations;
  assert.equal(count('10000'), 10000);
  assert.equal(count('+7'), 7);
  assert.equal(count('0'), 0);
  assert.equal(count('-1'), 0xffffffff, 'strtoul negates, in 64 bits, and the unsigned int keeps the low 32');
  assert.equal(count('4294967296'), 0);
  assert.equal(count('18446744073709551616'), 4096, 'out of range (ERANGE): the default');
  assert.equal(count('12abc'), 4096, 'not a number to its end: the default');
  assert.equal(count('abc'), 4096);
  assert.equal(cyrusStrtoul('0x10'), null, 'base 10 only');
});

test('findMech: any case, "-PLUS" dropped where allowed', () => {
  assert.equal(findMech('cram-md5'), 'CRAM-MD5');
  assert.equal(findMech('Plain-Plus'), 'PLAIN');
  assert.equal(findMech('Plain-Plus', false), null);
  assert.equal(findMech('-PLUS'), null);
  assert.equal(findMech('DIGEST-MD5'), null);
});

test('-S\'s setup: CRAM-MD5 and SCRAM read auxprop\'s sasldb, which auxprop_plugin must let in; PLAIN goes to pwcheck_method\'s verifiers', () => {
  const source = (text: string): [string | null, string, string, string] => {
    const s = cyrusSetup(parseConfig(text)!, 'host').setup;
    return [s.sasldb, s.pwcheck, s.saslauthdPath, s.authdaemondPath];
  };
  const MUX = '/var/run/saslauthd/mux';
  assert.deepEqual(source('sasldb_path: /db\n'), ['/db', 'auxprop', MUX, '/dev/null']);
  assert.deepEqual(source('pwcheck_method: saslauthd AUXPROP\nsaslauthd_path: /run/mux\nauthdaemond_path: /run/a\n'),
    ['/etc/sasldb2', 'saslauthd AUXPROP', '/run/mux', '/run/a']);
  assert.deepEqual(source('auxprop_plugin: sql SASLDB\nsasldb_path: /db\n'), ['/db', 'auxprop', MUX, '/dev/null']);
  assert.deepEqual(source('auxprop_plugin: sql\n'), [null, 'auxprop', MUX, '/dev/null']);
  assert.deepEqual(cyrusSetup(parseConfig('pwcheck_method: pwcheck saslauthd foo\n')!, 'h').notes,
    ['pwcheck_method: Cachalot has the auxprop, saslauthd, authdaemond verifiers only, as Debian\'s Cyrus: pwcheck foo']);
});

test('init_sasl: MEMCACHED_SASL_PWDB (even empty) is the password file, no config read; else no config path is an error', () => {
  const pwdb = initSasl({ MEMCACHED_SASL_PWDB: '/pw', SASL_CONF_PATH: '/nowhere' }, 'h') as { setup: SaslSetup; log: string };
  const { scramSaltKey: _, ...setup } = pwdb.setup;
  assert.deepEqual([setup, pwdb.log], [{ mechs: 'PLAIN', pwdb: '/pw', sasldb: null, pwcheck: '', saslauthdPath: '', authdaemondPath: '', realm: 'h', scramIterations: 4096 }, '']);
  assert.equal(initSasl({ MEMCACHED_SASL_PWDB: '' }, 'h').log, '');
  writeFileSync(join(dir, 'a/memcached.conf'), 'mech_list plain\n');
  assert.deepEqual(initSasl({ SASL_CONF_PATH: join(dir, 'a') }, 'h'),
    { error: 'Error initializing sasl.\n', log: `Reading configuration from: <${join(dir, 'a')}>\n` });
  const ok = initSasl({ SASL_CONF_PATH: join(dir, 'b') }, 'h');
  assert.equal(ok.log, `Reading configuration from: <${join(dir, 'b')}>\nInitialized SASL.\n`);
});

test('canon_user: white space around the name dropped, "@" and the host name appended to a name without "@"', () => {
  const canon = (name: string): string | number => {
    const c = canonUser(Buffer.from(name), 'host');
    return typeof c === 'number' ? c : c.toString();
  };
  assert.equal(canon('alice'), 'alice@host');
  assert.equal(canon(' \talice\r '), 'alice@host');
  assert.equal(canon('alice@realm'), 'alice@realm');
  assert.equal(canon('alice@'), 'alice@');
  assert.equal(canon('a@b@c'), 'a@b@c');
  assert.equal(canon(''), SaslCode.FAIL, '"All-whitespace username."');
  // Cyrus's test for white space only compares the wrong places: as much white space before the name as name is
  // "white space only", and white space alone passes, as an empty name
  assert.equal(canon(' a'), SaslCode.FAIL);
  assert.equal(canon('  ab '), SaslCode.FAIL);
  assert.equal(canon(' ab'), 'ab@host');
  assert.equal(canon('   '), '@host');
  assert.equal(canon('u'.repeat(1019)), `${'u'.repeat(1019)}@host`);
  assert.equal(canon('u'.repeat(1020)), SaslCode.BUFOVER, 'longer than Cyrus\'s 1024-byte buffer with its realm');
  assert.equal(canon(`${'u'.repeat(1023)}@h`), SaslCode.BUFOVER, 'a realm of its own: no more than 1024 bytes either');
  assert.equal(canon(`${'u'.repeat(1022)}@h`), `${'u'.repeat(1022)}@h`);
});
