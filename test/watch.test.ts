// `watch`: memcached's log streams. Every scenario runs against both servers and expects the same lines, with
// what belongs to the moment masked: the time, the gid (checked to grow), the connection's fd and port. A
// scenario ends on a marker line, so no test waits on time; every wait has Client's bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { kindsFor, registerStopHook, serverFor, spec } from './support/spec.ts';
import { sleep, type Server } from './support/server.ts';
import { againWhileStaleScan, BINARY_NOOP_SENTINEL, maskMetaTimes, maskReply, MN_SENTINEL, runAcross } from './support/differential.ts';
import { BINARY, mixedScript, TEXT } from './support/mixed-protocols.ts';
import { binRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

registerStopHook();

/** A line without its time and gid; the fd, port and (when asked) clsid masked. */
function maskLine(line: string): string {
  return line.replace(/^ts=\d+\.\d{1,6} gid=\d+ /, '').replace(/ cfd=\d+/, ' cfd=<fd>').replace(/ rport=\d+/, ' rport=<port>');
}

/** Lines as received: each has memcached's ts and gid, and the gids grow. */
function checkHeads(lines: string[]): void {
  let last = 0;
  for (const l of lines) {
    if (l.startsWith('skipped=')) continue;
    const m = /^ts=(\d+)\.(\d{1,6}) gid=(\d+) type=/.exec(l);
    assert.ok(m, `line shape: ${l}`);
    assert.ok(Math.abs(Number(m[1]) - Date.now() / 1000) < 600, `ts is wall time: ${l}`);
    const gid = Number(m[3]);
    assert.ok(gid > last, `gids grow: ${l}`);
    last = gid;
  }
}

async function watcher(server: Server, cmd: string): Promise<Client> {
  const w = await Client.connect(server.port);
  await w.send(cmd);
  assert.equal((await w.read(4)).toString('latin1'), 'OK\r\n');
  return w;
}

/** Each request with a meta no-op behind it: its reply is what comes before "MN". */
async function play(c: Client, script: Array<string | Buffer>): Promise<void> {
  for (const req of script) {
    await c.send(Buffer.concat([Buffer.from(req as string, 'latin1'), Buffer.from('mn\r\n')]));
    await c.readUntil('MN\r\n');
  }
}

/** The watcher's lines up to and including the first that contains `marker`. */
async function linesUntil(w: Client, marker: string): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const l = (await w.readUntil('\n')).toString('latin1').slice(0, -1);
    lines.push(l);
    if (l.includes(marker)) return lines;
  }
}

/** Watch with `watchCmd` while a client plays the script; the masked lines, up to the marker's fetch. */
async function scenario(kind: 'cachalot' | 'memcached', args: string[], watchCmd: string,
  script: Array<string | Buffer>): Promise<string[]> {
  const server = await serverFor(kind, args, true);
  try {
    const w = await watcher(server, watchCmd);
    const c = await Client.connect(server.port);
    await play(c, [...script, 'get zz_end\r\n']);
    const lines = await linesUntil(w, 'key=zz_end ');
    checkHeads(lines);
    c.end();
    w.end();
    return lines.map(maskLine);
  } finally { await server.stop(); }
}

