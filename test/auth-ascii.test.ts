// -Y ascii authentication, exactly as memcached 1.6 (run side by side with it): until a connection
// sends `set <any> <any> <any> <n>` with "user pass" as its data, every line is refused; the auth
// file's "user:password" lines are checked; then the connection is an ordinary text connection.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Client } from './support/client.ts';
import { kindsFor, runSpec, type Step } from './support/spec.ts';
import { sleep, startServer, type Server, type ServerKind } from './support/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'cachalot-authfile-'));
const authfile = join(dir, 'auth');
writeFileSync(authfile, 'alice:secret\nbob:pa:ss\r\n');

// One -Y server of each kind for the file. spec() would flush a shared server before each run,
// which an unauthenticated connection cannot do; every run here starts unauthenticated anyway.
const servers = new Map<ServerKind, Promise<Server>>();
const serverOf = (kind: ServerKind): Promise<Server> => {
  let s = servers.get(kind);
  if (!s) { s = startServer(kind, ['-Y', authfile]); servers.set(kind, s); }
  return s;
};
after(async () => {
  for (const s of servers.values()) await (await s).stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The steps on a new connection, whole, one byte per write and in random pieces, ending authenticated. */
function spec(name: string, steps: Step[]): void {
  for (const kind of kindsFor()) {
    test(`${name} [${kind}]`, async () => {
      const server = await serverOf(kind);
      for (const feed of ['whole', 'bytes', 'pieces'] as const) await runSpec(server, steps, { fresh: true }, feed);
    });
  }
}

spec('ascii auth: commands are refused until a good "user pass" set, which stores nothing', [
  ['get k\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
  ['version\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
  ['set k 0 0 9\r\nalice bad\r\n', 'CLIENT_ERROR authentication failure\r\n'],
  ['set k 0 0 9\r\nbob pa:ss\r\n', 'STORED\r\n'], // the password runs to the end of its line
  ['get anything k\r\n', 'END\r\n'],
  ['set k 0 0 1\r\nv\r\n', 'STORED\r\n'],
  ['get k\r\n', 'VALUE k 0 1\r\nv\r\nEND\r\n'],
  ['delete k\r\n', 'DELETED\r\n'], // the server is shared: leave it as found
]);

spec('ascii auth: malformed tokens and lines; a password is compared whole', [
  ['set a 0 0 5\r\nalice\r\n', 'CLIENT_ERROR bad authentication token format\r\n'],
  // 3 bytes announced, "abcde" sent: the block must end in "\r\n"; the leftover line is refused.
  // (Sent apart: of two answers from one read only the last goes out, a test of its own below.)
  ['set a 0 0 3\r\nabcde', 'CLIENT_ERROR bad command line termination\r\n'],
  ['\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
  ['set a 0 0 x\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
  ['set a 0 0\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
  ['add a 0 0 12\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
  ['set a 0 0 11\r\nalice secre\r\n', 'CLIENT_ERROR authentication failure\r\n'],
  ['set a 0 0 13\r\nalice secretx\r\n', 'CLIENT_ERROR authentication failure\r\n'],
  ['set a 0 0 12\r\nalice SECRET\r\n', 'CLIENT_ERROR authentication failure\r\n'],
  ['set a 0 0 12\r\nalicesecret \r\n', 'CLIENT_ERROR bad authentication token format\r\n'],
  ['set a 0 0 13\r\nalice  secret\r\n', 'STORED\r\n'], // runs of spaces separate tokens as in commands
]);

spec('ascii auth: the set line and the "user pass" block end at a NUL byte (memcached reads C strings)', [
  ['set a\0 0 0 12\r\n', 'CLIENT_ERROR unauthenticated\r\n'], // "set a": too few tokens
  ['set a 0 0 14\0junk\r\nalice secret\0x\r\n', 'STORED\r\n'], // "set a 0 0 14", then "alice secret"
]);

// memcached answers the exchange in one response object that each answer resets until it is sent: of the lines
// of one read, only the last one's answer goes out (sent whole here: one byte per write would split the read).
for (const kind of kindsFor()) {
  test(`ascii auth: of the unauthenticated lines of one read only the last is answered, as memcached's [${kind}]`, async () => {
    await runSpec(await serverOf(kind), [
      ['get k\r\nversion\r\nset a 0 0 5\r\nalice\r\n', 'CLIENT_ERROR bad authentication token format\r\n'],
      ['set a 0 0 3\r\nabcde\r\n', 'CLIENT_ERROR unauthenticated\r\n'],
      ['get k\r\nset k 0 0 12\r\nalice secret\r\nget k\r\n', 'STORED\r\nEND\r\n'],
    ], { fresh: true }, 'whole');
  });
}

for (const kind of kindsFor()) {
  test(`ascii auth: auth_cmds and auth_errors are counted [${kind}]`, async () => {
    const s = await serverOf(kind);
    const admin = await Client.connect(s.port);
    const c = await Client.connect(s.port);
    const counters = async (): Promise<[number, number]> => {
      await admin.send('stats\r\n');
      const stats = (await admin.readUntil('END\r\n')).toString();
      return [Number(/STAT auth_cmds (\d+)/.exec(stats)?.[1]), Number(/STAT auth_errors (\d+)/.exec(stats)?.[1])];
    };
    try {
      await admin.send('set a 0 0 12\r\nalice secret\r\n');
      assert.equal(await admin.readLine(), 'STORED');
      const [cmds, errors] = await counters();
      await c.send('set a 0 0 9\r\nalice bad\r\n');
      assert.equal(await c.readLine(), 'CLIENT_ERROR authentication failure');
      await c.send('set a 0 0 12\r\nalice secret\r\n');
      assert.equal(await c.readLine(), 'STORED');
      assert.deepEqual(await counters(), [cmds + 2, errors + 1]);
    } finally { c.end(); admin.end(); }
  });
}

// memcached's authfile_load keeps what its fgets reads into a buffer the size of the file: at most 8 entries; a line
// cut at 255 bytes, which ends the file (as a NUL does); a file of one line without a newline, one byte short.
const FILES: Array<[string, Buffer, Array<[string, boolean]>]> = [
  ['only its first eight entries', Buffer.from(Array.from({ length: 10 }, (_, i) => `u${i}:p${i}\n`).join('')),
    [['u0 p0', true], ['u7 p7', true], ['u8 p8', false], ['u9 p9', false]]],
  ['a line over 255 bytes cut there, and nothing after it', Buffer.from(`alice:${'p'.repeat(300)}\nbob:pw\n`),
    [[`alice ${'p'.repeat(300)}`, false], [`alice ${'p'.repeat(249)}`, true], ['bob pw', false]]],
  ['a NUL that ends the password and the file', Buffer.from('alice:sec\0ret\nbob:pw\n', 'latin1'),
    [['alice sec', true], ['bob pw', false]]],
  ['a file of one line without a newline, a byte short', Buffer.from('alice:pw'), [['alice pw', false], ['alice p', true]]],
];
for (const [name, content, tries] of FILES) {
  for (const kind of kindsFor()) {
    test(`ascii auth: the file as memcached reads it: ${name} [${kind}]`, async () => {
      const file = join(dir, `file-${FILES.findIndex((f) => f[0] === name)}`);
      writeFileSync(file, content);
      const server = await startServer(kind, ['-Y', file]);
      try {
        for (const [userPass, ok] of tries) {
          const c = await Client.connect(server.port);
          await c.send(`set a 0 0 ${userPass.length}\r\n${userPass}\r\n`);
          assert.equal(await c.readLine(), ok ? 'STORED' : 'CLIENT_ERROR authentication failure', userPass.slice(0, 20));
          c.end();
        }
      } finally { await server.stop(); }
    });
  }
}

/** Whether "user pass" logs in on a new connection. */
async function logsIn(server: Server, userPass: string): Promise<boolean> {
  const c = await Client.connect(server.port);
  try {
    await c.send(`set a 0 0 ${userPass.length}\r\n${userPass}\r\n`);
    const line = await c.readLine();
    assert.ok(line === 'STORED' || line === 'CLIENT_ERROR authentication failure', line);
    return line === 'STORED';
  } finally { c.end(); }
}

for (const kind of kindsFor()) {
  test(`ascii auth: the file is read at start and again after SIGHUP, and a file that cannot be read then changes nothing [${kind}]`, { timeout: 60_000 }, async () => {
    const file = join(dir, `hup-${kind}`);
    writeFileSync(file, 'alice:pw1\n');
    const server = await startServer(kind, ['-Y', file, '-t', '4']);
    try {
      writeFileSync(file, 'bob:pw2\n');
      for (let i = 0; i < 8; i++) { // every worker (connections go round-robin): the entries read at start
        assert.equal(await logsIn(server, 'alice pw1'), true, `connection ${i}`);
        assert.equal(await logsIn(server, 'bob pw2'), false, `connection ${i}`);
      }
      process.kill(server.pid, 'SIGHUP'); // read again at the next clock tick
      for (let i = 0; i < 100 && !(await logsIn(server, 'bob pw2')); i++) await sleep(50);
      for (let i = 0; i < 8; i++) {
        assert.equal(await logsIn(server, 'bob pw2'), true, `connection ${i}`);
        assert.equal(await logsIn(server, 'alice pw1'), false, `connection ${i}`);
      }
      // a malformed file (and then a missing one): the entries stay as they were
      for (const change of [() => writeFileSync(file, 'carol:pw3\nnocolon\n'), () => rmSync(file)]) {
        change();
        process.kill(server.pid, 'SIGHUP');
        await sleep(2500); // two clock ticks (real ones: SIGHUP's reload waits for one): the reload, had there been one, is done
        for (let i = 0; i < 8; i++) {
          assert.equal(await logsIn(server, 'bob pw2'), true, `connection ${i}`);
          assert.equal(await logsIn(server, 'carol pw3'), false, `connection ${i}`);
        }
      }
      const c = await Client.connect(server.port); // and the server serves on
      await c.send('set x 0 0 7\r\nbob pw2\r\n');
      assert.equal(await c.readLine(), 'STORED');
      await c.send('version\r\n');
      assert.match(await c.readLine(), /^VERSION /);
      c.end();
    } finally { await server.stop(); }
  });
}

/** A -Y -vv server's stderr lines for one connection that sends `requests` (in separate reads) and quits. */
async function authLog(kind: ServerKind, requests: string[]): Promise<string[]> {
  const s = await startServer(kind, ['-Y', authfile, '-vv', '-t', '1']);
  try {
    const c = await Client.connect(s.port);
    for (const r of requests) { await c.send(r); await sleep(50); } // a read each (no assertion rests on it)
    await c.send('quit\r\n');
    await c.closed();
    for (let i = 0; i < 200 && !/connection closed/.test(s.stderr()); i++) await sleep(10); // the lines are written
    return s.stderr().split('\n').filter((l) => /^[<>]\d+ (?!server listening|new auto-neg)/.test(l))
      .map((l) => l.replace(/^([<>])\d+/, '$1fd'));
  } finally { await s.stop(); }
}

test('ascii auth: -vv logs every answer of the exchange as memcached\'s out_string does, the lines it answers not', async (t) => {
  if (kindsFor().length < 2) { t.skip('memcached is not installed'); return; }
  const requests = ['get k\r\n', 'set a 0 0 3\r\nabcde\r\n', 'set a 0 0 5\r\nalice\r\n', 'set a 0 0 9\r\nalice bad\r\n',
    'get k\r\nset k 0 0 12\r\nalice secret\r\n', 'get k\r\n'];
  const [ours, theirs] = [await authLog('cachalot', requests), await authLog('memcached', requests)];
  assert.deepEqual(ours, theirs);
  assert.deepEqual(ours, ['<fd new ascii client connection.', '>fd CLIENT_ERROR unauthenticated',
    '>fd CLIENT_ERROR bad command line termination', '>fd CLIENT_ERROR unauthenticated', // "abc" then a line "de"
    '>fd CLIENT_ERROR bad authentication token format', '>fd CLIENT_ERROR authentication failure',
    '>fd CLIENT_ERROR unauthenticated', '>fd STORED', // the two answers of one read: only the last is sent, both logged
    '<fd get k', '>fd END', '<fd quit', '<fd connection closed.']);
});
