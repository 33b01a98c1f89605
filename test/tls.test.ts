// TLS (-Z): memcached's listeners, certificates, verification modes, `refresh_certs`, its settings and
// counters, and its start-up errors. Each case runs against memcached -Z too where it is installed
// (Debian's is built with TLS), and the two must agree; the certificates are test/fixtures/tls.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants as cryptoConstants } from 'node:crypto';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { Client } from './support/client.ts';
import { commandFor, freePort, REPO_ROOT, runToExit, sleep, type ServerKind } from './support/server.ts';
import { kindsFor, serversOfFile } from './support/spec.ts';
import { mulberry32 } from './support/rng.ts';
import { BINARY_NOOP_SENTINEL, firstDifference, maskMetaTimes, maskReply, MN_SENTINEL, pipelined, runScript } from './support/differential.ts';
import { binRequest, setExtras } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'tls');
const file = (name: string): string => join(FIXTURES, name);
const CERT = file('server-cert.pem'), KEY = file('server-key.pem');
const TLS_ARGS = ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY}`];
const CLIENT_CERT = { cert: readFileSync(file('client-cert.pem')), key: readFileSync(file('client-key.pem')) };
const STRANGER_CERT = { cert: readFileSync(file('other-cert.pem')), key: readFileSync(file('other-key.pem')) };
const KINDS = kindsFor();

const start = serversOfFile();

/** What each server answered, by kind; the answers must agree where memcached runs. */
async function acrossKinds<T>(run: (kind: ServerKind) => Promise<T>): Promise<T> {
  const answers = new Map<ServerKind, T>();
  for (const kind of KINDS) answers.set(kind, await run(kind));
  const ours = answers.get('cachalot') as T;
  if (answers.has('memcached')) assert.deepEqual(ours, answers.get('memcached'), 'cachalot and memcached differ');
  return ours;
}

/** Send, then read up to and including `until`, over a fresh TLS connection. */
async function overTls(port: number, send: string | Buffer, until: string | Buffer, options: ConnectionOptions = {}): Promise<string> {
  const c = await Client.connectTls(port, options);
  try {
    await c.send(send);
    return (await c.readUntil(until)).toString('latin1');
  } finally {
    c.end();
  }
}

/** Whether a TLS client with these options gets an answer to `version`, or is refused (handshake or hang-up). */
async function versionOverTls(port: number, options: ConnectionOptions): Promise<'answered' | 'refused'> {
  try {
    const reply = await overTls(port, 'version\r\n', '\r\n', options);
    return reply.startsWith('VERSION ') ? 'answered' : 'refused';
  } catch {
    return 'refused';
  }
}

/** The peer certificate's OU: which of the fixture certificates the server presented. */
async function presentedUnit(port: number): Promise<string> {
  const c = await Client.connectTls(port);
  const cert = (c.socket as import('node:tls').TLSSocket).getPeerCertificate();
  c.end();
  return String(cert.subject.OU);
}

test('text, meta and binary requests over TLS get the bytes they get in the clear', async () => {
  const text = 'set a 5 0 5\r\nhello\r\nget a\r\nmg a v f t\r\nincr n 1\r\nappend a 0 0 1\r\n!\r\ngets a\r\nmn\r\n';
  const bin = Buffer.concat([
    binRequest({ opcode: Op.SET, key: 'b', extras: setExtras(3, 0), value: 'bin', opaque: 1 }),
    binRequest({ opcode: Op.GET, key: 'b', opaque: 2 }),
    binRequest({ opcode: Op.GET, key: 'missing', opaque: 3 }),
    binRequest({ opcode: Op.NOOP, opaque: 4 }),
  ]);
  const noopReply = binRequest({ opcode: Op.NOOP, opaque: 4, magic: 0x81 });
  const answers = await acrossKinds(async (kind) => {
    const s = await start(kind, TLS_ARGS);
    return [await overTls(s.port, text, 'MN\r\n'), await overTls(s.port, bin, noopReply)];
  });
  assert.match(answers[0], /^STORED\r\nVALUE a 5 5\r\nhello\r\nEND\r\nVA 5 f5 t-1\r\nhello\r\nNOT_FOUND\r\nSTORED\r\nVALUE a 5 6 \d+\r\nhello!\r\nEND\r\nMN\r\n$/);
  assert.ok(answers[1].includes('bin'));
});

test('a value of a megabyte goes in and comes back whole over TLS', async () => {
  const s = await start('cachalot', [...TLS_ARGS, '-I', '2m']);
  const value = Buffer.alloc(1024 * 1024, 0);
  for (let i = 0; i < value.length; i++) value[i] = 0x61 + (i * 7 % 26);
  const c = await Client.connectTls(s.port);
  await c.send(Buffer.concat([Buffer.from(`set big 0 0 ${value.length}\r\n`), value, Buffer.from('\r\nget big\r\n')]));
  assert.equal((await c.readLine()), 'STORED');
  assert.equal((await c.readLine()), `VALUE big 0 ${value.length}`);
  assert.ok((await c.read(value.length)).equals(value));
  assert.equal((await c.read(7)).toString(), '\r\nEND\r\n');
  c.end();
});

// memcached sends nothing while a value arrives (conn_nread): a client that hangs up first loses the replies since
// the last flush point, over TLS as in the clear (test/value-awaited.test.ts).
test('a client that hangs up in the middle of a value over TLS gets what it would in the clear', async () => {
  const got = await acrossKinds(async (kind) => {
    const s = await start(kind, TLS_ARGS);
    const c = await Client.connectTls(s.port);
    await c.send('set s 0 0 1\r\nx\r\nget s\r\nversion\r\nmg s v\r\nset p 0 0 100\r\nxx');
    c.endWriting();
    return c.readUntil('\0never sent\0').then(() => 'no hang-up', () => c.pending().toString('latin1'));
  });
  assert.equal(got, 'STORED\r\nVALUE s 0 1\r\nx\r\nEND\r\n');
});

/**
 * Seeded pipelined writes (one to four requests each) of stores, appends and gets, values from none to 70 KB: a value
 * in several TLS records, a record holding the end of one request and the start of the next.
 */
function bulkText(seed: number, n: number): string[] {
  const r = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = (): string => `k${Math.floor(r() * 10)}`;
  const script: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = r() < 0.6 ? Math.floor(r() * 200) : Math.floor(r() * 70_000);
    const v = String.fromCharCode(97 + (i % 26)).repeat(len);
    switch (pick(['set', 'set', 'concat', 'get', 'get', 'mg', 'ms', 'delete'] as const)) {
      case 'set': script.push(`set ${key()} ${i} 0 ${len}${r() < 0.1 ? ' noreply' : ''}\r\n${v}\r\n`); break;
      case 'concat': script.push(`${pick(['append', 'prepend'])} ${key()} 0 0 ${len}\r\n${v}\r\n`); break;
      case 'get': script.push(`${pick(['get', 'gets'])} ${key()} ${key()} ${key()}\r\n`); break;
      case 'mg': script.push(`mg ${key()} v s f k${r() < 0.3 ? ' q' : ''}\r\n`); break;
      case 'ms': script.push(`ms ${key()} ${len} ${pick(['', 'MA', 'MP', 'q'])}\r\n${v}\r\n`); break;
      case 'delete': script.push(`delete ${key()}\r\n`); break;
    }
  }
  return pipelined(script, seed);
}

function bulkBinary(seed: number, n: number): Buffer[] {
  const r = mulberry32(seed);
  const key = (): string => `b${Math.floor(r() * 10)}`;
  const script: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const len = r() < 0.6 ? Math.floor(r() * 200) : Math.floor(r() * 70_000);
    const roll = r();
    if (roll < 0.4) {
      script.push(binRequest({ opcode: r() < 0.3 ? Op.SETQ : Op.SET, key: key(), extras: setExtras(i, 0),
        value: Buffer.alloc(len, 97 + (i % 26)), opaque: i }));
    } else if (roll < 0.5) {
      script.push(binRequest({ opcode: r() < 0.5 ? Op.APPEND : Op.PREPEND, key: key(), value: Buffer.alloc(len, 65), opaque: i }));
    } else {
      script.push(binRequest({ opcode: [Op.GET, Op.GETK, Op.GETQ, Op.GETKQ][Math.floor(r() * 4)], key: key(), opaque: i }));
    }
  }
  return pipelined(script, seed);
}

// memcached cannot be the oracle over TLS here: 1.6.18 leaves a request that follows a value of 16 KB or more in the
// same write unanswered until the client sends more (its read buffer is empty while OpenSSL holds the bytes). Its
// answers in the clear are what a TLS connection must get (the bytes are the same), so Cachalot over TLS is compared
// with memcached in the clear.
for (const [name, script, sentinel] of [
  ['text and meta', bulkText(7, 300), MN_SENTINEL], ['binary', bulkBinary(7, 300), BINARY_NOOP_SENTINEL],
] as const) {
  test(`pipelined ${name} requests with values to 70 KB get over TLS what memcached sends in the clear (seeded)`, {
    skip: KINDS.includes('memcached') ? false : 'memcached is not installed',
  }, async () => {
    const ours = await runScript((await start('cachalot', TLS_ARGS)).port, script, sentinel, false, true);
    const theirs = await runScript((await start('memcached', [])).port, script, sentinel);
    const mask = (r: Buffer): Buffer => maskMetaTimes(maskReply(r));
    const diff = firstDifference(script, ours.map(mask), theirs.map(mask), ['cachalot over TLS', 'memcached in the clear']);
    if (diff !== null) assert.fail(diff);
    assert.equal(ours.length, script.length);
  });
}

test('a request behind a value of 16 KB or more in the same TLS write is answered at once', async () => {
  const s = await start('cachalot', TLS_ARGS);
  for (const n of [16_383, 16_384, 20_000, 70_000]) {
    const c = await Client.connectTls(s.port);
    await c.send(`set a 0 0 ${n}\r\n${'x'.repeat(n)}\r\nmn\r\nms b ${n}\r\n${'y'.repeat(n)}\r\nmn\r\n`);
    assert.equal((await c.readUntil('MN\r\nHD\r\nMN\r\n')).toString(), 'STORED\r\nMN\r\nHD\r\nMN\r\n', `${n} bytes`);
    c.end();
  }
});

// A client's close_notify (or FIN) ends its input, not the connection: what it sent before still runs, over several
// -R turns, and is answered, as memcached works off its buffer before it reads the end (and as a plain connection
// does here). Node's TLS socket would otherwise end itself at once and drop the rest.
test('a TLS client that ends its side after a pipeline gets every reply, and its noreply stores before a close are kept', async () => {
  const counts = await acrossKinds(async (kind) => {
    const s = await start(kind, TLS_ARGS);
    const c = await Client.connectTls(s.port);
    await c.send(`set k 0 0 5\r\nvalue\r\n${'get k\r\n'.repeat(300)}`);
    c.endWriting();
    const replies = await c.readUntil('\0never sent\0').then(() => 'no hang-up', () => c.pending().toString('latin1'));
    const stores = await Client.connectTls(s.port);
    await stores.send(Array.from({ length: 300 }, (_, i) => `set n${i} 0 0 1 noreply\r\nx\r\n`).join(''));
    stores.destroy();
    const check = await Client.connectTls(s.port);
    // the stores' connection is gone; its commands were read before its end, so they have run once a get of the
    // last finds it (each server works off a connection's input before it reads past it)
    let last = '';
    for (let i = 0; i < 100 && !last.includes('VALUE'); i++) {
      await check.send('get n299\r\n');
      last = (await check.readUntil('END\r\n')).toString('latin1');
      if (!last.includes('VALUE')) await sleep(20);
    }
    const stats = await check.stats();
    check.end();
    return { values: (replies.match(/VALUE k 0 5\r\nvalue\r\nEND\r\n/g) ?? []).length, stored: replies.startsWith('STORED\r\n'),
      items: stats.get('curr_items') };
  });
  assert.deepEqual(counts, { values: 300, stored: true, items: '301' });
});

test('stats settings shows the TLS settings as given; stats shows the TLS counters where memcached does', async () => {
  const args = ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY},ssl_verify_mode=1,ssl_ca_cert=${file('ca.pem')}`,
    '-o', 'ssl_wbuf_size=32,ssl_session_cache,ssl_min_version=3,ssl_ciphers=ECDHE-RSA-AES128-GCM-SHA256'];
  const seen = await acrossKinds(async (kind) => {
    const s = await start(kind, args);
    const c = await Client.connectTls(s.port);
    const settings = [...(await c.stats('settings'))].filter(([name]) => name.startsWith('ssl_'));
    const names = [...(await c.stats()).keys()];
    c.end();
    return { settings, around: names.slice(names.indexOf('log_watchers'), names.indexOf('round_robin_fallback') + 1) };
  });
  assert.deepEqual(seen.settings, [
    ['ssl_enabled', 'yes'], ['ssl_chain_cert', CERT], ['ssl_key', KEY], ['ssl_verify_mode', '1'], ['ssl_keyformat', '1'],
    ['ssl_ciphers', 'ECDHE-RSA-AES128-GCM-SHA256'], ['ssl_ca_cert', file('ca.pem')], ['ssl_wbuf_size', '32768'],
    ['ssl_session_cache', 'yes'], ['ssl_kernel_tls', 'no'], ['ssl_min_version', 'tlsv1.3'],
  ]);
  assert.deepEqual(seen.around, ['log_watchers', 'ssl_new_sessions', 'ssl_handshake_errors', 'time_since_server_cert_refresh',
    'unexpected_napi_ids', 'round_robin_fallback']);
});