// memcached 1.6.18's lines for these commands (its do_item_get logs every lookup, a store's look for the old
// item included; incr and delete are fetches; a refused store logs before its stale copy is dropped)
const TEXT_SCRIPT = [
  'set a 0 0 1\r\nx\r\n', 'get a b\r\n', 'gets a\r\n', 'add a 0 0 1\r\ny\r\n', 'add b 0 100 2\r\nyy\r\n',
  'replace c 0 0 1\r\nz\r\n', 'append a 0 0 1\r\nq\r\n', 'prepend a 0 0 1\r\nq\r\n', 'cas a 0 0 1 999\r\nq\r\n',
  'incr a 1\r\n', 'set n 0 0 1\r\n5\r\n', 'incr n 1\r\n', 'decr n 1\r\n', 'delete a\r\n', 'delete a\r\n',
  'touch n 10\r\n', 'gat 10 n\r\n', 'set k%/\xe9 0 0 1\r\nx\r\n', 'get k%/\xe9\r\n',
  // (a get of it would race memcached's LRU maintainer, which may reclaim it first)
  'set neg 0 -1 1\r\nx\r\n', 'set big 0 0 2000000\r\n' + 'x'.repeat(2000000) + '\r\n', 'set u 0 0 2\r\nxxx\r\n',
  'flush_all\r\n', 'get n\r\n', 'get b\r\n',
];
const TEXT_LINES = [
  'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_store key=a status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=b status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=1',
  'type=item_store key=a status=not_stored cmd=add ttl=0 clsid=1 cfd=<fd> size=1',
  'type=item_get key=b status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_store key=b status=stored cmd=add ttl=<ttl> clsid=1 cfd=<fd> size=2',
  'type=item_get key=c status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_store key=c status=not_stored cmd=replace ttl=0 clsid=1 cfd=<fd> size=1',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=1',
  'type=item_store key=a status=stored cmd=append ttl=0 clsid=1 cfd=<fd> size=2',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=2',
  'type=item_store key=a status=stored cmd=prepend ttl=0 clsid=1 cfd=<fd> size=3',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=3',
  'type=item_store key=a status=exists cmd=cas ttl=0 clsid=1 cfd=<fd> size=1',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=3',
  'type=item_get key=n status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_store key=n status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
  'type=item_get key=n status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=n status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=a status=found clsid=1 cfd=<fd> size=3',
  'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_get key=n status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=n status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=k%25%2F%E9 status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_store key=k%25%2F%E9 status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
  'type=item_get key=k%25%2F%E9 status=found clsid=1 cfd=<fd> size=1',
  'type=item_get key=neg status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_store key=neg status=stored cmd=set ttl=<ttl> clsid=1 cfd=<fd> size=1',
  // memcached passes one argument too few here: the fd shows as the clsid, and the cfd is whatever follows
  'type=item_store key=big status=too_large cmd=set ttl=0 clsid=<fd> cfd=<?> size=0',
  'type=item_get key=big status=not_found clsid=0 cfd=<fd> size=0',
  'type=item_get key=n status=<flushed> clsid=0 cfd=<fd> size=0',
  'type=item_get key=b status=<flushed> clsid=0 cfd=<fd> size=0',
  'type=item_get key=zz_end status=not_found clsid=0 cfd=<fd> size=0',
];

/** ttl values follow each server's clock; the refused store's clsid and cfd are memcached's stray arguments. */
function maskTtl(line: string): string {
  if (line.includes('status=too_large')) return line.replace(/clsid=\d+ cfd=(-?\d+|<fd>)/, 'clsid=<fd> cfd=<?>');
  return line.replace(/ ttl=(\d+)/, (_, t: string) => (t === '0' ? ' ttl=0' : ' ttl=<ttl>'));
}

