// SASL authentication of the binary protocol (-S), PLAIN against the MEMCACHED_SASL_PWDB file:
// before authentication only the SASL commands and Version run; a wrong password is an auth error
// that leaves the connection open; a text client is hung up on (-S means binary only); auth_cmds and
// auth_errors are counted; memjs, a deployed client, authenticates and works. Debian's memcached has
// SASL through Cyrus only (no MEMCACHED_SASL_PWDB), so these run against Cachalot alone; the Cyrus
// setup (memcached.conf and a sasldb) is tested side by side with memcached in auth-sasl-cyrus.test.ts.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from './support/client.ts';
import { sleep, startServer, type Server } from './support/server.ts';
import { binRequest, setExtras, parseBinResponses, type BinRequest, type BinResponse } from '../src/protocol/binary/frame.ts';
import { Op, Status } from '../src/protocol/binary/header.ts';

const dir = mkdtempSync(join(tmpdir(), 'cachalot-sasl-'));
const pwdb = join(dir, 'pwdb');
// a CRLF line, a line with extra fields after the password, a duplicate user (the first one counts)
writeFileSync(pwdb, 'alice:secret\r\nbob:hunter2:extra\nalice:other\n');

let server: Server;
let noPwdb: Server;
before(async () => {
  server = await startServer('cachalot', ['-S'], { env: { MEMCACHED_SASL_PWDB: pwdb } });
  noPwdb = await startServer('cachalot', ['-S'], { env: { MEMCACHED_SASL_PWDB: '' } });
});
after(async () => {
  await server?.stop();
  await noPwdb?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function readPacket(c: Client): Promise<BinResponse> {
  const h = await c.read(24);
  const body = await c.read(h.readUInt32BE(8));
  return parseBinResponses(Buffer.concat([h, body])).packets[0];
}

async function call(c: Client, ...reqs: BinRequest[]): Promise<BinResponse[]> {
  await c.send(Buffer.concat(reqs.map(binRequest)));
  const out: BinResponse[] = [];
  for (let i = 0; i < reqs.length; i++) out.push(await readPacket(c));
  return out;
}

const plain = (user: string, pass: string, authzid = ''): BinRequest =>
  ({ opcode: Op.SASL_AUTH, key: 'PLAIN', value: `${authzid}\0${user}\0${pass}` });

test('sasl: List Mechs says PLAIN; Version works before authentication', async () => {
  const c = await Client.connect(server.port);
  try {
    const [mechs, version] = await call(c, { opcode: Op.SASL_LIST_MECHS }, { opcode: Op.VERSION });
    assert.equal(mechs.status, Status.SUCCESS);
    assert.equal(mechs.value.toString(), 'PLAIN');
    assert.equal(version.value.toString(), '1.6.18');
  } finally { c.end(); }
});

test('sasl: any other command before authentication is an auth error and a hang-up', async () => {
  const c = await Client.connect(server.port);
  try {
    const [err] = await call(c, { opcode: Op.GET, key: 'k' });
    assert.equal(err.status, Status.AUTH_ERROR);
    assert.equal(err.value.toString(), 'Auth failure.');
    await c.closed();
  } finally { c.end(); }
});

test('sasl: -vv says, for every binary command, whether it may run (memcached\'s authenticated() line)', async () => {
  const s = await startServer('cachalot', ['-S', '-vv'], { env: { MEMCACHED_SASL_PWDB: pwdb } });
  try {
    const c = await Client.connect(s.port);
    await call(c, { opcode: Op.VERSION });
    await call(c, { opcode: Op.GET, key: 'k' });
    await c.closed();
    for (let i = 0; i < 200 && !/connection closed/.test(s.stderr()); i++) await sleep(10);
    const lines = s.stderr().split('\n').filter((l) => l.startsWith('authenticated()'));
    assert.deepEqual(lines, ['authenticated() in cmd 0x0b is true', 'authenticated() in cmd 0x00 is false']);
  } finally { await s.stop(); }
});

test('sasl: a wrong password fails and the connection stays; the right one authenticates', async () => {
  const c = await Client.connect(server.port);
  try {
    for (const bad of [plain('alice', 'wrong'), plain('alice', 'other'), plain('alice', 'secre'), plain('nobody', 'secret'),
      plain('bob', 'hunter2:extra'), plain('alice', 'secret', 'bob'), { opcode: Op.SASL_AUTH, key: 'PLAIN', value: 'alice\0secret' },
      { opcode: Op.SASL_AUTH, key: 'CRAM-MD5', value: '\0alice\0secret' }]) {
      const [r] = await call(c, bad);
      assert.equal(r.status, Status.AUTH_ERROR, `refused: ${JSON.stringify(bad.value)}`);
      assert.equal(r.value.toString(), 'Auth failure.');
    }
    const [ok] = await call(c, plain('alice', 'secret'));
    assert.equal(ok.status, Status.SUCCESS);
    assert.equal(ok.value.toString(), 'Authenticated');
    const [stored, got] = await call(c, { opcode: Op.SET, key: 'k', extras: setExtras(3, 0), value: 'v' }, { opcode: Op.GET, key: 'k' });
    assert.equal(stored.status, Status.SUCCESS);
    assert.equal(got.value.toString(), 'v');
    // a Step has no exchange to continue (PLAIN with its data is one step), and a new attempt starts over
    const [step] = await call(c, { opcode: Op.SASL_STEP, key: 'PLAIN', value: 'x' });
    assert.equal(step.status, Status.AUTH_ERROR);
    const [after] = await call(c, { opcode: Op.GET, key: 'k' });
    assert.equal(after.status, Status.AUTH_ERROR);
    await c.closed();
  } finally { c.end(); }
  const d = await Client.connect(server.port);
  try {
    const [ok, get] = await call(d, plain('bob', 'hunter2', 'bob'), { opcode: Op.GET, key: 'k' });
    assert.equal(ok.status, Status.SUCCESS, 'an authorization identity equal to the user is fine');
    assert.equal(get.value.toString(), 'v');
  } finally { d.end(); }
});

// What Debian's memcached (Cyrus SASL, a sasldb with alice's password) answers, checked by hand against it: PLAIN
// without data is "continue" and its Step brings the data; mechanism names are matched without regard to case;
// an Auth with extras is a protocol error at once, before any data is waited for.
test('sasl: PLAIN without data continues, and the Step after it authenticates, as Cyrus\'s does', async () => {
  const c = await Client.connect(server.port);
  try {
    const [cont] = await call(c, { opcode: Op.SASL_AUTH, key: 'PLAIN' });
    assert.deepEqual([cont.status, cont.value.length], [Status.AUTH_CONTINUE, 0]);
    const [ok] = await call(c, { opcode: Op.SASL_STEP, key: 'PLAIN', value: '\0alice\0secret' });
    assert.equal(ok.value.toString(), 'Authenticated');
    const [again] = await call(c, { opcode: Op.SASL_STEP, key: 'PLAIN', value: '\0alice\0secret' });
    assert.equal(again.status, Status.AUTH_ERROR, 'the exchange is over');
  } finally { c.end(); }
  const d = await Client.connect(server.port);
  try {
    await call(d, { opcode: Op.SASL_AUTH, key: 'PLAIN' });
    const [bad] = await call(d, { opcode: Op.SASL_STEP, key: 'PLAIN', value: '\0alice\0wrong' });
    assert.equal(bad.status, Status.AUTH_ERROR);
  } finally { d.end(); }
});

test('sasl: the mechanism\'s name in any case; an Auth with extras is refused at once', async () => {
  const c = await Client.connect(server.port);
  try {
    const [ok] = await call(c, { opcode: Op.SASL_AUTH, key: 'plain', value: '\0alice\0secret' });
    assert.equal(ok.value.toString(), 'Authenticated');
  } finally { c.end(); }
  const d = await Client.connect(server.port);
  try {
    await d.send(binRequest({ opcode: Op.SASL_AUTH, key: 'PLAIN', extras: Buffer.alloc(4), value: '\0alice\0secret' }));
    const err = await readPacket(d); // whole as sent: nothing more is waited for
    assert.deepEqual([err.status, err.value.toString()], [Status.EINVAL, 'Invalid arguments']);
    await d.closed();
  } finally { d.end(); }
});

test('sasl: auth_cmds and auth_errors count every attempt', async () => {
  const c = await Client.connect(server.port);
  const statsOf = async (): Promise<Map<string, string>> => {
    await c.send(binRequest({ opcode: Op.STAT }));
    const m = new Map<string, string>();
    for (;;) {
      const p = await readPacket(c);
      if (p.key.length === 0) return m;
      m.set(p.key.toString(), p.value.toString());
    }
  };
  try {
    await call(c, plain('alice', 'secret'));
    const before = await statsOf();
    await call(c, plain('alice', 'nope'), plain('x', 'y'), plain('alice', 'secret'));
    const now = await statsOf();
    assert.equal(Number(now.get('auth_cmds')) - Number(before.get('auth_cmds')), 3);
    assert.equal(Number(now.get('auth_errors')) - Number(before.get('auth_errors')), 2);
  } finally { c.end(); }
});

test('sasl: -S speaks binary only: a text client is hung up on, with no reply first', async () => {
  const c = await Client.connect(server.port);
  try {
    await c.send('set k 0 0 1\r\nv\r\nget k\r\nversion\r\n');
    // memcached's binding protocol is binary then: the first byte is no magic and the connection closes
    await assert.rejects(c.read(1), /^Error: connection closed while waiting for 1 bytes; got ""$/);
  } finally { c.end(); }
});

test('sasl: without MEMCACHED_SASL_PWDB nobody authenticates', async () => {
  const c = await Client.connect(noPwdb.port);
  try {
    const [r] = await call(c, plain('alice', 'secret'));
    assert.equal(r.status, Status.AUTH_ERROR);
  } finally { c.end(); }
});

test('sasl: SASL data past a slab chunk is refused and swallowed; below, the mechanism sees it; an oversized mechanism is invalid', async () => {
  const c = await Client.connect(server.port);
  try {
    const [long] = await call(c, { opcode: Op.SASL_AUTH, key: 'PLAIN', value: Buffer.alloc(5000, 0x41) });
    assert.equal(long.status, Status.AUTH_ERROR);
    const [big] = await call(c, { opcode: Op.SASL_AUTH, key: 'PLAIN', value: Buffer.alloc(600_000, 0x41) });
    assert.equal(big.status, Status.ENOMEM);
    const [mech] = await call(c, { opcode: Op.SASL_AUTH, key: 'M'.repeat(33), value: 'xx' });
    assert.equal(mech.status, Status.EINVAL);
    const [ok] = await call(c, plain('alice', 'secret'));
    assert.equal(ok.status, Status.SUCCESS, 'both bodies were swallowed exactly');
  } finally { c.end(); }
});

// ---- memjs, a deployed client (a devDependency; skipped where it is not installed) ----

type MemjsClient = {
  set(key: string, value: string, opts: { expires?: number }): Promise<boolean>;
  get(key: string): Promise<{ value: Buffer | null }>;
  quit(): void;
  close(): void;
};
type Memjs = { Client: { create(servers: string, opts: Record<string, unknown>): MemjsClient } };
let memjs: Memjs | null = null;
try { memjs = ((await import('memjs' as string)) as { default: Memjs }).default; } catch { memjs = null; }
const noMemjs = memjs === null ? 'memjs is not installed' : false;

function memjsClient(user: string, pass: string): MemjsClient {
  return memjs!.Client.create(`127.0.0.1:${server.port}`, {
    username: user, password: pass, retries: 0, timeout: 2, conntimeout: 2, logger: { log: () => {} },
  });
}

test('sasl: memjs authenticates, sets and gets', { skip: noMemjs }, async () => {
  const m = memjsClient('alice', 'secret');
  try {
    assert.equal(await m.set('memjs-key', 'memjs value', { expires: 0 }), true);
    const { value } = await m.get('memjs-key');
    assert.equal(value?.toString(), 'memjs value');
  } finally { m.close(); }
});

test('sasl: memjs with wrong credentials fails', { skip: noMemjs }, async () => {
  const m = memjsClient('alice', 'not-the-password');
  try {
    await assert.rejects(m.set('memjs-key', 'x', { expires: 0 }), /authentication failed/i);
  } finally { m.close(); }
});

test('sasl: random SASL frames do not crash the server', async () => {
  let seed = 0xa11ce;
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  for (let conn = 0; conn < 20; conn++) {
    const c = await Client.connect(server.port);
    const frames: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      const value = Buffer.alloc(rand(40), rand(3) === 0 ? 0 : 0x61 + rand(26));
      const key = ['PLAIN', '', 'X'.repeat(33), 'CRAM-MD5'][rand(4)];
      const bodylen = [undefined, 0, 0x7fffffff, key.length + value.length + 5][rand(4)];
      frames.push(binRequest({ opcode: [Op.SASL_AUTH, Op.SASL_STEP, Op.SASL_LIST_MECHS, Op.GET][rand(4)], key, value, bodylen }));
    }
    await c.send(Buffer.concat([...frames, binRequest({ opcode: Op.GET, key: 'k' })])).catch(() => {});
    c.end();
  }
  const c = await Client.connect(server.port);
  try {
    const [denied] = await call(c, { opcode: Op.GET, key: 'k' });
    assert.equal(denied.status, Status.AUTH_ERROR, 'the server lives and still wants a password');
  } finally { c.end(); }
});
