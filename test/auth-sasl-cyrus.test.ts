// -S with Cyrus SASL's setup, side by side with Debian's memcached (whose SASL is Cyrus's): the same
// SASL_CONF_PATH directory, its memcached.conf, and a sasldb made by saslpasswd2 in a temp dir. Both
// servers must answer List Mechs, PLAIN logins (good and bad passwords, unknown and deleted users,
// user@realm, authorization identities, surrounding white space), auth_cmds and auth_errors alike,
// and see the sasldb's changes at the next login; CRAM-MD5 exchanges (the digest computed here) answer
// alike too; memjs (PLAIN) and pylibmc (libmemcached: CRAM-MD5, the strongest both offer) authenticate
// against both. Where Cachalot differs on purpose it is asserted here: List Mechs offers only the
// mechanisms Cachalot implements, SCRAM-SHA-*, CRAM-MD5, PLAIN and LOGIN (libmemcached would pick a stronger one
// it cannot finish). SCRAM's exchanges: test/auth-sasl-scram.test.ts. Skipped without saslpasswd2 (Debian's
// sasl2-bin, installed by .ci/run) or memcached.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Client } from './support/client.ts';
import { runToExit, sleep, type Server } from './support/server.ts';
import { CyrusDir, KINDS, REALM, call, cyrusSkip as skip, readPacket, saslLines, startBoth, noPylibmc, pylibmcLogin, authCounts } from './support/cyrus.ts';
import { binRequest, setExtras, type BinRequest, type BinResponse } from '../src/protocol/binary/frame.ts';
import { Op, Status } from '../src/protocol/binary/header.ts';

const LONG = 'x'.repeat(1000) + 'y'.repeat(1000); // on an overflow page of the sasldb

const cyrus = new CyrusDir();
const sasldb = cyrus.sasldb;
const saslpasswd2 = cyrus.saslpasswd2.bind(cyrus);
const confDir = cyrus.confDir.bind(cyrus);
after(() => cyrus.remove());

const listMechs: BinRequest = { opcode: Op.SASL_LIST_MECHS };
const plain = (authcid: string, pass: string, authzid = ''): BinRequest =>
  ({ opcode: Op.SASL_AUTH, key: 'PLAIN', value: `${authzid}\0${authcid}\0${pass}` });
const step = (authcid: string, pass: string): BinRequest => ({ ...plain(authcid, pass), opcode: Op.SASL_STEP });
const begin: BinRequest = { opcode: Op.SASL_AUTH, key: 'PLAIN' }; // PLAIN without data: "continue"
const show = (r: BinResponse): string => `0x${r.status.toString(16)} ${r.value.toString()}`;

/** Each request on a connection of its own: its answer, and after a success whether a set and a get work. */
async function answers(port: number, reqs: BinRequest[]): Promise<string[]> {
  const out: string[] = [];
  for (const req of reqs) {
    const c = await Client.connect(port);
    try {
      const r = await call(c, req);
      let line = show(r);
      if (r.status === Status.SUCCESS && req.opcode === Op.SASL_AUTH) {
        await call(c, { opcode: Op.SET, key: 'k', extras: setExtras(0, 0), value: 'v' });
        line += ` / get: ${(await call(c, { opcode: Op.GET, key: 'k' })).value.toString()}`;
      }
      out.push(line);
    } finally { c.end(); }
  }
  return out;
}

let servers: Server[] = [];
let cramServers: Server[] = []; // the CRAM-MD5 tests': mech_list offers it first
before(async () => {
  if (skip) return;
  saslpasswd2('alice', 'alice-pw', null); // as a Debian user adds one: in saslpasswd2's default realm
  saslpasswd2('bob', 'bob-pw', 'other.example');
  saslpasswd2('alice', 'alice-elsewhere', 'other.example');
  saslpasswd2('long', LONG, REALM);
  saslpasswd2('gone', 'gone-pw', REALM);
  saslpasswd2('gone', null, REALM);
  servers = await startBoth(confDir('plain', `mech_list: plain\nsasldb_path: ${sasldb}\n`));
  cramServers = await startBoth(confDir('cram', `mech_list: cram-md5 plain\nsasldb_path: ${sasldb}\n`));
});
after(async () => { for (const s of [...servers, ...cramServers]) await s.stop(); });