for (const kind of kindsFor()) {
  test(`watch: fetchers and mutations, every text command's lines as memcached's [${kind}]`, async () => {
    const lines = await scenario(kind, [], 'watch fetchers mutations\r\n', TEXT_SCRIPT);
    // after flush_all, a server's LRU maintainer may reclaim a flushed item before the get finds it
    // (the two gets after it are the lines before the marker's)
    const flushed = lines.map(maskTtl).map((l, i) => i >= lines.length - 3 && i < lines.length - 1
      ? l.replace(/status=(flushed|not_found) /, 'status=<flushed> ') : l);
    assert.deepEqual(flushed, TEXT_LINES);
  });

  test(`watch: with no argument it watches fetchers only [${kind}]`, async () => {
    const lines = await scenario(kind, [], 'watch\r\n', ['set a 0 0 1\r\nx\r\n', 'get a\r\n']);
    assert.deepEqual(lines, [
      'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=a status=found clsid=1 cfd=<fd> size=1',
      'type=item_get key=zz_end status=not_found clsid=0 cfd=<fd> size=0',
    ]);
  });

  test(`watch: meta commands log as memcached's [${kind}]`, async () => {
    const lines = await scenario(kind, [], 'watch fetchers mutations\r\n', [
      'mg a v\r\n', 'ms a 2 T50\r\nxx\r\n', 'mg a v t\r\n', 'md a\r\n', 'ma a\r\n', 'ms x 1 MA\r\n1\r\n',
      'mg x s v\r\n', 'ms n 1\r\n1\r\n', 'ma n\r\n', 'ma q N0 J13\r\n', 'md n q\r\n', 'mg n\r\n', 'md k I T30\r\n',
      'ms k 1 I\r\nx\r\n', 'mg k k v c\r\n', `ms k 1048577 ME\r\n${'x'.repeat(1048577)}\r\n`,
    ]);
    assert.deepEqual(lines.map(maskTtl), [
      'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_store key=a status=stored cmd=set ttl=<ttl> clsid=1 cfd=<fd> size=2',
      'type=item_get key=a status=found clsid=1 cfd=<fd> size=2',
      'type=item_get key=a status=found clsid=1 cfd=<fd> size=2',
      'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=x status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_store key=x status=not_stored cmd=append ttl=0 clsid=1 cfd=<fd> size=1',
      'type=item_get key=x status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=n status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_store key=n status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
      'type=item_get key=n status=found clsid=1 cfd=<fd> size=1',
      'type=item_get key=q status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=q status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_store key=q status=stored cmd=add ttl=0 clsid=1 cfd=<fd> size=2',
      'type=item_get key=n status=found clsid=1 cfd=<fd> size=1',
      'type=item_get key=n status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=k status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_get key=k status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_store key=k status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
      'type=item_get key=k status=found clsid=1 cfd=<fd> size=1',
      // a refused ms logs its mode, then the look that unlinks the old value (an add's too: ms does it in every mode)
      'type=item_store key=k status=too_large cmd=add ttl=0 clsid=<fd> cfd=<?> size=0',
      'type=item_get key=k status=found clsid=1 cfd=<fd> size=1',
      'type=item_get key=zz_end status=not_found clsid=0 cfd=<fd> size=0',
    ]);
  });

  test(`watch: connevents, a client's arrival and its hang-up or quit [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      const w = await watcher(server, 'watch connevents\r\n');
      const a = await Client.connect(server.port);
      await play(a, ['version\r\n']);
      a.end();
      // (a and b may be on two workers, whose lines a watcher reads in turn: b waits for a's last line)
      const lines = await linesUntil(w, 'conn_close');
      const b = await Client.connect(server.port);
      await b.send('quit\r\n');
      await b.closed();
      lines.push(...await linesUntil(w, 'conn_close'));
      // a watcher that hangs up: memcached's logger closes it with no reason said, "error"
      const other = await watcher(server, 'watch fetchers\r\n');
      other.destroy();
      lines.push(...await linesUntil(w, 'conn_close'));
      checkHeads(lines);
      assert.deepEqual(lines.map(maskLine), [
        'type=conn_new rip=127.0.0.1 rport=<port> transport=tcp cfd=<fd>',
        'type=conn_close rip=127.0.0.1 rport=<port> transport=tcp reason=normal cfd=<fd>',
        'type=conn_new rip=127.0.0.1 rport=<port> transport=tcp cfd=<fd>',
        'type=conn_close rip=127.0.0.1 rport=<port> transport=tcp reason=normal cfd=<fd>',
        'type=conn_new rip=127.0.0.1 rport=<port> transport=tcp cfd=<fd>',
        'type=conn_close rip=127.0.0.1 rport=<port> transport=tcp reason=error cfd=<fd>',
      ]);
      w.end();
    } finally { await server.stop(); }
  });

  test(`watch: a client that hangs up in the read that made it a watcher is closed after its OK, as memcached's logger closes it [${kind}]`, async () => {
    // -R 1 yields after each command, so the hang-up is read while the watch still waits its turn
    const server = await serverFor(kind, ['-R', '1', '-vv'], true);
    try {
      const w = await watcher(server, 'watch connevents\r\n');
      const c = await Client.connect(server.port);
      await c.send('a\r\nb\r\nc\r\nwatch\r\n');
      c.endWriting();
      assert.equal((await c.read(25)).toString('latin1'), 'ERROR\r\nERROR\r\nERROR\r\nOK\r\n');
      await c.closed();
      const lines = await linesUntil(w, 'conn_close');
      assert.deepEqual(lines.map(maskLine), [
        'type=conn_new rip=127.0.0.1 rport=<port> transport=tcp cfd=<fd>',
        'type=conn_close rip=127.0.0.1 rport=<port> transport=tcp reason=error cfd=<fd>',
      ]);
      const fd = /cfd=(\d+)/.exec(lines[1])?.[1];
      // memcached's conn_close logs the conn_close line before it prints "connection closed.": the logger thread can
      // send the line to the watcher before the worker has written its own, so the stderr is read until it has
      const closing = new RegExp(`<${fd} watch\n<${fd} connection closing from side thread\.\n<${fd} connection closed\.\n`);
      for (let i = 0; i < 200 && !closing.test(server.stderr()); i++) await sleep(10);
      assert.match(server.stderr(), closing);
      w.end();
    } finally { await server.stop(); }
  });

  test(`watch: binary commands log as memcached's [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      const w = await watcher(server, 'watch fetchers mutations\r\n');
      const c = await Client.connect(server.port);
      await c.send(Buffer.concat([
        bin(0x01, 'ba', extras(0, 0), 'vv'), bin(0x00, 'ba'), bin(0x00, 'bz'), bin(0x02, 'ba', extras(0, 0), 'v'),
        bin(0x03, 'bq', extras(0, 0), 'v'), bin(0x0e, 'ba', '', 'A'), bin(0x0f, 'ba', '', 'P'),
        bin(0x01, 'ba', extras(0, 0), 'v', 5n), bin(0x04, 'ba'), bin(0x1c, 'ba', Buffer.from([0, 0, 0, 10])),
        bin(0x00, 'zz_end'),
      ]));
      const lines = await linesUntil(w, 'key=zz_end ');
      checkHeads(lines);
      assert.deepEqual(lines.map(maskLine), [
        'type=item_get key=ba status=not_found clsid=0 cfd=<fd> size=0',
        'type=item_store key=ba status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=2',
        'type=item_get key=ba status=found clsid=1 cfd=<fd> size=2',
        'type=item_get key=bz status=not_found clsid=0 cfd=<fd> size=0',
        'type=item_get key=ba status=found clsid=1 cfd=<fd> size=2',
        'type=item_store key=ba status=not_stored cmd=add ttl=0 clsid=1 cfd=<fd> size=1',
        'type=item_get key=bq status=not_found clsid=0 cfd=<fd> size=0',
        'type=item_store key=bq status=not_stored cmd=replace ttl=0 clsid=1 cfd=<fd> size=1',
        'type=item_get key=ba status=found clsid=1 cfd=<fd> size=2',
        'type=item_store key=ba status=stored cmd=append ttl=0 clsid=1 cfd=<fd> size=3',
        'type=item_get key=ba status=found clsid=1 cfd=<fd> size=3',
        'type=item_store key=ba status=stored cmd=prepend ttl=0 clsid=1 cfd=<fd> size=4',
        'type=item_get key=ba status=found clsid=1 cfd=<fd> size=4',
        'type=item_store key=ba status=exists cmd=cas ttl=0 clsid=1 cfd=<fd> size=1',
        'type=item_get key=ba status=found clsid=1 cfd=<fd> size=4',
        'type=item_get key=ba status=not_found clsid=0 cfd=<fd> size=0',
        'type=item_get key=zz_end status=not_found clsid=0 cfd=<fd> size=0',
      ]);
      c.end();
      w.end();
    } finally { await server.stop(); }
  });

  test(`watch: several watchers at once, each with its own kinds [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      const fetchers = await watcher(server, 'watch fetchers\r\n');
      const mutations = await watcher(server, 'watch mutations\r\n');
      const both = await watcher(server, 'watch mutations fetchers\r\n');
      const c = await Client.connect(server.port);
      await play(c, ['set a 0 0 1\r\nx\r\n', 'get a\r\n', 'set zz_end 0 0 1\r\nx\r\n', 'get zz_end\r\n']);
      assert.deepEqual((await linesUntil(fetchers, 'key=zz_end status=found')).map(maskLine), [
        'type=item_get key=a status=not_found clsid=0 cfd=<fd> size=0',
        'type=item_get key=a status=found clsid=1 cfd=<fd> size=1',
        'type=item_get key=zz_end status=not_found clsid=0 cfd=<fd> size=0',
        'type=item_get key=zz_end status=found clsid=1 cfd=<fd> size=1',
      ]);
      assert.deepEqual((await linesUntil(mutations, 'key=zz_end')).map(maskLine), [
        'type=item_store key=a status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
        'type=item_store key=zz_end status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
      ]);
      const all = await linesUntil(both, 'key=zz_end status=found');
      checkHeads(all);
      assert.equal(all.length, 6);
      for (const w of [fetchers, mutations, both]) w.end();
      c.end();
    } finally { await server.stop(); }
  });

  test(`watch: evictions, with the evicted item's fetch, ttl, age and size [${kind}]`, async () => {
    const value = 'v'.repeat(200000);
    const set = (k: string, ttl = 0): string => `set ${k} 0 ${ttl} ${value.length}\r\n${value}\r\n`;
    // Without the LRU maintainer, whose juggling holds items' locks for moments: an allocation that meets one of
    // those skips it and evicts the next item instead (on either server), so which two go first would be timing.
    const server = await serverFor(kind, ['-m', '2', '-o', 'no_lru_maintainer'], true);
    try {
      const w = await watcher(server, 'watch evictions\r\n');
      const c = await Client.connect(server.port);
      await play(c, [set('a'), 'get a\r\n', set('b', 1000)]);
      for (const k of ['c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']) { // each stored, evicting as it must
        await c.send(set(k));
        assert.equal(await c.readLine(), 'STORED', `set ${k}`);
      }
      const lines = await linesUntil(w, 'key=b ');
      checkHeads(lines);
      assert.deepEqual(lines.map((l) => maskLine(l).replace(/ la=\d+/, ' la=<s>').replace(/ ttl=(\d+)/, (_, t: string) =>
        (Number(t) > 990 && Number(t) <= 1000 ? ' ttl=<1000-s>' : ` ttl=${t}`)).replace(/ clsid=\d+/, ' clsid=<n>')), [
        'type=eviction key=a fetch=yes ttl=-1 la=<s> clsid=<n> size=200000',
        'type=eviction key=b fetch=no ttl=<1000-s> la=<s> clsid=<n> size=200000',
      ]);
      w.end();
      c.end();
    } finally { await server.stop(); }
  });

  test(`watch: a watcher that does not read is skipped, then told how many lines it lost [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      const w = await watcher(server, 'watch fetchers\r\n');
      w.pauseReading();
      const c = await Client.connect(server.port);
      // ~40 MB of lines: more than the watcher's buffer and both kernels' socket buffers hold
      const keys = Array.from({ length: 100 }, (_, i) => `${'k'.repeat(240)}${i}`).join(' ');
      for (let round = 0; round < 1000; round++) await play(c, [`get ${keys}\r\n`]);
      w.resumeReading();
      // A marker fetched while the watcher is still full is skipped too: fetch markers until one arrives after
      // the skipped= line (the pause between markers only paces them; each read has Client's bound).
      let done = false;
      const markers = (async (): Promise<void> => {
        while (!done) { await play(c, ['get zz_end\r\n']); await new Promise((r) => setTimeout(r, 20)); }
      })();
      const lines: string[] = [];
      try {
        for (let skippedAt = -1; ;) {
          const l = await w.readLine();
          lines.push(l);
          if (l.startsWith('skipped=') && skippedAt < 0) skippedAt = lines.length - 1;
          if (skippedAt >= 0 && l.includes('key=zz_end ')) break;
        }
      } finally { done = true; await markers; }
      const skips = lines.filter((l) => l.startsWith('skipped='));
      for (const s of skips) assert.match(s, /^skipped=[1-9]\d*$/);
      const at = lines.indexOf(skips[0]);
      assert.match(lines[at + 1] ?? '', /^ts=\d+\.\d+ gid=\d+ type=item_get /, 'a line follows the skipped line');
      const total = skips.reduce((n, s) => n + Number(s.slice(8)), 0);
      await statsUntil(server.port, (st) => Number(st.get('log_watcher_skipped')) >= total);
      assert.ok(Number((await statsOf(server.port)).get('log_watcher_skipped')) >= total);
      w.end();
      c.end();
    } finally { await server.stop(); }
  });

  test(`watch: the log_* stats count lines written, sent and watchers [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      const before = await statsOf(server.port);
      assert.deepEqual(logStats(before), ['0', '0', '0', '0', '0']);
      const w = await watcher(server, 'watch fetchers\r\n');
      const c = await Client.connect(server.port);
      await play(c, ['get a\r\n', 'get b\r\n', 'set c 0 0 1\r\nx\r\n', 'get zz_end\r\n']);
      await linesUntil(w, 'key=zz_end');
      // memcached's logger thread adds its counts to `stats` after it wrote the lines: ask until they are there
      assert.deepEqual(logStats(await statsUntil(server.port, (s) => s.get('log_watcher_sent') === '4')),
        ['0', '4', '0', '4', '1']);
      w.end();
      // a watcher that hung up is gone, and costs nothing more: nothing is written for nobody
      await statsUntil(server.port, (s) => s.get('log_watchers') === '0');
      await play(c, ['get a\r\n']);
      assert.deepEqual(logStats(await statsOf(server.port)), ['0', '4', '0', '4', '0']);
      c.end();
    } finally { await server.stop(); }
  });

  test(`watch: the 21st watcher is refused [${kind}]`, async () => {
    const server = await serverFor(kind, [], true);
    try {
      const ws: Client[] = [];
      for (let i = 0; i < 20; i++) ws.push(await watcher(server, 'watch\r\n'));
      const extra = await Client.connect(server.port);
      await extra.send('watch\r\n');
      assert.equal(await extra.readLine(), 'WATCHER_TOO_MANY log watcher limit reached');
      await play(extra, ['version\r\n']); // still a client
      for (const w of [...ws, extra]) w.end();
    } finally { await server.stop(); }
  });
}