test('a plain client on a TLS port gets no answer and is hung up on; TLS clients go on', async () => {
  for (const kind of KINDS) {
    const s = await start(kind, TLS_ARGS);
    const keeper = await Client.connectTls(s.port);
    await keeper.send('set k 0 0 1\r\nv\r\n');
    assert.equal(await keeper.readLine(), 'STORED');
    const plain = await Client.connect(s.port);
    await plain.send('version\r\nget k\r\n');
    await plain.closed();
    assert.equal(await overTls(s.port, 'get k\r\n', 'END\r\n'), 'VALUE k 0 1\r\nv\r\nEND\r\n', kind);
    await keeper.send('version\r\n');
    assert.match(await keeper.readLine(), /^VERSION /, kind);
    if (kind === 'cachalot') {
      // memcached counts only a handshake that fails in its first, non-blocking SSL_accept; we count every one
      assert.equal((await keeper.stats()).get('ssl_handshake_errors'), '1');
    }
    keeper.end();
  }
});

test('a notls: listener speaks in the clear beside the TLS one', async () => {
  await acrossKinds(async (kind) => {
    const plainPort = await freePort();
    const s = await start(kind, [...TLS_ARGS, '-l', `notls:127.0.0.1:${plainPort}`]);
    const plain = await Client.connect(plainPort);
    await plain.send('set p 0 0 2\r\nok\r\n');
    const stored = await plain.readLine();
    plain.end();
    return [stored, await overTls(s.port, 'get p\r\n', 'END\r\n')];
  }).then((answers) => assert.deepEqual(answers, ['STORED', 'VALUE p 0 2\r\nok\r\nEND\r\n']));
});

