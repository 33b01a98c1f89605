// The benchmark harness runs end to end and its report reads back: a --quick run of workloads 1
// and 6 against memcached, and one of workload 1 against Cachalot and the floor (bench/floor.ts).
// No timing is asserted, only that every measured row has sane, parseable figures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReplyParser } from '../bench/loadgen/reply-parser.ts';
import { bucketLow, bucketOf, newHistogram, percentile, record } from '../bench/loadgen/histogram.ts';
import { parseWorkloadRows } from '../bench/report.ts';
import { MEMCACHED_BIN, REPO_ROOT, Server, unavailableReason } from '../bench/servers.ts';
import { BIG_KEY_LETTER, BIG_VALUE } from '../bench/workloads.ts';
import * as net from 'node:net';

const NODE = process.execPath;
const BENCH = join(REPO_ROOT, 'bench', 'bench.ts');
const noMemcached = unavailableReason('memcached');

function runBench(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(NODE, [BENCH, ...args], { timeout: 50_000, maxBuffer: 1 << 22 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`bench failed: ${err.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

test('bench --quick runs workloads 1 and 6 and writes a report that parses', { timeout: 60_000 }, async (t) => {
  if (noMemcached) {
    t.skip(`skipped: ${noMemcached} (${MEMCACHED_BIN} is the reference the bench compares against)`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  try {
    const out = join(dir, 'RESULTS.md');
    const { stdout, stderr } = await runBench(['--quick', '--only=1,6', '--server=memcached', `--out=${out}`]);
    assert.equal(readFileSync(out, 'utf8'), stdout, 'the results file holds what was printed');
    assert.match(stdout, /quick smoke run/);
    assert.match(stdout, /memcached only: Cachalot was not part of this run/);
    assert.match(stderr, /workload 1 against memcached/);

    const rows = parseWorkloadRows(stdout);
    assert.equal(rows.length, 1, 'one measured row: workload 1 against memcached');
    const [row] = rows;
    assert.equal(row.id, '1');
    assert.equal(row.server, 'memcached');
    assert.ok(row.opsPerSec > 0, `ops/s ${row.opsPerSec}`);
    assert.ok(row.p50Us <= row.p99Us && row.p99Us <= row.p999Us, `percentiles in order: ${JSON.stringify(row)}`);
    assert.ok(row.cpuUsPerOp > 0, `the server used CPU: ${row.cpuUsPerOp}`);
    assert.match(stdout, /\| 1 \|[^\n]*\| 100\.0% \| 0 \|/, 'every get hit and no request failed');

    const memory = /^\| memcached \| 8 \| (\d+) \| (\d+) \| (\d+) \|/m.exec(stdout);
    assert.ok(memory, 'a memory row for memcached under -m 8');
    const [sent, items, evictions] = memory.slice(1).map(Number);
    assert.ok(evictions > 0, 'the fill went on until evictions started');
    assert.ok(items > 0 && items < sent, `items held (${items}) below sets sent (${sent})`);
    assert.match(stdout, /Not measured: this run had memcached only/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --quick --server=cachalot measures workload 1 against Cachalot and the floor', { timeout: 60_000 }, async () => {
  const { stdout, stderr } = await runBench(['--quick', '--only=1', '--server=cachalot', '--out=']);
  assert.match(stderr, /workload 1 against floor/);
  // each server serves the workload unmeasured before its first window (the JIT warm-up), the same for both
  const lines = stderr.split('\n');
  for (const kind of ['cachalot', 'floor']) {
    const warm = lines.indexOf(`bench: workload 1 against ${kind}: 100 ms unmeasured`);
    const first = lines.findIndex((l) => l.startsWith(`bench: workload 1 against ${kind} (-t`));
    assert.ok(warm >= 0 && warm < first, `${kind} warmed before its first window:\n${stderr}`);
  }
  const rows = parseWorkloadRows(stdout);
  assert.deepEqual(rows.map((r) => r.server), ['cachalot', 'floor'], 'a row for each, in that order');
  for (const row of rows) {
    assert.ok(row.opsPerSec > 0 && row.cpuUsPerOp > 0, `${row.server}: ${JSON.stringify(row)}`);
  }
  assert.match(stdout, /\| 1 \|[^\n]*\| floor \|[^\n]*\| 100\.0% \| 0 \|/, 'the floor answered every request');
  assert.match(stdout, /\| 1 \|[^\n]*\| cachalot\/floor \| \d/, 'the ratio row of what Cachalot adds');
});

test('the floor answers gets and sets as workloads 1 and 4 need, across any split of the requests', { timeout: 30_000 }, async () => {
  const floor = await Server.start('floor', { threads: 2, memoryMb: 64, maxConns: 64 });
  try {
    const requests = `get k1\r\nset k2 0 0 5\r\nhel\r\n\r\nget a ${BIG_KEY_LETTER}7\r\nset k3 0 0 1 noreply\r\nx\r\nflush_all\r\n`;
    const value = 'v'.repeat(100);
    const big = 'v'.repeat(BIG_VALUE); // workload 4's keys start with BIG_KEY_LETTER
    const expected = `VALUE k1 0 100\r\n${value}\r\nEND\r\nSTORED\r\n` +
      `VALUE a 0 100\r\n${value}\r\nVALUE ${BIG_KEY_LETTER}7 0 ${BIG_VALUE}\r\n${big}\r\nEND\r\nERROR\r\n`;
    for (const split of [1, 7, 19, 24, requests.length]) {
      assert.equal(await exchange(floor.port, requests, split, expected.length), expected, `written in pieces of ${split}`);
    }
  } finally {
    await floor.stop();
  }
});

/** Write `text` in pieces of `piece` bytes, each after the last was sent; answer the first `want` bytes of reply. */
function exchange(port: number, text: string, piece: number, want: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      got += d;
      if (got.length >= want) { socket.destroy(); resolve(got); }
    });
    socket.on('error', reject);
    const send = (at: number): void => {
      if (at < text.length) socket.write(text.slice(at, at + piece), () => setTimeout(() => send(at + piece), 2));
    };
    socket.on('connect', () => send(0));
  });
}

test('bench refuses an unknown option', async () => {
  await assert.rejects(runBench(['--quick', '--bogus']), /unknown option --bogus/);
});

test('the reply parser finds reply ends across any split of the stream', () => {
  const stream = Buffer.from(
    'VALUE k000000001 0 5\r\nhello\r\nEND\r\nSTORED\r\nEND\r\n' +
    // a value that looks like replies must be skipped by its length, not parsed
    'VALUE k000000002 0 10\r\nEND\r\nEND\r\n\r\nEND\r\nVALUE k3 0 1\r\nx\r\nEND\r\nSERVER_ERROR out of memory\r\n',
  );
  for (let split = 0; split <= stream.length; split++) {
    const p = new ReplyParser();
    const done = p.feed(stream, 0, split) + p.feed(stream, split, stream.length);
    assert.equal(done, 6, `split at ${split}`);
    assert.equal(p.hits, 3, `split at ${split}`);
    assert.equal(p.errors, 1, `split at ${split}`);
  }
  const p = new ReplyParser();
  let done = 0;
  for (let i = 0; i < stream.length; i++) done += p.feed(stream, i, i + 1);
  assert.equal(done, 6, 'one byte at a time');
});

test('latency histogram: buckets are ordered, about 3% wide, and percentiles land in them', () => {
  for (let v = 1; v < 1e7; v = Math.ceil(v * 1.01)) {
    const i = bucketOf(v);
    assert.ok(bucketLow(i) <= v && v < bucketLow(i + 1), `value ${v} in bucket ${i}`);
    assert.ok((bucketLow(i + 1) - bucketLow(i)) / bucketLow(i) <= 1 / 32 + 1e-9 || v < 64);
  }
  const h = newHistogram();
  for (let v = 1; v <= 1000; v++) record(h, v);
  const p50 = percentile(h, 0.5);
  const p99 = percentile(h, 0.99);
  assert.ok(Math.abs(p50 - 500) <= 500 / 32, `p50 ${p50}`);
  assert.ok(Math.abs(p99 - 990) <= 990 / 32, `p99 ${p99}`);
  assert.ok(Number.isNaN(percentile(newHistogram(), 0.5)));
});

test('bench:micro drives the request path in process and prints a cost per request for each mix', { timeout: 60_000 }, async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(NODE, [join(REPO_ROOT, 'bench', 'micro.ts'), '2000'], { timeout: 50_000, env: { ...process.env, MICRO_KEYS: '500' } },
      (err, out, errOut) => (err ? reject(new Error(`micro failed: ${err.message}\n${errOut}`)) : resolve(out)));
  });
  const rows = [...stdout.matchAll(/^(.+?)\s+(\d+) ns\/request$/gm)].map((m) => [m[1].trim(), Number(m[2])] as const);
  assert.deepEqual(rows.map(([name]) => name), ['get 1 key (W1)', 'get 10 keys (W3)', 'get 16 KB (W4)', 'set 100 B', 'set 16 KB (W4)']);
  for (const [name, ns] of rows) assert.ok(ns > 0 && Number.isFinite(ns), `${name}: ${ns}`);
});