const LOGINS: Array<[string, BinRequest]> = [
  ['alice, no realm: the host name is hers', plain('alice', 'alice-pw')],
  ['alice, wrong password', plain('alice', 'alice-pw!')],
  ['alice@host', plain(`alice@${REALM}`, 'alice-pw')],
  ['alice@other.example, her other entry', plain('alice@other.example', 'alice-elsewhere')],
  ['alice@other.example with her host password', plain('alice@other.example', 'alice-pw')],
  ['bob without his realm', plain('bob', 'bob-pw')],
  ['bob@other.example', plain('bob@other.example', 'bob-pw')],
  ['alice@ (an empty realm)', plain('alice@', 'alice-pw')],
  ['white space around the user', plain(' alice\t', 'alice-pw')],
  ['white space only', plain('   ', 'alice-pw')],
  ['as much white space before the user as user (Cyrus takes it for white space only)', plain(' a', 'alice-pw')],
  ['white space before the user, more user', plain(' alice', 'alice-pw')],
  ['authzid = authcid', plain('alice', 'alice-pw', 'alice')],
  ['authzid alice@host for alice', plain('alice', 'alice-pw', `alice@${REALM}`)],
  ['authzid of someone else', plain('alice', 'alice-pw', 'bob@other.example')],
  ['a long password, overflow page', plain('long', LONG)],
  ['a long password, one byte short', plain('long', LONG.slice(1))],
  ['a deleted user', plain('gone', 'gone-pw')],
  ['an unknown user', plain('nobody', 'x')],
  ['an empty password', plain('alice', '')],
  ['the mechanism in lower case', { opcode: Op.SASL_AUTH, key: 'plain', value: '\0alice\0alice-pw' }],
  ['CRAM-MD5, not in mech_list', { opcode: Op.SASL_AUTH, key: 'CRAM-MD5', value: '' }],
  ['a malformed PLAIN message', { opcode: Op.SASL_AUTH, key: 'PLAIN', value: 'alice\0alice-pw' }],
];

test('cyrus: List Mechs and PLAIN logins answer alike on memcached and Cachalot', { skip }, async () => {
  const reqs = [listMechs, ...LOGINS.map(([, r]) => r)];
  const [theirs, ours] = await Promise.all(servers.map((s) => answers(s.port, reqs)));
  const named = (a: string[]): string[] => a.map((line, i) => `${i === 0 ? 'List Mechs' : LOGINS[i - 1][0]}: ${line}`);
  assert.deepEqual(named(ours), named(theirs));
  const ok = '0x0 Authenticated / get: v', refused = '0x20 Auth failure.';
  assert.deepEqual(ours.slice(0, 8), ['0x0 PLAIN', ok, refused, ok, ok, refused, refused, ok]);
  assert.deepEqual(ours.slice(9, 13), [ok, refused, refused, ok]);
  assert.deepEqual(ours.slice(13, 20), [ok, ok, refused, ok, refused, refused, refused]);
});

// memcached reads SASL data into an item keyed by the mechanism: Cyrus gets data up to what fits one slab chunk
// (524224 bytes of it with the default 512 KiB chunk), and only past that is it Out of memory, swallowed.
const DATA_SIZES = [4095, 4097, 100_000, 524_224, 524_225];
test('cyrus: SASL data is read as memcached reads it: refused by the mechanism up to a slab chunk, Out of memory past it', { skip }, async () => {
  const run = async (port: number): Promise<string[]> => {
    const out: string[] = [];
    const c = await Client.connect(port);
    try {
      for (const n of DATA_SIZES) {
        const req = binRequest(plain('alice', 'p'.repeat(n - '\0alice\0'.length)));
        await c.send(req.subarray(0, 2000)); // the data in two writes: read into the item as it comes
        await sleep(20);
        await c.send(req.subarray(2000));
        out.push(`${n}: ${show(await readPacket(c))}`);
      }
      out.push(`then: ${show(await call(c, plain('alice', 'alice-pw')))}`); // each body swallowed exactly
    } finally { c.end(); }
    return out;
  };
  const [theirs, ours] = await Promise.all(servers.map((s) => run(s.port)));
  assert.deepEqual(ours, theirs);
  assert.deepEqual(ours.map((l) => l.split(': ')[1]), ['0x20 Auth failure.', '0x20 Auth failure.', '0x20 Auth failure.',
    '0x20 Auth failure.', '0x82 Out of memory', '0x0 Authenticated']);
});