test('refresh_certs: new connections get the new certificate; a failed refresh says why and changes nothing', async () => {
  await acrossKinds(async (kind) => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-refresh-'));
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    copyFileSync(CERT, cert);
    copyFileSync(KEY, key);
    try {
      const s = await start(kind, ['-t', '2', '-Z', '-o', `ssl_chain_cert=${cert},ssl_key=${key}`]);
      const before = await presentedUnit(s.port);
      copyFileSync(file('other-cert.pem'), cert);
      copyFileSync(file('other-key.pem'), key);
      const refreshed = await overTls(s.port, 'refresh_certs\r\n', '\r\n');
      const after = [await presentedUnit(s.port), await presentedUnit(s.port), await presentedUnit(s.port)]; // every worker
      writeFileSync(key, 'not a key\n');
      const failed = (await overTls(s.port, 'refresh_certs\r\n', '\r\n')).replace(dir, '<dir>');
      const still = await presentedUnit(s.port);
      return { before, refreshed, after, failed, still };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }).then((seen) => assert.deepEqual(seen, {
    before: 'first', refreshed: 'OK\r\n', after: ['second', 'second', 'second'],
    failed: 'Error loading the key: <dir>/key.pem : error:1E08010C:DECODER routines::unsupported\r\n', still: 'second',
  }));
});

