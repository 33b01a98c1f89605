// -S's SCRAM-SHA-1, -224, -256, -384 and -512 (RFC 5802), side by side with Debian's memcached, whose Cyrus
// serves them from the sasldb's plaintext passwords: the same exchanges (the client's messages made here)
// answer alike on both, message by message, and print the same -v lines; the sent-last success (Cyrus's
// "v=" goes out as "continue", and from then on every step on the connection succeeds); pylibmc
// (libmemcached with Cyrus's client) picks SCRAM-SHA-512 from both when nothing narrows the list, and logs in.
// Skipped without saslpasswd2 (Debian's sasl2-bin) or memcached.

import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Client } from './support/client.ts';
import { sleep, type Server } from './support/server.ts';
import { mulberry32 } from './support/rng.ts';
import { CyrusDir, REALM, call, cyrusSkip as skip, saslLines, startBoth, noPylibmc, pylibmcLogin, authCounts } from './support/cyrus.ts';
import { setExtras, type BinRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

const cyrus = new CyrusDir();
after(() => cyrus.remove());

const DIGESTS: Record<string, string> = {
  'SCRAM-SHA-1': 'sha1', 'SCRAM-SHA-224': 'sha224', 'SCRAM-SHA-256': 'sha256', 'SCRAM-SHA-384': 'sha384', 'SCRAM-SHA-512': 'sha512',
};
const CLIENT_NONCE = 'fyko+d2lbbFgONRv9qkxdawL'; // RFC 5802's
const ITERATIONS = 1000; // the config's scram_iteration_counter
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');

/**
 * One client's exchange: the messages it sends, built from what the server said. `proof` reworks the client-final
 * message for the malformed cases; what the server's "v=" must be is kept to check it.
 */
class Scram {
  serverFirst = '';
  expectedV = '';
  readonly mech: string;
  readonly pass: string;
  /** The gs2 header ("n,,") and the client-first-bare message ("n=user,r=nonce"). */
  readonly gs2: string;
  readonly bare: string;
  constructor(mech: string, user: string, pass: string, gs2 = 'n,,', bare = `n=${user},r=${CLIENT_NONCE}`) {
    this.mech = mech;
    this.pass = pass;
    this.gs2 = gs2;
    this.bare = bare;
  }

  /** The same client afresh: each server's run gets its own, as the exchange keeps what the server said. */
  fresh(): Scram { return new Scram(this.mech, '', this.pass, this.gs2, this.bare); }

  auth(withData = true): BinRequest {
    return { opcode: Op.SASL_AUTH, key: this.mech, value: withData ? this.gs2 + this.bare : '' };
  }

  /** The first message as a Step (after an Auth without data). */
  first(): BinRequest { return { opcode: Op.SASL_STEP, key: this.mech, value: this.gs2 + this.bare }; }

  /** The client-final message, right unless reworked: `rework(withoutProof, proof)` gives what is sent. */
  final(rework?: (withoutProof: string, proof: string) => string): BinRequest {
    const digest = DIGESTS[this.mech.toUpperCase().replace(/-PLUS$/, '')];
    const fields = new Map(this.serverFirst.split(',').map((f) => [f[0], f.slice(2)] as [string, string]));
    const iterations = Number(fields.get('i') ?? 1) || 1; // (a first message refused: any proof will do)
    const salted = pbkdf2Sync(this.pass, Buffer.from(fields.get('s') ?? '', 'base64'), iterations, createHash(digest).digest().length, digest);
    const clientKey = createHmac(digest, salted).update('Client Key').digest();
    const withoutProof = `c=${b64(this.gs2)},r=${fields.get('r')}`;
    const authMessage = `${this.bare},${this.serverFirst},${withoutProof}`;
    const signature = createHmac(digest, createHash(digest).update(clientKey).digest()).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i])).toString('base64');
    const serverKey = createHmac(digest, salted).update('Server Key').digest();
    this.expectedV = `v=${createHmac(digest, serverKey).update(authMessage).digest('base64')}`;
    const value = rework === undefined ? `${withoutProof},p=${proof}` : rework(withoutProof, proof);
    return { opcode: Op.SASL_STEP, key: this.mech, value };
  }

  /** The empty Step libmemcached sends once Cyrus's client has checked "v=". */
  done(): BinRequest { return { opcode: Op.SASL_STEP, key: this.mech }; }
}