// ...and takes the slab memory memcached takes for it: data too big for one chunk gets an item header alone (memcached
// chains chunks as data comes, so a refused one never gets any), and every login's item comes from its slab class.
test('cyrus: SASL data takes the slab chunks memcached takes: a header alone for data refused as chunked', { skip }, async () => {
  const fresh = await startBoth(confDir('plain-slabs', `mech_list: plain\nsasldb_path: ${sasldb}\n`));
  const slabs = async (port: number): Promise<string[]> => {
    const c = await Client.connect(port);
    try {
      const out = [show(await call(c, plain('alice', 'wrong'))), show(await call(c, plain('alice', 'p'.repeat(600_000)))),
        show(await call(c, plain('alice', 'alice-pw')))];
      await c.send(binRequest({ opcode: Op.STAT, key: 'slabs' }));
      for (let p = await readPacket(c); p.key.length > 0; p = await readPacket(c)) out.push(`${p.key}=${p.value}`);
      return out;
    } finally { c.end(); }
  };
  try {
    const [theirs, ours] = await Promise.all(fresh.map((s) => slabs(s.port)));
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours.slice(0, 3), ['0x20 Auth failure.', '0x82 Out of memory', '0x0 Authenticated']);
  } finally { for (const s of fresh) await s.stop(); }
});

// ...and while the data is still coming the connection is in conn_nread, which memcached's idle timeout passes over
// (it hangs up only in conn_new_cmd and conn_read): a login sent slowly is not cut off.
test('cyrus: -o idle_timeout spares a connection whose SASL data is still coming, as memcached does', { skip }, async () => {
  const fresh = await startBoth(confDir('plain-idle', `mech_list: plain\nsasldb_path: ${sasldb}\n`), ['-o', 'idle_timeout=1']);
  const slowLogin = async (port: number): Promise<string[]> => {
    const c = await Client.connect(port);
    try {
      const req = binRequest(plain('alice', 'alice-pw'));
      await c.send(req.subarray(0, req.length - 4)); // the header and the mechanism, most of the data
      await sleep(3500); // idle_timeout=1: memcached's timeout thread looks every second or so
      await c.send(Buffer.concat([req.subarray(req.length - 4), binRequest({ opcode: Op.VERSION })]));
      return [show(await readPacket(c)), show(await readPacket(c))];
    } finally { c.end(); }
  };
  try {
    const [theirs, ours] = await Promise.all(fresh.map((s) => slowLogin(s.port)));
    assert.deepEqual(ours, theirs);
    assert.deepEqual(ours, ['0x0 Authenticated', '0x0 1.6.18']);
  } finally { for (const s of fresh) await s.stop(); }
});

test('cyrus: auth_cmds and auth_errors count alike', { skip }, async () => {
  const counts = async (port: number): Promise<number[]> => {
    const c = await Client.connect(port); // authenticated once, for STAT
    try {
      const stats = async (): Promise<Map<string, string>> => {
        await c.send(binRequest({ opcode: Op.STAT }));
        const m = new Map<string, string>();
        for (let p = await readPacket(c); p.key.length > 0; p = await readPacket(c)) m.set(p.key.toString(), p.value.toString());
        return m;
      };
      await call(c, plain('alice', 'alice-pw'));
      const before = await stats();
      await answers(port, [plain('alice', 'no'), plain('nobody', 'x'), plain('bob@other.example', 'bob-pw'), begin]);
      const now = await stats();
      return ['auth_cmds', 'auth_errors'].map((k) => Number(now.get(k)) - Number(before.get(k)));
    } finally { c.end(); }
  };
  const [theirs, ours] = await Promise.all(servers.map((s) => counts(s.port)));
  assert.deepEqual(ours, theirs);
  assert.deepEqual(ours, [3, 2], '"continue" is not counted');
});