test('-u: a key only root may read is read before the switch and serves; refresh_certs, as the new user, cannot read it', async () => {
  const root = process.getuid?.() === 0;
  const seen = await acrossKinds(async (kind) => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-user-'));
    const cert = join(dir, 'cert.pem'), key = join(dir, 'key.pem');
    copyFileSync(CERT, cert);
    copyFileSync(KEY, key);
    chmodSync(dir, 0o755);
    chmodSync(key, 0o600);
    const port = await freePort(); // no port file: nobody could not write one in our private directory
    const [cmd, argv] = commandFor(kind, ['-u', 'nobody', '-t', '2', '-p', String(port), '-Z', '-o', `ssl_chain_cert=${cert},ssl_key=${key}`]);
    const env = { ...process.env };
    delete env.MEMCACHED_PORT_FILENAME;
    const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: 'ignore', env });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      let version = '';
      for (let i = 0; i < 250 && version === ''; i++) {
        version = await overTls(port, 'version\r\n', '\r\n').catch(async () => { await sleep(20); return ''; });
      }
      const refresh = (await overTls(port, 'refresh_certs\r\n', '\r\n')).replace(dir, '<dir>');
      return { version, refresh, again: await overTls(port, 'version\r\n', '\r\n') };
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
  assert.deepEqual(seen, {
    version: 'VERSION 1.6.18\r\n', again: 'VERSION 1.6.18\r\n',
    refresh: root ? 'Error loading the key: <dir>/key.pem : error:8000000D:system library::Permission denied\r\n' : 'OK\r\n',
  });
});

