// collectd (Debian's collectd-core), the monitoring agent, reading Cachalot and a real memcached through its
// memcached plugin, unchanged: it sends `stats` each interval and maps the STAT lines it knows to metrics
// (items, commands, hits and misses, cache bytes used and free, threads...). A fixed workload first, then
// collectd writes each metric to CSV: the same metrics must come out for both servers, with the same values
// for everything the workload set (what moves with time and the process, uptime, CPU, bytes on the wire and
// connections, is left out).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, WAIT_BOUND_MS } from './support/client.ts';
import { sleep, type ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import { readLog } from './support/child.ts';

const COLLECTD = '/usr/sbin/collectd';
const PLUGINS = '/usr/lib/collectd';
const TYPES = '/usr/share/collectd/types.db';
/** Metrics that move with time, the process or the connections collectd itself makes. */
const VOLATILE = /^(uptime|ps_cputime|memcached_octets|connections-opened|memcached_connections-current)$/;

function config(dir: string, port: number): string {
  return [
    'Interval 1', 'Hostname "h"', 'FQDNLookup false', `BaseDir "${dir}"`, `PIDFile "${join(dir, 'collectd.pid')}"`,
    `PluginDir "${PLUGINS}"`, `TypesDB "${TYPES}"`,
    'LoadPlugin logfile', `<Plugin logfile>\n  LogLevel info\n  File "${join(dir, 'collectd.log')}"\n</Plugin>`,
    'LoadPlugin memcached', 'LoadPlugin csv',
    `<Plugin memcached>\n  <Instance "m">\n    Host "127.0.0.1"\n    Port "${port}"\n  </Instance>\n</Plugin>`,
    `<Plugin csv>\n  DataDir "${join(dir, 'csv')}"\n  StoreRates false\n</Plugin>`, ''].join('\n');
}

/** Items set, read, counted and deleted, so that the counters collectd reports hold known values. */
async function workload(port: number): Promise<void> {
  const c = await Client.connect(port);
  const steps: Array<[string, string]> = [
    ['set a 0 0 1\r\nx\r\n', 'STORED\r\n'], ['set b 0 0 3\r\nyyy\r\n', 'STORED\r\n'], ['set n 0 0 1\r\n5\r\n', 'STORED\r\n'],
    ['get a b\r\n', 'END\r\n'], ['get missing\r\n', 'END\r\n'], ['incr n 2\r\n', '7\r\n'], ['decr nope 1\r\n', 'NOT_FOUND\r\n'],
    ['delete b\r\n', 'DELETED\r\n'], ['delete b\r\n', 'NOT_FOUND\r\n'], ['touch a 100\r\n', 'TOUCHED\r\n'],
  ];
  for (const [send, until] of steps) { await c.send(send); await c.readUntil(until); }
  c.end();
}

/** Each metric's file (less its date) and its first row's values (less the time), once collectd wrote them all. */
async function collect(kind: ServerKind): Promise<Map<string, string>> {
  const server = await serverFor(kind, ['-t', '2'], true);
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-collectd-'));
  try {
    await workload(server.port);
    writeFileSync(join(dir, 'collectd.conf'), config(dir, server.port));
    const child = spawn(COLLECTD, ['-f', '-C', join(dir, 'collectd.conf')], { stdio: 'ignore' });
    const killOnExit = (): void => { child.kill('SIGKILL'); };
    process.on('exit', killOnExit);
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    try {
      return await firstRows(join(dir, 'csv', 'h', 'memcached-m'), dir);
    } finally {
      child.kill('SIGTERM');
      await exited;
      process.off('exit', killOnExit);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every metric's first reading, once the second reading of uptime is written (a second later: the first
 * reading's files are all written by then; collectd writes them from its own threads).
 */
async function firstRows(csv: string, dir: string): Promise<Map<string, string>> {
  const rowsOf = (f: string): string[] => readFileSync(join(csv, f), 'utf8').split('\n').slice(1).filter((r) => r !== '');
  for (const deadline = Date.now() + 2 * WAIT_BOUND_MS; ; await sleep(100)) {
    const files = existsSync(csv) ? readdirSync(csv) : [];
    const uptime = files.find((f) => f.startsWith('uptime-'));
    if (uptime !== undefined && rowsOf(uptime).length >= 2) {
      return new Map(files.map((f) => {
        const row = rowsOf(f)[0] ?? '';
        return [f.replace(/-\d{4}-\d{2}-\d{2}$/, ''), row.slice(row.indexOf(',') + 1)];
      }));
    }
    assert.ok(Date.now() < deadline, `collectd wrote no second reading; its log:\n${readLog(join(dir, 'collectd.log'))}`);
  }
}

const skip = !existsSync(COLLECTD) || !existsSync(join(PLUGINS, 'memcached.so')) ? 'collectd-core is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('collectd\'s memcached plugin reads the same metrics from Cachalot as from memcached', { skip }, async () => {
  const ours = await collect('cachalot');
  const theirs = await collect('memcached');
  assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), 'the same metrics');
  const stable = (m: Map<string, string>): string[] => [...m].filter(([k]) => !VOLATILE.test(k)).map(([k, v]) => `${k} ${v}`).sort();
  assert.deepEqual(stable(ours), stable(theirs), 'the same values, but for those that move with time');
  // the workload's own numbers, as collectd read them from Cachalot
  assert.equal(ours.get('memcached_items-current'), '2.000000', 'a and n');
  assert.equal(ours.get('memcached_command-set'), '3');
  assert.equal(ours.get('memcached_ops-hits'), '2');
  assert.equal(ours.get('memcached_ops-misses'), '1');
  assert.equal(ours.get('memcached_ops-incr_hits'), '1');
  assert.equal(ours.get('memcached_ops-delete_misses'), '1');
});