type Step = BinRequest | ((x: Scram) => BinRequest);

/**
 * The nonce the client's message carried: after its ",r=", to the next comma. A server's nonce is compared with
 * this, not with RFC 5802's: a mangled message may have cut the nonce short, and the random part a server appends
 * then starts with the cut characters once in 64 runs or so, which made one server's nonce look like the whole of
 * RFC 5802's and the other's not.
 */
function sentNonce(sent: string): string | null {
  const m = /,r=([^,]+)/.exec(sent);
  return m === null ? null : m[1];
}

/** The server's message, with what is random in it (its nonce's part, the salt) and "v=" checked, not shown. */
function shown(x: Scram, body: string, sent: string): string {
  const first = /^r=(.*),s=([A-Za-z0-9+/=]*),i=(\d+)$/.exec(body);
  if (first !== null) {
    x.serverFirst = body;
    const mine = sentNonce(sent);
    const nonce = mine !== null && first[1].startsWith(mine) ? `<client nonce>+${first[1].length - mine.length}`
      : `<${first[1].length} bytes>`; // (the client sent no nonce, or the server did not start with it)
    return `r=${nonce},s=<${Buffer.from(first[2], 'base64').length} bytes>,i=${first[3]}`;
  }
  if (body.startsWith('v=')) return body === x.expectedV ? 'v=<right>' : `v=<wrong: ${body}>`;
  return body;
}

/** One connection: each step's status and what came with it. */
async function exchange(port: number, x: Scram, steps: Step[]): Promise<string> {
  const c = await Client.connect(port);
  try {
    const out: string[] = [];
    for (const s of steps) {
      const req = typeof s === 'function' ? s(x) : s;
      const r = await call(c, req);
      const sent = typeof req.value === 'string' ? req.value : req.value?.toString('latin1') ?? '';
      out.push(`0x${r.status.toString(16)} ${shown(x, r.value.toString('latin1'), sent)}`.trimEnd());
    }
    return out.join(' / ');
  } finally { c.end(); }
}

const auth = (x: Scram): BinRequest => x.auth();
const final = (x: Scram): BinRequest => x.final();
const done = (x: Scram): BinRequest => x.done();
const LOGIN: Step[] = [auth, final, done];
const S256 = 'SCRAM-SHA-256';
const alice = (over: Partial<{ mech: string; user: string; pass: string; gs2: string; bare: string }> = {}): Scram =>
  new Scram(over.mech ?? S256, over.user ?? 'alice', over.pass ?? 'alice-pw', over.gs2, over.bare);
const rework = (f: (withoutProof: string, proof: string) => string): Step => (x) => x.final(f);
const plain = (user: string, pass: string): BinRequest => ({ opcode: Op.SASL_AUTH, key: 'PLAIN', value: `\0${user}\0${pass}` });