/** A binary request: opcode, key, extras, value, CAS. */
function bin(op: number, key: string, ext: Buffer | string = '', value = '', cas = 0n): Buffer {
  const k = Buffer.from(key), e = Buffer.from(ext), v = Buffer.from(value), h = Buffer.alloc(24);
  h[0] = 0x80; h[1] = op; h.writeUInt16BE(k.length, 2); h[4] = e.length;
  h.writeUInt32BE(e.length + k.length + v.length, 8); h.writeBigUInt64BE(cas, 16);
  return Buffer.concat([h, e, k, v]);
}

function extras(flags: number, exptime: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(flags, 0);
  b.writeUInt32BE(exptime, 4);
  return b;
}

// memcached 1.6.18 logs a refused binary store with command 0 and then crashes reading the class of the item it
// lacks; Cachalot logs the line (cmd=null, as memcached prints command 0; the text protocol's stray clsid and cfd)
// and goes on: a Set's look that unlinks the old value follows, an Add has none.
test('watch: a refused binary store logs cmd=null; a Set then unlinks the old value [cachalot]', async () => {
  const server = await serverFor('cachalot', ['-I', '2k', '-o', 'slab_chunk_max=2048'], true);
  try {
    const w = await watcher(server, 'watch fetchers mutations\r\n');
    const c = await Client.connect(server.port);
    const big = 'v'.repeat(3000);
    await c.send(Buffer.concat([
      bin(0x01, 'ba', extras(0, 0), 'v'), bin(0x02, 'ba', extras(0, 0), big), bin(0x01, 'ba', extras(0, 0), big),
      bin(0x00, 'zz_end'),
    ]));
    const lines = await linesUntil(w, 'key=zz_end ');
    checkHeads(lines);
    assert.deepEqual(lines.map(maskLine).map(maskTtl), [
      'type=item_get key=ba status=not_found clsid=0 cfd=<fd> size=0',
      'type=item_store key=ba status=stored cmd=set ttl=0 clsid=1 cfd=<fd> size=1',
      'type=item_store key=ba status=too_large cmd=null ttl=0 clsid=<fd> cfd=<?> size=0',
      'type=item_store key=ba status=too_large cmd=null ttl=0 clsid=<fd> cfd=<?> size=0',
      'type=item_get key=ba status=found clsid=1 cfd=<fd> size=1',
      'type=item_get key=zz_end status=not_found clsid=0 cfd=<fd> size=0',
    ]);
    c.end();
    w.end();
  } finally { await server.stop(); }
});