// ---- CRAM-MD5 ----

/** A request, or one made from the server's last challenge (CRAM-MD5's answer). */
type Step = BinRequest | ((challenge: Buffer) => BinRequest);
const cramBegin: BinRequest = { opcode: Op.SASL_AUTH, key: 'CRAM-MD5' };
const cramStep = (value: string | Buffer): BinRequest => ({ opcode: Op.SASL_STEP, key: 'CRAM-MD5', value });
/** RFC 2195's answer: "user hexdigest", HMAC-MD5 keyed with the password over the challenge. */
const cramAnswer = (user: string, pass: string, tail = ''): (challenge: Buffer) => BinRequest => (challenge) =>
  cramStep(`${user} ${createHmac('md5', pass).update(challenge).digest('hex')}${tail}`);
/** A challenge is "<random.time@host>": shown as <challenge> when it is, so that both servers' lines compare. */
const CHALLENGE = new RegExp(`^<\\d{1,10}\\.\\d{1,8}@${REALM.replace(/[.]/g, '\\.')}>$`);

/** One connection: each step's status and body (a challenge as <challenge>). */
async function exchange(port: number, steps: Step[]): Promise<string[]> {
  const c = await Client.connect(port);
  try {
    const out: string[] = [];
    let challenge: Buffer = Buffer.alloc(0);
    for (const s of steps) {
      const r = await call(c, typeof s === 'function' ? s(challenge) : s);
      if (r.status === Status.AUTH_CONTINUE && r.value.length > 0) challenge = r.value;
      out.push(`0x${r.status.toString(16)} ${CHALLENGE.test(r.value.toString('latin1')) ? '<challenge>' : r.value.toString('latin1')}`);
    }
    return out;
  } finally { c.end(); }
}

const CRAM: Array<[string, Step[]]> = [
  ['alice', [cramBegin, cramAnswer('alice', 'alice-pw')]],
  ['a wrong digest', [cramBegin, cramAnswer('alice', 'alice-pw!')]],
  ['an unknown user', [cramBegin, cramAnswer('nobody', 'x')]],
  ['a deleted user', [cramBegin, cramAnswer('gone', 'gone-pw')]],
  ['alice@host', [cramBegin, cramAnswer(`alice@${REALM}`, 'alice-pw')]],
  ['bob@other.example', [cramBegin, cramAnswer('bob@other.example', 'bob-pw')]],
  ['bob without his realm', [cramBegin, cramAnswer('bob', 'bob-pw')]],
  ['alice@other.example, her other entry', [cramBegin, cramAnswer('alice@other.example', 'alice-elsewhere')]],
  ['a long password, overflow page', [cramBegin, cramAnswer('long', LONG)]],
  ['white space around the user', [cramBegin, cramAnswer(' alice\t', 'alice-pw')]],
  ['bytes after the digest', [cramBegin, cramAnswer('alice', 'alice-pw', 'xyz')]],
  ['the digest in upper case', [cramBegin, (ch) => cramStep(`alice ${createHmac('md5', 'alice-pw').update(ch).digest('hex').toUpperCase()}`)]],
  ['the digest cut short', [cramBegin, (ch) => cramStep(`alice ${createHmac('md5', 'alice-pw').update(ch).digest('hex').slice(1)}`)]],
  ['no user', [cramBegin, (ch) => cramStep(` ${createHmac('md5', 'alice-pw').update(ch).digest('hex')}`)]],
  ['no space', [cramBegin, cramStep('alice')]],
  ['an empty answer', [cramBegin, cramStep('')]],
  ['an answer over 1024 bytes', [cramBegin, cramStep(`${'a'.repeat(1000)} ${'0'.repeat(32)}`)]],
  ['the mechanism in lower case, then a step keyed PLAIN', [{ ...cramBegin, key: 'cram-md5' }, (ch) => ({ ...cramAnswer('alice', 'alice-pw')(ch), key: 'PLAIN' })]],
  ['CRAM-MD5-PLUS', [{ ...cramBegin, key: 'CRAM-MD5-PLUS' }, cramAnswer('alice', 'alice-pw')]],
  ['an Auth with data: the server speaks first', [{ ...cramBegin, value: 'alice 0' }, cramAnswer('alice', 'alice-pw')]],
  ['a step without a start', [cramAnswer('alice', 'alice-pw')]],
  ['after a failed step, the right answer', [cramBegin, cramAnswer('alice', 'wrong'), cramAnswer('alice', 'alice-pw')]],
  ['after a success: steps, then a new exchange', [cramBegin, cramAnswer('alice', 'alice-pw'), cramAnswer('alice', 'alice-pw'), cramBegin, cramStep('x'), cramBegin, cramAnswer('alice', 'alice-pw')]],
  ['after a success: List Mechs, a step, an exchange', [cramBegin, cramAnswer('alice', 'alice-pw'), listMechs, cramAnswer('alice', 'alice-pw'), cramBegin, cramAnswer('alice', 'alice-pw')]],
  ['an unknown mechanism ends the exchange', [cramBegin, { opcode: Op.SASL_AUTH, key: 'DIGEST-MD5' }, cramAnswer('alice', 'alice-pw')]],
  ['PLAIN "continue" replaces the exchange', [cramBegin, begin, cramAnswer('alice', 'alice-pw'), cramBegin, begin, step('alice', 'alice-pw')]],
  ['PLAIN, then CRAM-MD5', [plain('alice', 'alice-pw'), cramBegin, cramBegin, cramAnswer('alice', 'alice-pw')]],
  ['PLAIN "continue", then CRAM-MD5 and a PLAIN step', [begin, cramBegin, step('alice', 'alice-pw')]],
];