const CASES: Array<[string, Scram, Step[]]> = [
  ...Object.keys(DIGESTS).map((m): [string, Scram, Step[]] => [`${m}: alice`, alice({ mech: m }), LOGIN]),
  ['SCRAM-SHA-1, wrong password', alice({ mech: 'SCRAM-SHA-1', pass: 'nope' }), LOGIN],
  ['wrong password', alice({ pass: 'nope' }), LOGIN],
  ['the first message in a Step', alice(), [(x) => x.auth(false), (x) => x.first(), final, done]],
  ['alice@host', alice({ user: `alice@${REALM}` }), LOGIN],
  ['bob@other.example', alice({ user: 'bob@other.example', pass: 'bob-pw' }), LOGIN],
  ['bob without his realm', alice({ user: 'bob', pass: 'bob-pw' }), LOGIN],
  ['an unknown user', alice({ user: 'nobody' }), LOGIN],
  ['a deleted user', alice({ user: 'gone', pass: 'gone-pw' }), LOGIN],
  ['white space around the user', alice({ user: ' alice\t' }), LOGIN],
  ['as much white space before the user as user', alice({ user: '  al', pass: 'al-pw' }), LOGIN],
  ['no user', alice({ user: '' }), LOGIN],
  ['a user name of 1100 bytes', alice({ user: 'u'.repeat(1100) }), LOGIN],
  ['a user name with "=2C" and "=3D"', alice({ user: 'c=2Cd=3De', pass: 'cd-pw' }), LOGIN],
  ['a user name with a bad "=" code', alice({ bare: `n=al=2Xice,r=${CLIENT_NONCE}` }), LOGIN],
  ['authzid: alice', alice({ gs2: 'n,a=alice,' }), LOGIN],
  ['authzid: alice@host', alice({ gs2: `n,a=alice@${REALM},` }), LOGIN],
  ['authzid: someone else', alice({ gs2: 'n,a=bob@other.example,' }), LOGIN],
  ['authzid: white space', alice({ gs2: 'n,a= ,' }), LOGIN],
  ['authzid: a bad "=" code', alice({ gs2: 'n,a=x=,' }), LOGIN],
  ['authzid: empty', alice({ gs2: 'n,a=,' }), LOGIN],
  ['"y": the client would bind, thinks the server would not', alice({ gs2: 'y,,' }), LOGIN],
  ['"p=tls-unique": channel binding asked for', alice({ gs2: 'p=tls-unique,,' }),
    [auth, rework((w, p) => `c=${b64('p=tls-unique,,binding')}${w.slice(w.indexOf(','))},p=${p}`)]],
  ['"p=" without binding data', alice({ gs2: 'p=tls-unique,,' }), LOGIN],
  ['"p" without "="', alice({ gs2: 'p,,' }), LOGIN],
  ['"p=" without a comma', alice({ gs2: 'p=x', bare: '' }), LOGIN],
  ['an unknown flag', alice({ gs2: 'x,,' }), LOGIN],
  ['no comma after the flag', alice({ gs2: 'n', bare: `=alice,r=${CLIENT_NONCE}` }), LOGIN],
  ['no second comma', alice({ gs2: 'n,' }), LOGIN],
  ['"a=" without the nonce', alice({ gs2: 'n,a=alice', bare: '' }), LOGIN],
  ['a mandatory extension', alice({ bare: `m=ext,n=alice,r=${CLIENT_NONCE}` }), LOGIN],
  ['no "n="', alice({ bare: `u=alice,r=${CLIENT_NONCE}` }), LOGIN],
  ['no "=" after the field name', alice({ bare: `nalice,r=${CLIENT_NONCE}` }), LOGIN],
  ['no nonce', alice({ bare: 'n=alice,x=1' }), LOGIN],
  ['no comma after the user', alice({ bare: 'n=alicealicealice' }), LOGIN],
  ['an empty client nonce', alice({ bare: 'n=alice,r=' }), LOGIN],
  ['an extension after the nonce', alice({ bare: `n=alice,r=${CLIENT_NONCE},e=1` }), LOGIN],
  ['shorter than 10 bytes', alice({ bare: 'n=a,r=' }), LOGIN],
  ['a NUL', alice({ bare: `n=ali\0ce,r=${CLIENT_NONCE}` }), LOGIN],
  ['2049 bytes', alice({ bare: `n=alice,r=${'x'.repeat(2049 - 13)}` }), LOGIN],
  ['2048 bytes', alice({ bare: `n=alice,r=${'x'.repeat(2048 - 13)}` }), LOGIN],
  ['an empty Step for the first message', alice(), [(x) => x.auth(false), done, final]],
  ['final: an empty Step', alice(), [auth, done, final]],
  ['final: "c"', alice(), [auth, (x) => ({ ...x.done(), value: 'c' }), final]],
  ['final: no "c="', alice(), [auth, rework((w, p) => `x=${w.slice(2)},p=${p}`)]],
  ['final: the binding not in base64', alice(), [auth, rework((w, p) => `c=bi!s${w.slice(w.indexOf(','))},p=${p}`)]],
  ['final: the binding of another header', alice(), [auth, rework((w, p) => `c=${b64('y,,')}${w.slice(w.indexOf(','))},p=${p}`)]],
  ['final: the binding cut short', alice(), [auth, rework((w, p) => `c=bg==${w.slice(w.indexOf(','))},p=${p}`)]],
  ['final: the binding with data after it', alice(), [auth, rework((w, p) => `c=${b64('n,,x')}${w.slice(w.indexOf(','))},p=${p}`)]],
  ['final: only the binding', alice(), [auth, rework((w) => w.slice(0, w.indexOf(',')))]],
  ['final: another nonce', alice(), [auth, rework((w, p) => `${w}x,p=${p}`)]],
  ['final: no "r="', alice(), [auth, rework((w, p) => `${w.replace(',r=', ',q=')},p=${p}`)]],
  ['final: no proof', alice(), [auth, rework((w) => `${w},e=1`)]],
  ['final: no comma after the nonce', alice(), [auth, rework((w) => w)]],
  ['final: an extension before the proof', alice(), [auth, rework((w, p) => `${w},e=1,p=${p}`)]],
  ['final: an extension after the proof', alice(), [auth, rework((w, p) => `${w},p=${p},e=1`)]],
  ['final: the proof one character short', alice(), [auth, rework((w, p) => `${w},p=${p.slice(1)}`)]],
  ['final: the proof not in base64', alice(), [auth, rework((w, p) => `${w},p=!${p.slice(1)}`)]],
  ['final: the proof without its padding', alice(), [auth, rework((w, p) => `${w},p=${p.slice(0, -1)}A`)]],
  ['final: the proof padded short', alice(), [auth, rework((w, p) => `${w},p=${p.slice(0, -2)}==`)]],
  ['final: a NUL', alice(), [auth, rework((w, p) => `${w},p=${p}\0`)]],
  ['final: over 2048 bytes', alice(), [auth, rework((w, p) => `${w},${'e=1,'.repeat(520)}p=${p}`)]],
  // its first character changed (a proof that starts with "A" already gets a "B": the same proof would be right)
  ['final: a wrong proof, then the right one', alice(), [auth, rework((w, p) => `${w},p=${p[0] === 'A' ? 'B' : 'A'}${p.slice(1)}`), final]],
  ['the first message again', alice(), [auth, (x) => x.first()]],
  ['after a success: a PLAIN login with a wrong password, an unknown mechanism, a new exchange', alice(),
    [...LOGIN, plain('alice', 'wrong'), { opcode: Op.SASL_AUTH, key: 'DIGEST-MD5' }, { opcode: Op.SASL_AUTH, key: 'CRAM-MD5' }, auth, done]],
  ['after the "v=": a List Mechs, a step with anything', alice(), [auth, final, { opcode: Op.SASL_LIST_MECHS }, { opcode: Op.SASL_STEP, key: 'x', value: 'junk' }]],
  ['a failed exchange, then a Step', alice({ user: 'nobody' }), [auth, done]],
  ['a PLAIN login, then SCRAM', alice(), [plain('alice', 'alice-pw'), ...LOGIN]],
  ['the mechanism in lower case, and with "-PLUS"', alice({ mech: 'scram-sha-256-plus' }), LOGIN],
];