test('refresh_certs without -Z: memcached built with TLS says it is not enabled', async () => {
  const answer = await acrossKinds(async (kind) => {
    const s = await start(kind, []);
    const c = await Client.connect(s.port);
    await c.send('refresh_certs\r\nrefresh_certs noreply\r\n');
    const lines = [await c.readLine(), await c.readLine()];
    c.end();
    return lines;
  });
  assert.deepEqual(answer, ['Error TLS not enabled', 'Error TLS not enabled']);
});

test('ssl_verify_mode: 2 wants a client certificate from ssl_ca_cert; 1 takes none, but not a stranger', async () => {
  const verify = (mode: number): string[] => ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY},ssl_ca_cert=${file('ca.pem')},ssl_verify_mode=${mode}`];
  const seen = await acrossKinds(async (kind) => {
    const required = await start(kind, verify(2));
    const requested = await start(kind, verify(1));
    return {
      required: [await versionOverTls(required.port, CLIENT_CERT), await versionOverTls(required.port, {}),
        await versionOverTls(required.port, STRANGER_CERT)],
      requested: [await versionOverTls(requested.port, CLIENT_CERT), await versionOverTls(requested.port, {}),
        await versionOverTls(requested.port, STRANGER_CERT)],
    };
  });
  assert.deepEqual(seen, { required: ['answered', 'refused', 'refused'], requested: ['answered', 'answered', 'refused'] });
});

test('ssl_min_version=3 refuses a client that stops at TLS 1.2', async () => {
  const seen = await acrossKinds(async (kind) => {
    const s = await start(kind, [...TLS_ARGS, '-o', 'ssl_min_version=3']);
    return [await versionOverTls(s.port, { maxVersion: 'TLSv1.2' }), await versionOverTls(s.port, {})];
  });
  assert.deepEqual(seen, ['refused', 'answered']);
});

test('ssl_keyformat=2 reads a DER private key', async () => {
  const s = await start('cachalot', ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${file('server-key.der')},ssl_keyformat=2`]);
  assert.equal(await versionOverTls(s.port, {}), 'answered');
});

test('bad input over TLS gets memcached\'s answer, and other clients and stored data are untouched', async () => {
  const s = await start('cachalot', TLS_ARGS);
  const other = await Client.connectTls(s.port);
  await other.send('set keep 0 0 4\r\ndata\r\n');
  assert.equal(await other.readLine(), 'STORED');
  assert.equal(await overTls(s.port, 'bogus\r\nset x 0 0 z\r\n', 'CLIENT_ERROR bad command line format\r\n'),
    'ERROR\r\nCLIENT_ERROR bad command line format\r\n');
  const flooder = await Client.connectTls(s.port);
  await flooder.send('x'.repeat(3000)); // no newline in 2048 bytes: memcached hangs up
  await flooder.closed();
  await other.send('get keep\r\n');
  assert.equal((await other.readUntil('END\r\n')).toString(), 'VALUE keep 0 4\r\ndata\r\nEND\r\n');
  other.end();
});

/** Start with these flags and expect an exit: its code and memcached's line on stderr. */
function startFails(kind: ServerKind, args: string[]): { code: number | null; said: string } {
  const r = runToExit(kind, args);
  // memcached also prints OpenSSL's error queue (with addresses); its own line is the one to compare
  const said = r.stderr.split('\n').filter((l) => !/^[0-9A-F]{16}:error:/.test(l)).join('\n').trim();
  return { code: r.status, said };
}

const START_FAILURES: Array<[string, string[]]> = [
  ['no certificate', ['-Z']],
  ['no key', ['-Z', '-o', `ssl_chain_cert=${CERT}`]],
  ['a certificate file that is not there', ['-Z', '-o', `ssl_chain_cert=${file('nope.pem')},ssl_key=${KEY}`]],
  ['a certificate file with no certificate', ['-Z', '-o', `ssl_chain_cert=${KEY},ssl_key=${KEY}`]],
  ['a key of another certificate', ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${file('other-key.pem')}`]],
  ['a key format OpenSSL does not know', ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY},ssl_keyformat=3`]],
  ['a PEM key read as DER', ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY},ssl_keyformat=2`]],
  ['a CA file with no certificate', ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY},ssl_ca_cert=${KEY}`]],
  ['an unknown cipher', ['-Z', '-o', `ssl_chain_cert=${CERT},ssl_key=${KEY},ssl_ciphers=BOGUS`]],
  ['no TCP port', [...TLS_ARGS, '-p', '0']],
  ['a verify mode out of range', ['-Z', '-o', 'ssl_verify_mode=4']],
  ['a minimum version that is not a number', ['-Z', '-o', 'ssl_min_version=x']],
  ['notls without -Z', ['-l', 'notls:127.0.0.1:1']],
  ['a listener port that is not a number', ['-l', '127.0.0.1:abc']],
  ['an unclosed IPv6 address', ['-l', '[::1']],
  ['a listener tag too long', ['-l', 'tag[abcdefghi]:127.0.0.1']],
  ['a listener host name that does not resolve', ['-l', 'nosuchhost.invalid']],
];