const LOG_STATS = ['log_worker_dropped', 'log_worker_written', 'log_watcher_skipped', 'log_watcher_sent', 'log_watchers'];

function logStats(s: Map<string, string>): string[] { return LOG_STATS.map((n) => s.get(n) ?? '?'); }

async function statsOf(port: number): Promise<Map<string, string>> {
  const c = await Client.connect(port);
  try {
    await c.send('stats\r\n');
    const text = (await c.readUntil('END\r\n')).toString('latin1');
    const order = text.split('\r\n').filter((l) => l.startsWith('STAT ')).map((l) => l.split(' '));
    // memcached's order: the logger's lines right after malloc_fails
    const names = order.map((t) => t[1]);
    assert.equal(names.indexOf('log_worker_dropped'), names.indexOf('malloc_fails') + 1);
    assert.deepEqual(names.slice(names.indexOf('log_worker_dropped'), names.indexOf('log_worker_dropped') + 5), LOG_STATS);
    return new Map(order.map((t) => [t[1], t[2]]));
  } finally { c.end(); }
}

/** `stats` until `ok` holds: a bounded wait (Client's bound per ask, at most 200 asks). */
async function statsUntil(port: number, ok: (s: Map<string, string>) => boolean): Promise<Map<string, string>> {
  let s = await statsOf(port);
  for (let i = 0; i < 200 && !ok(s); i++) {
    await new Promise((r) => setTimeout(r, 25));
    s = await statsOf(port);
  }
  return s;
}