test('cyrus: CRAM-MD5 exchanges answer alike: challenges, digests, users, realms, and the state between exchanges', { skip }, async () => {
  const run = async (port: number): Promise<string[]> => {
    const out: string[] = [];
    for (const [name, steps] of CRAM) out.push(`${name}: ${(await exchange(port, steps)).join(' / ')}`);
    return out;
  };
  const [theirs, ours] = await Promise.all(cramServers.map((s) => run(s.port)));
  assert.deepEqual(ours, theirs);
  assert.equal(ours[0], 'alice: 0x21 <challenge> / 0x0 Authenticated');
  assert.equal(ours[1], 'a wrong digest: 0x21 <challenge> / 0x20 Auth failure.');
});

test('cyrus: -v prints memcached\'s lines for every step: Cyrus\'s message and severity, the result code, "Unknown sasl response"', { skip }, async () => {
  const logged: string[][] = [];
  for (const s of await startBoth(confDir('cram-v', `mech_list: cram-md5 plain\nsasldb_path: ${sasldb}\n`), ['-v'])) {
    try {
      const more = [plain('', 'alice-pw'), { opcode: Op.SASL_AUTH, key: 'PLAIN', value: '\0alice\0alice-pw\0' }]; // no user; a third NUL
      await answers(s.port, [...LOGINS.map(([, r]) => r), ...more]);
      for (const [, steps] of CRAM) await exchange(s.port, steps);
    } finally { await s.stop(); }
    // once it has exited its lines are all written; the pipe may still hold the last of them
    for (let n = -1; n !== saslLines(s).length; await sleep(20)) n = saslLines(s).length;
    logged.push(saslLines(s));
  }
  const [theirs, ours] = logged;
  assert.deepEqual(ours, theirs);
  for (const line of ['SASL (severity 2): Password verification failed', 'sasl result code:  -13', 'sasl result code:  -20',
    'SASL (severity 2): Requested identity not authenticated identity', 'SASL (severity 2): All-whitespace username.',
    'SASL (severity 2): Can only find author/en (no password)', 'SASL (severity 2): incorrect digest response',
    'SASL (severity 2): Got more data than we were expecting in the PLAIN plugin',
    'SASL (severity 2): need authentication name', 'SASL (severity 1): attempting server step after doneflag',
    'fd: SASL_STEP called but sasl_server_start not called for this connection!', 'Unknown sasl response:  -4']) {
    assert.ok(ours.includes(line), line);
  }
});

