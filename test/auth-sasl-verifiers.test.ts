// -S's PLAIN and LOGIN through Cyrus's password verifiers (pwcheck_method), side by side with Debian's memcached: saslauthd
// and Courier's authdaemond (here stand-ins on unix sockets that speak their protocols and say yes to the users
// they know, and misbehave for some), auxprop (the sasldb), in either order, one Debian's Cyrus lacks, and
// daemons that are not there. Both servers must send the daemons the same requests, give the same answers and
// print the same -v lines.
// Skipped without saslpasswd2 (Debian's sasl2-bin) or memcached.

import assert from 'node:assert/strict';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from './support/client.ts';
import { sleep } from './support/server.ts';
import { CyrusDir, KINDS, REALM, call, cyrusSkip as skip, saslLines, startBoth } from './support/cyrus.ts';
import { setExtras, type BinRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

const cyrus = new CyrusDir();
after(() => cyrus.remove());

/** What the stand-in says yes to ("user@realm password"), and the users it answers wrongly on purpose. */
const KNOWN = new Set([`alice@${REALM} alice-pw`, 'bob@other.example bob-pw', `carol@${REALM} carol-pw`]);
const MISBEHAVING: Record<string, (s: Socket) => void> = {
  short: (s) => s.end(Buffer.from([0, 1, 0x4f])), // a count under 2: "bad response from saslauthd"
  cut: (s) => s.end(Buffer.from([0, 10, 0x4f, 0x4b])), // fewer bytes than counted: "read failed"
  mute: (s) => s.end(), // no answer at all: "size read failed"
  long: (s) => s.end(Buffer.concat([Buffer.from([0x07, 0xd0]), Buffer.from('OK'), Buffer.alloc(1998, 0x20)])), // cut to 1023
};

/** The requests the stand-ins got: saslauthd's as "user|password|service|realm", authdaemond's as sent. */
const requests: string[] = [];

/** authdaemond's side: "AUTH <length>" and five lines in, key=value lines and "." (or "FAIL") out, then the end. */
function authdaemondStandIn(path: string): Promise<NetServer> {
  const answers: Record<string, string> = {
    [`alice@${REALM} alice-pw`]: 'USERNAME=alice\nGID=100\n.\n', [`carol@${REALM} carol-pw`]: '.\n',
  };
  const server = createServer((s) => {
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (!got.endsWith('\n\n')) return;
      requests.push(got);
      const [, , , user, pass] = got.split('\n');
      const name = user.split('@')[0];
      if (name === 'mute') { s.end(); return; }
      const answer = name === 'short' ? 'WHAT\n' : name === 'long' ? `${'x\n'.repeat(4096)}.\n` : answers[`${user} ${pass}`] ?? 'FAIL\n';
      s.end(answer);
    });
    s.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

function readCounted(b: Buffer, at: number): [string, number] | null {
  if (b.length < at + 2) return null;
  const n = b.readUInt16BE(at);
  return b.length < at + 2 + n ? null : [b.subarray(at + 2, at + 2 + n).toString('latin1'), at + 2 + n];
}

/** saslauthd's side: four counted strings in, one counted answer out. */
function standIn(path: string): Promise<NetServer> {
  const server = createServer((s) => {
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const parts: string[] = [];
      let at = 0;
      for (let i = 0; i < 4; i++) {
        const r = readCounted(got, at);
        if (r === null) return;
        parts.push(r[0]);
        at = r[1];
      }
      requests.push(parts.join('|'));
      const [user, pass, , realm] = parts;
      if (MISBEHAVING[user] !== undefined) { MISBEHAVING[user](s); return; }
      const answer = Buffer.from(KNOWN.has(`${user}@${realm} ${pass}`) ? 'OK' : 'NO authentication failed');
      s.end(Buffer.concat([Buffer.from([answer.length >> 8, answer.length & 0xff]), answer]));
    });
    s.on('error', () => {});
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

const MUX = join(cyrus.dir, 'mux');
const AUTHDAEMOND = join(cyrus.dir, 'authdaemond');
let daemons: NetServer[] = [];
before(async () => {
  if (skip) return;
  cyrus.saslpasswd2('alice', 'alice-pw', null);
  cyrus.saslpasswd2('dave', 'dave-pw', null); // in the sasldb, unknown to the daemons
  daemons = [await standIn(MUX), await authdaemondStandIn(AUTHDAEMOND)];
});
after(() => { for (const d of daemons) d.close(); });

const plain = (authcid: string, pass: string, authzid = ''): BinRequest =>
  ({ opcode: Op.SASL_AUTH, key: 'PLAIN', value: `${authzid}\0${authcid}\0${pass}` });

const LOGINS: BinRequest[] = [
  plain('alice', 'alice-pw'), plain('alice', 'wrong'), plain('bob@other.example', 'bob-pw'), plain('carol', 'carol-pw'),
  plain('dave', 'dave-pw'), plain('nobody', 'x'), plain(' alice ', 'alice-pw'), plain('alice', 'alice-pw', 'bob@other.example'),
  plain('short', 'x'), plain('cut', 'x'), plain('mute', 'x'), plain('long', 'x'), plain('alice', 'p'.repeat(8200)),
];

const CONFIGS: Array<[string, string]> = [
  ['saslauthd', `pwcheck_method: saslauthd\nsaslauthd_path: ${MUX}`],
  ['saslauthd, not running', `pwcheck_method: saslauthd\nsaslauthd_path: ${join(cyrus.dir, 'nothing-here')}`],
  ['saslauthd not running, then auxprop', `pwcheck_method: saslauthd auxprop\nsaslauthd_path: ${join(cyrus.dir, 'nothing-here')}`],
  ['auxprop, then saslauthd', `pwcheck_method: AUXPROP saslauthd\nsaslauthd_path: ${MUX}`],
  ['a saslauthd_path too long for a unix socket', `pwcheck_method: saslauthd\nsaslauthd_path: /${'x'.repeat(120)}`],
  ['authdaemond', `pwcheck_method: authdaemond\nauthdaemond_path: ${AUTHDAEMOND}`],
  ['authdaemond at Debian\'s default path, /dev/null', 'pwcheck_method: AuthDaemonD'],
  ['authdaemond, then saslauthd', `pwcheck_method: authdaemond saslauthd\nauthdaemond_path: ${AUTHDAEMOND}\nsaslauthd_path: ${MUX}`],
  ['an authdaemond_path too long for a unix socket', `pwcheck_method: authdaemond\nauthdaemond_path: /${'x'.repeat(120)}`],
  ['a verifier Debian\'s Cyrus lacks', 'pwcheck_method: pwcheck'],
  ['a verifier it lacks, then auxprop', 'pwcheck_method: pwcheck auxprop'],
  ['no auxprop plugin for the sasldb', 'auxprop_plugin: sql'],
];

/** Each login on a connection of its own: its status, and whether a set works after a success. */
async function answers(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const req of LOGINS) {
    const c = await Client.connect(port);
    try {
      const r = await call(c, req);
      const set = r.status === 0 ? ` / set 0x${(await call(c, { opcode: Op.SET, key: 'k', extras: setExtras(0, 0), value: 'v' })).status.toString(16)}` : '';
      out.push(`0x${r.status.toString(16)}${set}`);
    } finally { c.end(); }
  }
  return out;
}

test('verifiers: PLAIN through pwcheck_method\'s verifiers answers alike, asks the daemons alike, and logs alike', { skip }, async () => {
  for (const [i, [name, conf]] of CONFIGS.entries()) {
    const pair = await startBoth(cyrus.confDir(`verifiers${i}`, `mech_list: plain\n${conf}\nsasldb_path: ${cyrus.sasldb}\n`), ['-v']);
    const seen: string[][] = [];
    const got: string[][] = [];
    try {
      for (const s of pair) { // one server at a time, so that the stand-in's requests come in order
        requests.length = 0;
        got.push(await answers(s.port));
        seen.push([...requests]);
      }
    } finally { for (const s of pair) await s.stop(); }
    for (const s of pair) for (let n = -1; n !== saslLines(s).length; await sleep(20)) n = saslLines(s).length;
    assert.deepEqual(got[1], got[0], `${name}: answers`);
    assert.deepEqual(seen[1], seen[0], `${name}: the daemons' requests`);
    assert.deepEqual(saslLines(pair[1]), saslLines(pair[0]), `${name}: -v lines (${KINDS.join(', ')})`);
    if (i === 0) {
      assert.deepEqual(got[1], ['0x0 / set 0x0', '0x20', '0x0 / set 0x0', '0x0 / set 0x0', '0x20', '0x20', '0x0 / set 0x0', '0x20',
        '0x20', '0x20', '0x20', '0x0 / set 0x0', '0x20']);
      assert.equal(seen[1][0], `alice|alice-pw|memcached|${REALM}`, 'the canonical user, split at its "@"');
    }
    if (i === 3) assert.deepEqual(got[1].slice(3, 5), ['0x0 / set 0x0', '0x0 / set 0x0'], 'carol through saslauthd, dave through the sasldb');
    if (name === 'authdaemond') {
      assert.deepEqual(got[1].slice(0, 4), ['0x0 / set 0x0', '0x20', '0x20', '0x0 / set 0x0']);
      const body = `memcached\nlogin\nalice@${REALM}\nalice-pw\n`; // the canonical user, whole
      assert.equal(seen[1][0], `AUTH ${body.length}\n${body}\n`);
    }
  }
});

// ---- LOGIN: "Username:", "Password:", then sasl_checkpass as PLAIN's ----

const login = (value?: string): BinRequest => ({ opcode: Op.SASL_AUTH, key: 'LOGIN', ...(value === undefined ? {} : { value }) });
const step = (value: string): BinRequest => ({ opcode: Op.SASL_STEP, key: 'LOGIN', value });

const LOGIN_EXCHANGES: Array<[string, BinRequest[]]> = [
  ['alice', [login(), step('alice'), step('alice-pw')]],
  ['the user with the Auth', [login('alice'), step('alice-pw')]],
  ['a wrong password', [login(), step('alice'), step('wrong')]],
  ['carol, whom saslauthd knows', [login('carol'), step('carol-pw')]],
  ['an unknown user', [login('nobody'), step('x')]],
  ['white space around the user', [login(' alice\t'), step('alice-pw')]],
  ['an empty user', [login(), step(''), step('x')]],
  ['a user of 1024 bytes, and of 1025', [login('u'.repeat(1024)), step('x'), login('u'.repeat(1025)), step('x')]],
  ['a password of 1025 bytes', [login('alice'), step('p'.repeat(1025))]],
  ['a NUL in the user, and in the password', [login('alice\0x'), step('alice-pw'), login('alice'), step('alice-pw\0x')]],
  ['after a success: a step, a new exchange', [login('alice'), step('alice-pw'), step('x'), login(), step('alice'), step('alice-pw')]],
  ['after a failure: a step', [login('alice'), step('wrong'), step('alice-pw')]],
  ['a step without an Auth', [step('alice')]],
  ['the mechanism in lower case', [{ ...login('alice'), key: 'login' }, step('alice-pw')]],
  ['LOGIN, then a PLAIN step', [login('alice'), plain('alice', 'alice-pw')]],
];

test('verifiers: LOGIN exchanges answer alike, question by question, and log alike', { skip }, async () => {
  const conf = `mech_list: login plain\npwcheck_method: auxprop saslauthd\nsaslauthd_path: ${MUX}\nsasldb_path: ${cyrus.sasldb}\n`;
  const pair = await startBoth(cyrus.confDir('login', conf), ['-v']);
  const run = async (port: number): Promise<string[]> => {
    const out: string[] = [];
    for (const [name, reqs] of LOGIN_EXCHANGES) {
      const c = await Client.connect(port);
      try {
        const line: string[] = [];
        for (const r of reqs) {
          const res = await call(c, r);
          line.push(`0x${res.status.toString(16)} ${res.value.toString('latin1')}`.trimEnd());
        }
        out.push(`${name}: ${line.join(' / ')}`);
      } finally { c.end(); }
    }
    return out;
  };
  try {
    const theirs = await run(pair[0].port);
    const ours = await run(pair[1].port);
    assert.deepEqual(ours, theirs);
    assert.equal(ours[0], 'alice: 0x21 Username: / 0x21 Password: / 0x0 Authenticated');
    assert.equal(ours[3], 'carol, whom saslauthd knows: 0x21 Password: / 0x0 Authenticated');
  } finally { for (const s of pair) await s.stop(); }
  for (const s of pair) for (let n = -1; n !== saslLines(s).length; await sleep(20)) n = saslLines(s).length;
  assert.deepEqual(saslLines(pair[1]), saslLines(pair[0]));
});