spec('watch: refused with -W (memcached\'s --disable-watch)', [
  ['watch\r\n', 'CLIENT_ERROR watch commands not allowed\r\n'],
  ['watch fetchers noreply\r\n', ''],
], { args: ['-W'] });

spec('watch: an unknown kind is an error, and the connection stays a client', [
  ['watch foo\r\n', 'ERROR\r\n'],
  ['watch fetchers bar\r\n', 'ERROR\r\n'],
  ['watch noreply\r\n', ''],
]);

// Replies still queued when `watch` is read (its line came in the same read as the command before it)
// (memcached's resp_has_stack), even a reply that says nothing: a noreply's, a quiet miss's. A flush point (a get's
// END, mn) sends them first.
spec('watch: refused behind a reply not yet sent, silent ones too', [
  ['version\r\nwatch\r\n', 'VERSION 1.6.18\r\nERROR cannot pipeline other commands before watch\r\n'],
  ['incr nokey 1 noreply\r\nwatch\r\n', 'ERROR cannot pipeline other commands before watch\r\n'],
  ['mg nokey q v\r\nwatch\r\n', 'ERROR cannot pipeline other commands before watch\r\n'],
  ['verbosity 1 noreply\r\nwatch noreply\r\nmn\r\n', 'MN\r\n'],
  ['lru_crawler metadump 99\r\nset a 0 0 1 noreply\r\n1\r\nlru_crawler metadump all\r\n',
    'BADCLASS invalid class id\r\nERROR cannot pipeline other commands before metadump\r\n'],
  ['get nokey\r\nmg nokey q v\r\nmn\r\nlru_crawler metadump 99\r\n', 'END\r\nMN\r\nBADCLASS invalid class id\r\n'],
], { split: false });