test('cyrus: CRAM-MD5: an exchange logs in (set, get), and auth_cmds and auth_errors count the steps, not the challenge', { skip }, async () => {
  const counts = async (port: number): Promise<string[]> => {
    const c = await Client.connect(port);
    try {
      const stats = (): Promise<number[]> => authCounts(c);
      const r = await call(c, cramBegin);
      const ok = await call(c, cramAnswer('alice', 'alice-pw')(r.value));
      const set = await call(c, { opcode: Op.SET, key: 'cram', extras: setExtras(0, 0), value: 'v' });
      const before = await stats();
      await exchange(port, [cramBegin, cramAnswer('alice', 'no'), cramBegin]);
      await exchange(port, [cramBegin, cramAnswer('alice', 'alice-pw')]);
      const now = await stats();
      return [show(ok), `set 0x${set.status.toString(16)}`, `auth_cmds +${now[0] - before[0]}`, `auth_errors +${now[1] - before[1]}`];
    } finally { c.end(); }
  };
  const [theirs, ours] = await Promise.all(cramServers.map((s) => counts(s.port)));
  assert.deepEqual(ours, theirs);
  assert.deepEqual(ours, ['0x0 Authenticated', 'set 0x0', 'auth_cmds +2', 'auth_errors +1']);
});

// One connection, several exchanges: Cyrus keeps a connection's state between them (memcached's sasl_started,
// Cyrus's doneflag). After a success the next PLAIN step is refused: an Auth with data fails (and clears that),
// a Step fails (and does not); a Step goes on only from an Auth that succeeded or said "continue".
const SEQUENCES: BinRequest[][] = [
  [plain('alice', 'alice-pw'), plain('alice', 'alice-pw'), plain('alice', 'alice-pw')],
  [plain('alice', 'alice-pw'), listMechs, plain('alice', 'alice-pw'), plain('alice', 'alice-pw')],
  [plain('alice', 'alice-pw'), step('alice', 'alice-pw'), plain('alice', 'alice-pw'), plain('alice', 'alice-pw')],
  [plain('alice', 'alice-pw'), { opcode: Op.SASL_AUTH, key: 'CRAM-MD5', value: 'x' }, plain('alice', 'alice-pw')],
  [plain('alice', 'alice-pw'), begin, step('alice', 'alice-pw'), plain('alice', 'alice-pw')],
  [begin, step('alice', 'wrong'), step('alice', 'alice-pw'), step('alice', 'alice-pw')],
  [begin, step('alice', 'alice-pw'), plain('alice', 'alice-pw'), plain('alice', 'alice-pw')],
  [plain('alice', 'wrong'), step('alice', 'alice-pw'), begin, begin, step('alice', 'alice-pw')],
  [begin, { opcode: Op.SASL_AUTH, key: 'CRAM-MD5', value: '' }, step('alice', 'alice-pw')],
  [begin, { ...plain('alice', 'alice-pw', 'bob@other.example'), opcode: Op.SASL_STEP }, plain('alice', 'alice-pw')],
];

test('cyrus: several exchanges on one connection answer alike (a success makes the next PLAIN step fail)', { skip }, async () => {
  const run = async (port: number): Promise<string[]> => {
    const out: string[] = [];
    for (const reqs of SEQUENCES) {
      const c = await Client.connect(port);
      try {
        const line: string[] = [];
        for (const r of reqs) line.push(`0x${(await call(c, r)).status.toString(16)}`);
        out.push(line.join(' '));
      } finally { c.end(); }
    }
    return out;
  };
  const [theirs, ours] = await Promise.all(servers.map((s) => run(s.port)));
  assert.deepEqual(ours, theirs);
  assert.equal(ours[0], '0x0 0x20 0x0', 'a success, a refused repeat (which clears the doneflag), a success');
});