for (const [name, args] of START_FAILURES) {
  test(`start-up refused as memcached refuses it: ${name}`, async () => {
    const seen = await acrossKinds(async (kind) => startFails(kind, args));
    assert.notEqual(seen.code, 0);
    assert.notEqual(seen.said, '');
  });
}

test('-l entries: host:port, [IPv6]:port and proto[...]: as memcached reads them', async () => {
  const seen = await acrossKinds(async (kind) => {
    const [own, v6, ascii] = [await freePort(), await freePort(), await freePort()];
    await start(kind, ['-l', `127.0.0.1:${own}`, '-l', `[::1]:${v6}`, '-l', `proto[ascii]:127.0.0.1:${ascii}`]);
    const ask = async (target: { port: number; host?: string }, send: string | Buffer, until: string): Promise<string> => {
      const c = target.host === undefined ? await Client.connect(target.port) : await Client.connectTo(target.host, target.port);
      await c.send(send);
      const reply = (await c.readUntil(until)).toString('latin1');
      c.end();
      return reply;
    };
    return [
      await ask({ port: own }, 'version\r\n', '\r\n'),
      await ask({ port: v6, host: '::1' }, 'version\r\n', '\r\n'),
      // a binary request on an ascii listener is read as a text line
      await ask({ port: ascii }, Buffer.concat([binRequest({ opcode: Op.VERSION }), Buffer.from('\r\n')]), '\r\n'),
    ];
  });
  assert.deepEqual(seen.slice(0, 2), ['VERSION 1.6.18\r\n', 'VERSION 1.6.18\r\n']);
  assert.equal(seen[2], 'ERROR\r\n');
});

test('-l with a host name listens on every address the name resolves to, as memcached', async () => {
  const addresses = (await dns.promises.lookup('localhost', { all: true })).map((a) => a.address);
  const seen = await acrossKinds(async (kind) => {
    const port = await freePort();
    await start(kind, ['-l', `localhost:${port}`]);
    const answers: string[] = [];
    for (const host of addresses) {
      const c = await Client.connectTo(host, port);
      await c.send('stats conns\r\n');
      const conns = (await c.readUntil('END\r\n')).toString('latin1');
      c.end();
      const listeners = [...conns.matchAll(/STAT \d+:addr (\S+)\r\nSTAT \d+:state conn_listening/g)];
      const ours = listeners.map((m) => m[1]).filter((addr) => addr.endsWith(`:${port}`)); // not start()'s own listener
      answers.push(`${host}: ${ours.map((addr) => addr.replace(`:${port}`, ':PORT')).sort().join(' ')}`);
    }
    return answers;
  });
  assert.equal(seen.length, addresses.length, 'every address answered');
  for (const line of seen) assert.equal(line.split(' ').length, 1 + addresses.length, `a listener per address: ${line}`);
});

test('-p -1 gives each -l address a free port of its own, as memcached', async () => {
  const seen = await acrossKinds(async (kind) => {
    const s = await start(kind, ['-p', '-1'], { listen: '127.0.0.1,127.0.0.2' });
    const c = await Client.connect(s.port);
    await c.send('stats conns\r\n');
    const conns = (await c.readUntil('END\r\n')).toString('latin1');
    c.end();
    const listeners = [...conns.matchAll(/STAT \d+:addr tcp:(\S+):(\d+)\r\nSTAT \d+:state conn_listening/g)];
    const ports = new Map(listeners.map((m) => [m[1], Number(m[2])]));
    const second = await Client.connectTo('127.0.0.2', ports.get('127.0.0.2') ?? 0); // each answers on its own
    await second.send('version\r\n');
    const version = (await second.readUntil('\r\n')).toString('latin1');
    second.end();
    return { addresses: [...ports.keys()].sort(), distinct: new Set(ports.values()).size, answered: version.startsWith('VERSION ') };
  });
  assert.deepEqual(seen, { addresses: ['127.0.0.1', '127.0.0.2'], distinct: 2, answered: true });
});