/**
 * The lines of a seeded mixed script (text, meta and binary on two connections, so on two workers) in the order of
 * their gids. A watcher reads each worker's lines in turn, so the two connections' lines interleave by timing; the
 * gids say the order they were logged in. Each connection ends on a marker, which comes after all of its lines. A
 * lookup that finds an item expired or flushed may, by the maintainer's timing, find it already reclaimed (and a
 * refused cas not find it): the three statuses are one here. The script's replies come first, masked: where
 * memcached alone refuses a counter, they tell againWhileStaleScan to run it again.
 */
async function mixedLines(kind: 'cachalot' | 'memcached', seed: number): Promise<string[]> {
  const server = await serverFor(kind, [], true);
  try {
    const w = await watcher(server, 'watch fetchers mutations\r\n');
    const replies = await runAcross(server.port, [MN_SENTINEL, BINARY_NOOP_SENTINEL], [...mixedScript(seed, 300),
      { conn: TEXT, req: 'get zz_end0\r\n' }, { conn: BINARY, req: binRequest({ opcode: Op.GET, key: 'zz_end1' }) }]);
    const lines = await linesUntil(w, 'key=zz_end');
    const other = lines.at(-1)?.includes('key=zz_end0 ') ? 'key=zz_end1 ' : 'key=zz_end0 ';
    if (!lines.some((l) => l.includes(other))) lines.push(...await linesUntil(w, other));
    w.end();
    lines.sort((x, y) => gid(x) - gid(y));
    checkHeads(lines);
    return [...replies.map((r) => maskMetaTimes(maskReply(r)).toString('latin1')),
      ...lines.map(maskLine).map(maskTtl).map((l) => l.replace(/ status=(expired|flushed|not_found) /, ' status=<gone> '))];
  } finally { await server.stop(); }
}

const gid = (line: string): number => Number(/ gid=(\d+) /.exec(line)?.[1]);

for (const seed of [1, 2]) {
  test(`watch: seeded text, meta and binary commands on two connections log as memcached's, seed ${seed} [cachalot vs memcached]`,
    { skip: kindsFor().length === 2 ? false : 'memcached is not installed' }, async (t) => {
      const ours = await mixedLines('cachalot', seed);
      const rerun = (): Promise<string[]> => mixedLines('memcached', seed);
      assert.deepEqual(ours, await againWhileStaleScan(ours, await rerun(), rerun, (line) => t.diagnostic(line)));
      const logged = ours.filter((line) => line.startsWith('type=')).length;
      assert.ok(logged > 300, `a store logs its lookup and its store, a fetch its lookup: ${logged} lines`);
    });
}