test('cyrus: the sasldb is read at every login: a user added, a password changed, a user deleted', { skip }, async () => {
  const both = async (req: BinRequest): Promise<string[]> => Promise.all(servers.map(async (s) => (await answers(s.port, [req]))[0]));
  const ok = '0x0 Authenticated / get: v', refused = '0x20 Auth failure.';
  saslpasswd2('newbie', 'first', REALM);
  assert.deepEqual(await both(plain('newbie', 'first')), [ok, ok]);
  saslpasswd2('newbie', 'second', REALM);
  assert.deepEqual(await both(plain('newbie', 'first')), [refused, refused]);
  assert.deepEqual(await both(plain('newbie', 'second')), [ok, ok]);
  saslpasswd2('newbie', null, REALM);
  assert.deepEqual(await both(plain('newbie', 'second')), [refused, refused]);
});

// The config's mech_list, and the settings that decide where passwords are checked: what each server offers,
// and whether alice's PLAIN and CRAM-MD5 logins work. Cachalot offers what memcached offers of the mechanisms
// it implements (SCRAM-SHA-*, CRAM-MD5, PLAIN, LOGIN), in the same order: never one a client could pick and Cachalot
// not finish.
const SCRAM = 'SCRAM-SHA-512 SCRAM-SHA-384 SCRAM-SHA-256 SCRAM-SHA-224 SCRAM-SHA-1';
const ALL = `${SCRAM} DIGEST-MD5 CRAM-MD5 NTLM PLAIN LOGIN ANONYMOUS`;
const CONFIGS: Array<{ conf: string; memcached: string; cachalot: string; plain: boolean; cram: boolean }> = [
  { conf: '', memcached: `0x0 ${ALL}`, cachalot: `0x0 ${SCRAM} CRAM-MD5 PLAIN LOGIN`, plain: true, cram: true },
  { conf: 'mech_list: plain cram-md5', memcached: '0x0 PLAIN CRAM-MD5', cachalot: '0x0 PLAIN CRAM-MD5', plain: true, cram: true },
  { conf: 'mech_list: Plain plain foo', memcached: '0x0 PLAIN PLAIN', cachalot: '0x0 PLAIN PLAIN', plain: true, cram: false },
  { conf: 'mech_list: cram-md5', memcached: '0x0 CRAM-MD5', cachalot: '0x0 CRAM-MD5', plain: false, cram: true },
  { conf: 'mech_list: login digest-md5 scram-sha-256 cram-md5 ntlm anonymous plain scram-sha-1',
    memcached: '0x0 LOGIN DIGEST-MD5 SCRAM-SHA-256 CRAM-MD5 NTLM ANONYMOUS PLAIN SCRAM-SHA-1', cachalot: '0x0 LOGIN SCRAM-SHA-256 CRAM-MD5 PLAIN SCRAM-SHA-1', plain: true, cram: true },
  { conf: 'mech_list: cram-md5-plus cram PLAIN-PLUS', memcached: '0x0 PLAIN', cachalot: '0x0 PLAIN', plain: true, cram: false }, // "-PLUS": last name only
  { conf: 'mech_list: cram-md5-plus', memcached: '0x0 CRAM-MD5', cachalot: '0x0 CRAM-MD5', plain: false, cram: true },
  { conf: 'mech_list: digest-md5', memcached: '0x0 DIGEST-MD5', cachalot: '0x20 Auth failure.', plain: false, cram: false },
  { conf: 'mech_list: foo', memcached: '0x20 Auth failure.', cachalot: '0x20 Auth failure.', plain: false, cram: false },
  { conf: 'mech_list: plain cram-md5\npwcheck_method: saslauthd', memcached: '0x0 PLAIN CRAM-MD5', cachalot: '0x0 PLAIN CRAM-MD5', plain: false, cram: true },
  { conf: 'mech_list: plain cram-md5\nauxprop_plugin: sql', memcached: '0x0 PLAIN CRAM-MD5', cachalot: '0x0 PLAIN CRAM-MD5', plain: false, cram: false },
  { conf: 'mech_list: plain\nauxprop_plugin: sasldb\npwcheck_method: saslauthd auxprop', memcached: '0x0 PLAIN', cachalot: '0x0 PLAIN', plain: true, cram: false },
];