test('a listener address in use stops the start with memcached\'s words, for TCP and UDP', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  try {
    const seen = await acrossKinds(async (kind) => [
      startFails(kind, ['-p', String(port), '-l', '127.0.0.1']),
      startFails(kind, ['-p', '0', '-U', String(udp.address().port), '-l', '127.0.0.1']),
    ]);
    assert.deepEqual(seen.map((s) => s.code), [71, 71]);
    assert.equal(seen[0].said, 'failed to listen on one of interface(s) 127.0.0.1: Address already in use');
  } finally {
    taken.close();
    udp.close();
  }
});

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Poll `stats conns` over c until some connection is in `state`. */
async function untilState(c: Client, state: string): Promise<string> {
  let states = '';
  for (let i = 0; i < 250 && !states.includes(`:state ${state}\r`); i++) {
    await new Promise((r) => setTimeout(r, 20));
    await c.send('stats conns\r\n');
    states = (await c.readUntil('END\r\n')).toString();
  }
  return states;
}

test('a TLS client that never reads its replies does not grow the server without bound; others are served', async () => {
  const s = await start('cachalot', [...TLS_ARGS, '-t', '2']);
  const setup = await Client.connectTls(s.port);
  await setup.send(`set big 0 0 100000\r\n${'v'.repeat(100000)}\r\n`);
  assert.equal(await setup.readLine(), 'STORED');
  const greedy = await Client.connectTls(s.port);
  greedy.pauseReading();
  const burst = 'get big\r\n'.repeat(2000); // ~200 MB of replies if all were encrypted and buffered
  for (let i = 0; i < 20; i++) void greedy.send(burst); // not awaited: the server stops reading this client
  assert.match(await untilState(setup, 'conn_mwrite'), /:state conn_mwrite\r/, 'the greedy client is parked');
  const other = await Client.connectTls(s.port);
  await other.send('get big\r\nversion\r\n');
  await other.readUntil('END\r\n');
  assert.match(await other.readLine(), /^VERSION /);
  assert.ok(rssOf(s.pid) < 400 * 1024 * 1024, 'server RSS stays bounded');
  greedy.destroy();
  other.end();
  setup.end();
});

test('a TLS client that stops reading waits in conn_mwrite, then gets every reply in order', async () => {
  const s = await start('cachalot', [...TLS_ARGS, '-t', '2']);
  const setup = await Client.connectTls(s.port);
  const value = 'v'.repeat(100000);
  await setup.send(`set big 0 0 ${value.length}\r\n${value}\r\n`);
  assert.equal(await setup.readLine(), 'STORED');
  const slow = await Client.connectTls(s.port);
  slow.pauseReading();
  const gets = 100; // 10 MB of replies: more than loopback's socket buffers hold
  for (let i = 0; i < gets; i++) await slow.send('get big\r\nmn\r\n');
  assert.match(await untilState(setup, 'conn_mwrite'), /:state conn_mwrite\r/, 'the slow client waits in conn_mwrite');
  slow.resumeReading();
  const reply = `VALUE big 0 ${value.length}\r\n${value}\r\nEND\r\n`;
  for (let i = 0; i < gets; i++) {
    assert.equal((await slow.read(reply.length)).toString(), reply, `reply ${i}`);
    assert.equal(await slow.readLine(), 'MN');
  }
  slow.end();
  setup.end();
});

/** Connect twice, the second time offering the first connection's session: was it taken up? */
async function resumes(port: number, maxVersion: 'TLSv1.2' | 'TLSv1.3'): Promise<[boolean, boolean]> {
  const first = await Client.connectTls(port, { maxVersion });
  const firstSocket = first.socket as import('node:tls').TLSSocket;
  await first.send('version\r\n');
  await first.readLine(); // by now a TLS 1.3 server has sent its tickets
  const session = firstSocket.getSession();
  const firstReused = firstSocket.isSessionReused();
  first.end();
  const second = await Client.connectTls(port, { maxVersion, session });
  const reused = (second.socket as import('node:tls').TLSSocket).isSessionReused();
  second.end();
  return [firstReused, reused];
}

test('a client resumes its TLS session on its next connection, whichever worker takes it', async () => {
  const seen = await acrossKinds(async (kind) => {
    const s = await start(kind, [...TLS_ARGS, '-t', '4', '-o', 'ssl_session_cache']);
    const resumed = [await resumes(s.port, 'TLSv1.2'), await resumes(s.port, 'TLSv1.3')];
    const c = await Client.connectTls(s.port);
    // how many depends on whether a closing client still got its TLS 1.3 tickets, on both servers
    const counted = Number((await c.stats()).get('ssl_new_sessions')) > 0;
    c.end();
    return { resumed, counted };
  });
  assert.deepEqual(seen, { resumed: [[false, true], [false, true]], counted: true });
});