let servers: Server[] = [];
before(async () => {
  if (skip) return;
  cyrus.saslpasswd2('alice', 'alice-pw', null);
  cyrus.saslpasswd2('bob', 'bob-pw', 'other.example');
  cyrus.saslpasswd2('al', 'al-pw', REALM);
  cyrus.saslpasswd2('c,d=e', 'cd-pw', REALM);
  cyrus.saslpasswd2('gone', 'gone-pw', REALM);
  cyrus.saslpasswd2('gone', null, REALM);
  const mechs = `${Object.keys(DIGESTS).join(' ')} plain cram-md5`;
  servers = await startBoth(cyrus.confDir('scram', `mech_list: ${mechs}\nsasldb_path: ${cyrus.sasldb}\nscram_iteration_counter: ${ITERATIONS}\n`), ['-v']);
});
after(async () => { for (const s of servers) await s.stop(); });

test('scram: exchanges answer alike on memcached and Cachalot, message by message', { skip }, async () => {
  const run = async (port: number): Promise<string[]> => {
    const out: string[] = [];
    for (const [name, x, steps] of CASES) out.push(`${name}: ${await exchange(port, x.fresh(), steps)}`);
    return out;
  };
  const [theirs, ours] = await Promise.all(servers.map((s) => run(s.port)));
  assert.deepEqual(ours, theirs);
  const ok = `0x21 r=<client nonce>+32,s=<32 bytes>,i=${ITERATIONS} / 0x21 v=<right> / 0x0 Authenticated`;
  assert.equal(ours[2], `SCRAM-SHA-256: alice: ${ok}`);
  assert.equal(ours[0], `SCRAM-SHA-1: alice: ${ok.replace('<32 bytes>', '<20 bytes>')}`);
  assert.match(ours[6], /^wrong password: 0x21 r=.* \/ 0x20 Auth failure\. \/ 0x20 Auth failure\.$/);
  // after the "v=", whatever the client sends succeeds (Cyrus's sent_last), the wrong PLAIN password included
  assert.match(ours.find((l) => l.startsWith('after a success'))!, /v=<right> \/ 0x0 Authenticated \/ 0x0 Authenticated \/ 0x20 Auth failure\. \/ 0x0 Authenticated \/ 0x0 Authenticated \/ 0x0 Authenticated$/);
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * What replaces `was`: `pick`, unless both are base64 characters whose two high bits agree. The final message's
 * nonce and proof are random and differ between the two servers' runs, so a pick that left the decoded bytes as
 * they were (the same character; in a proof's last character, one that differs only in the bits the padding
 * drops) would leave one server's message right and the other's wrong. Such a pick gets its high bit flipped.
 */
function replacement(was: string, pick: string): string {
  const a = B64.indexOf(was), b = B64.indexOf(pick);
  return a >= 0 && b >= 0 && a >> 4 === b >> 4 ? B64[b ^ 32] : pick;
}

/** A message with a few bytes changed, dropped or added, where `rand` says: the same edits for both servers. */
function mutate(msg: string, rand: () => number): string {
  const chars = [...msg];
  const pick = (): string => String.fromCharCode([0x2c, 0x3d, 0x00, 0x20, 0x41 + Math.floor(rand() * 58)][Math.floor(rand() * 5)]);
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const at = Math.floor(rand() * (chars.length + 1));
    const op = Math.floor(rand() * 3);
    if (op === 0) chars[at] = at < chars.length ? replacement(chars[at], pick()) : pick();
    else if (op === 1) chars.splice(at, 1);
    else chars.splice(at, 0, pick());
  }
  return chars.join('');
}

test('scram: mangled messages, first and final, get the same answers from both, and leave the server serving', { skip }, async () => {
  const seed = Date.now() % 100_000;
  const runs = async (port: number): Promise<string[]> => {
    const rand = mulberry32(seed);
    const out: string[] = [];
    for (let i = 0; i < 150; i++) {
      const x = alice({ mech: Object.keys(DIGESTS)[i % 5] });
      const inFirst = rand() < 0.4;
      const steps: Step[] = inFirst
        ? [(c) => ({ ...c.auth(), value: mutate(c.gs2 + c.bare, rand) }), final, done]
        : [auth, rework((w, p) => mutate(`${w},p=${p}`, rand)), done];
      out.push(`${i}: ${await exchange(port, x, steps)}`);
    }
    const c = await Client.connect(port);
    try { out.push(`then: ${(await call(c, { opcode: Op.VERSION })).value}`); } finally { c.end(); }
    return out;
  };
  const [theirs, ours] = [await runs(servers[0].port), await runs(servers[1].port)];
  assert.deepEqual(ours, theirs, `seed ${seed}`);
  assert.equal(ours.at(-1), 'then: 1.6.18');
});

test('scram: a user\'s salt stays the same from login to login, and differs between users', { skip }, async () => {
  const salt = async (port: number, user: string): Promise<string> => {
    const x = alice({ user });
    await exchange(port, x, [auth]);
    return x.serverFirst.split(',')[1];
  };
  for (const s of servers) {
    const [a1, a2, b] = [await salt(s.port, 'alice'), await salt(s.port, 'alice'), await salt(s.port, 'bob@other.example')];
    assert.equal(a1, a2, s.kind);
    assert.notEqual(a1, b, s.kind);
  }
});

test('scram: -v prints the same lines: Cyrus\'s words for each refusal, the result codes', { skip }, async () => {
  // the exchanges of the first test ran on these servers; once they have stopped their lines are all written
  for (const s of servers) await s.stop();
  for (const s of servers) for (let n = -1; n !== saslLines(s).length; await sleep(20)) n = saslLines(s).length;
  const [theirs, ours] = servers.map(saslLines);
  assert.deepEqual(ours, theirs);
  for (const line of ['SASL (severity 2): StoredKey mismatch', 'SASL (severity 2): unable to canonify user and get auxprops',
    'SASL (severity 2): Nonce mismatch SCRAM-SHA-256 input', 'sasl result code:  1', 'sasl result code:  -13']) {
    assert.ok(ours.includes(line), line);
  }
});

test('scram: an exchange logs in (set, get), and auth_cmds and auth_errors count the steps that end, not the "continue"s', { skip }, async () => {
  const pair = await startBoth(cyrus.confDir('scram-counts', `mech_list: scram-sha-1\nsasldb_path: ${cyrus.sasldb}\n`));
  const counts = async (port: number): Promise<string[]> => {
    const c = await Client.connect(port);
    try {
      const stats = (): Promise<number[]> => authCounts(c);
      const x = alice({ mech: 'SCRAM-SHA-1' });
      const r = await call(c, x.auth());
      x.serverFirst = r.value.toString('latin1');
      await call(c, x.final());
      const ok = await call(c, x.done());
      const set = await call(c, { opcode: Op.SET, key: 'scram', extras: setExtras(0, 0), value: 'v' });
      const get = await call(c, { opcode: Op.GET, key: 'scram' });
      const before = await stats();
      await exchange(port, alice({ mech: 'SCRAM-SHA-1', pass: 'no' }), LOGIN);
      await exchange(port, alice({ mech: 'SCRAM-SHA-1', user: 'nobody' }), LOGIN);
      await exchange(port, alice({ mech: 'SCRAM-SHA-1' }), LOGIN);
      const now = await stats();
      return [`0x${ok.status.toString(16)} ${ok.value}`, `set 0x${set.status.toString(16)}, get ${get.value}`,
        `auth_cmds +${now[0] - before[0]}`, `auth_errors +${now[1] - before[1]}`];
    } finally { c.end(); }
  };
  try {
    const [theirs, ours] = await Promise.all(pair.map((s) => counts(s.port)));
    assert.deepEqual(ours, theirs);
    // a wrong password: the proof and the Step after it; nobody: the Auth and the two Steps after it (no exchange
    // started); alice: the last, empty Step alone
    assert.deepEqual(ours, ['0x0 Authenticated', 'set 0x0, get v', 'auth_cmds +6', 'auth_errors +5']);
  } finally { for (const s of pair) await s.stop(); }
});

// Where the password comes from, as for CRAM-MD5: auxprop's sasldb, whatever pwcheck_method says (it decides
// PLAIN only); an auxprop_plugin list that leaves the sasldb out leaves SCRAM nothing to check against.
const SOURCES = ['pwcheck_method: saslauthd', 'auxprop_plugin: sql', 'auxprop_plugin: ldapdb sasldb'];

test('scram: pwcheck_method does not matter, an auxprop_plugin without the sasldb fails every login, alike on both', { skip }, async () => {
  const got: string[] = [];
  for (const [i, conf] of SOURCES.entries()) {
    const pair = await startBoth(cyrus.confDir(`scram-source${i}`, `mech_list: scram-sha-256\n${conf}\nsasldb_path: ${cyrus.sasldb}\n`), ['-v']);
    try {
      const [theirs, ours] = await Promise.all(pair.map((s) => exchange(s.port, alice(), LOGIN)));
      assert.equal(ours, theirs, conf);
      got.push(ours);
    } finally { for (const s of pair) await s.stop(); }
    for (const s of pair) for (let n = -1; n !== saslLines(s).length; await sleep(20)) n = saslLines(s).length;
    assert.deepEqual(saslLines(pair[1]), saslLines(pair[0]), conf);
  }
  assert.deepEqual(got.map((l) => l.endsWith('0x0 Authenticated')), [true, false, true]);
});

test('scram: pylibmc picks SCRAM-SHA-512 from both when the config names no mechanisms, and logs in; a wrong password is refused', { skip: skip || noPylibmc }, async () => {
  const pair = await startBoth(cyrus.confDir('scram-pylibmc', `sasldb_path: ${cyrus.sasldb}\n`), ['-v']);
  try {
    for (const s of pair) {
      const run = (user: string, pass: string): string => pylibmcLogin(s.port, user, pass);
      assert.equal(run('alice', 'alice-pw'), 'True v', s.kind);
      assert.equal(run('bob@other.example', 'bob-pw'), 'True v', s.kind);
      assert.equal(run('alice', 'wrong'), 'Error True', s.kind);
    }
    const mechs = (s: Server): string[] => [...s.stderr().matchAll(/mech: {2}``([^']*)''/g)].map((m) => m[1]);
    for (let i = 0; i < 500 && !pair.every((s) => mechs(s).length >= 8); i++) await sleep(10);
    for (const s of pair) assert.deepEqual(new Set(mechs(s)), new Set(['SCRAM-SHA-512']), s.kind);
  } finally { for (const s of pair) await s.stop(); }
});