test('cyrus: mech_list, pwcheck_method, auxprop_plugin: what is offered, and whether PLAIN and CRAM-MD5 log in', { skip }, async () => {
  for (const [i, c] of CONFIGS.entries()) {
    const pair = await startBoth(confDir(`conf${i}`, `${c.conf}\nsasldb_path: ${sasldb}\n`));
    try {
      const [theirs, ours] = await Promise.all(pair.map(async (s) => [
        ...await answers(s.port, [listMechs, plain('alice', 'alice-pw')]),
        (await exchange(s.port, [cramBegin, cramAnswer('alice', 'alice-pw')])).join(' '),
      ]));
      assert.equal(theirs[0], c.memcached, c.conf);
      assert.equal(ours[0], c.cachalot, c.conf);
      assert.deepEqual(ours.slice(1), theirs.slice(1), c.conf);
      assert.equal(ours[1].startsWith('0x0 '), c.plain, c.conf);
      assert.equal(ours[2].endsWith('0x0 Authenticated'), c.cram, c.conf);
    } finally { for (const s of pair) await s.stop(); }
  }
});

test('cyrus: a malformed memcached.conf ends the start, as memcached\'s sasl_server_init fails', { skip }, () => {
  const bad = confDir('malformed', 'mech_list plain\n');
  for (const kind of KINDS) {
    const r = runToExit(kind, ['-S'], { SASL_CONF_PATH: bad });
    assert.deepEqual([r.status, r.stderr], [1, 'Error initializing sasl.\n'], kind);
  }
});

// ---- real clients ----

type MemjsClient = {
  set(key: string, value: string, opts: { expires?: number }): Promise<boolean>;
  get(key: string): Promise<{ value: Buffer | null }>;
  close(): void;
};
type Memjs = { Client: { create(servers: string, opts: Record<string, unknown>): MemjsClient } };
let memjs: Memjs | null = null;
try { memjs = ((await import('memjs' as string)) as { default: Memjs }).default; } catch { memjs = null; }

test('cyrus: memjs (PLAIN) authenticates against both, and is refused a wrong password by both', { skip: skip || (memjs === null && 'memjs is not installed') }, async () => {
  for (const s of servers) {
    const client = (user: string, pass: string): MemjsClient => memjs!.Client.create(`127.0.0.1:${s.port}`, {
      username: user, password: pass, retries: 0, timeout: 2, conntimeout: 2, logger: { log: () => {} },
    });
    const m = client('bob@other.example', 'bob-pw');
    try {
      assert.equal(await m.set('memjs', `via ${s.kind}`, { expires: 0 }), true, s.kind);
      assert.equal((await m.get('memjs')).value?.toString(), `via ${s.kind}`);
    } finally { m.close(); }
    const bad = client('bob@other.example', 'wrong');
    try {
      await assert.rejects(bad.set('memjs', 'x', { expires: 0 }), /authentication failed/i, s.kind);
    } finally { bad.close(); }
  }
});

test('cyrus: pylibmc takes the strongest mechanism offered, CRAM-MD5 from both, and logs in; a wrong password is refused', { skip: skip || noPylibmc }, async () => {
  const pair = await startBoth(confDir('pylibmc', `mech_list: plain cram-md5\nsasldb_path: ${sasldb}\n`), ['-v']);
  try {
    for (const s of pair) {
      const run = (user: string, pass: string): string => pylibmcLogin(s.port, user, pass);
      assert.equal(run('alice', 'alice-pw'), 'True v', s.kind);
      assert.equal(run('bob@other.example', 'bob-pw'), 'True v', s.kind);
      assert.equal(run('alice', 'wrong'), 'Error True', s.kind); // libmemcached's MEMCACHED_AUTH_FAILURE
    }
    // the -v lines come through a pipe this (blocked) event loop reads only now
    const mechs = (s: Server): string[] => [...s.stderr().matchAll(/mech: {2}``([^']*)'' with (\d+) bytes/g)].map((m) => `${m[1]} ${m[2] === '0' ? 'start' : 'answer'}`);
    for (let i = 0; i < 500 && !pair.every((s) => mechs(s).length >= 6); i++) await sleep(10);
    for (const s of pair) assert.deepEqual(mechs(s), Array(3).fill(['CRAM-MD5 start', 'CRAM-MD5 answer']).flat(), s.kind);
  } finally { for (const s of pair) await s.stop(); }
});