test('ssl_session_cache: a TLS 1.2 client that takes no tickets resumes its session by id, whichever worker takes it', async () => {
  const seen = await acrossKinds(async (kind) => {
    const byCache: boolean[][] = [];
    for (const cache of [false, true]) {
      const s = await start(kind, [...TLS_ARGS, '-t', '4', ...(cache ? ['-o', 'ssl_session_cache'] : [])]);
      const reused: boolean[] = [];
      let session: Buffer | undefined;
      for (let i = 0; i < 5; i++) { // handed round the workers: the session is resumed on each
        const c = await Client.connectTls(s.port, { maxVersion: 'TLSv1.2', secureOptions: cryptoConstants.SSL_OP_NO_TICKET, session });
        await c.send('version\r\n');
        await c.readLine();
        const socket = c.socket as import('node:tls').TLSSocket;
        reused.push(socket.isSessionReused());
        session = socket.getSession() ?? session;
        c.end();
      }
      byCache.push(reused);
    }
    return byCache;
  });
  assert.deepEqual(seen, [[false, false, false, false, false], [false, true, true, true, true]]);
});

test('ssl_new_sessions counts the sessions memcached\'s OpenSSL issues: TLS 1.3 tickets, no TLS 1.2 ticket, no resumption', async () => {
  const counts = await acrossKinds(async (kind) => {
    const plainPort = await freePort();
    const s = await start(kind, [...TLS_ARGS, '-o', 'ssl_session_cache', '-l', `notls:127.0.0.1:${plainPort}`]);
    const counted = async (): Promise<number> => { // read in the clear: a TLS reader would count itself
      const c = await Client.connect(plainPort);
      const n = Number((await c.stats()).get('ssl_new_sessions'));
      c.end();
      return n;
    };
    const seen = [await counted()];
    for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
      let session: Buffer | undefined;
      for (let i = 0; i < 3; i++) { // a full handshake, then two resumptions
        const c = await Client.connectTls(s.port, { minVersion: version, maxVersion: version, session });
        await c.send('version\r\n');
        await c.readLine(); // by now a TLS 1.3 server has sent its tickets
        session = (c.socket as import('node:tls').TLSSocket).getSession() ?? session;
        c.end();
        seen.push(await counted());
      }
    }
    return seen;
  });
  // TLS 1.2 with tickets: the session has no id, so OpenSSL caches (and counts) nothing; TLS 1.3: two
  // tickets after the full handshake, one after each resumption.
  assert.deepEqual(counts, [0, 0, 0, 0, 2, 3, 4]);
});

/** Bytes that are no TLS handshake: random, or a handshake record's header over random bytes. */
function junkHello(rand: () => number): Buffer {
  const body = Buffer.alloc(1 + Math.floor(rand() * 4096));
  for (let i = 0; i < body.length; i++) body[i] = Math.floor(rand() * 256);
  if (rand() < 0.5) return body;
  const header = Buffer.from([0x16, 0x03, 0x01, body.length >> 8, body.length & 0xff, 0x01]); // a ClientHello's start
  return Buffer.concat([header, body]);
}

test('junk instead of a handshake never harms the server, its stored data or its other clients', async () => {
  const seed = 20261203;
  for (const kind of KINDS) {
    const rand = mulberry32(seed);
    const s = await start(kind, TLS_ARGS);
    const keeper = await Client.connectTls(s.port);
    await keeper.send('set keep 0 0 4\r\ndata\r\n');
    assert.equal(await keeper.readLine(), 'STORED');
    for (let round = 0; round < 5; round++) {
      const junk = await Promise.all(Array.from({ length: 10 }, () => Client.connect(s.port)));
      await Promise.all(junk.map(async (c) => {
        await c.send(junkHello(rand)).catch(() => {}); // the server may have hung up already
        await c.closed();
      }));
    }
    assert.equal(await overTls(s.port, 'get keep\r\n', 'END\r\n'), 'VALUE keep 0 4\r\ndata\r\nEND\r\n', `${kind}, seed ${seed}`);
    await keeper.send('version\r\n');
    assert.match(await keeper.readLine(), /^VERSION /, kind);
    if (kind === 'cachalot') assert.ok(Number((await keeper.stats()).get('ssl_handshake_errors')) > 0);
    keeper.end();
  }
});
