// Munin's memcached plugins (Debian's munin-plugins-extra: the Perl script memcached_, linked as memcached_bytes,
// memcached_counters and memcached_rates, one graph each), unchanged, reading Cachalot and a real memcached. Each
// link runs in every mode it has, as munin-run runs a plugin (the script alone, host and port in its environment,
// the mode as its argument): `config` (the graph's definition), `autoconf` (can it reach the server), `suggest`
// (which links to make) and fetch (no argument: one `stats` over Cache::Memcached, a value line per field). The
// same scripted traffic first, then the same runs in the same order: both transcripts must read the same, but for
// the two byte counts, where the test's own polls and the process show through (see normalize).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, WAIT_BOUND_MS } from './support/client.ts';
import { sleep, type ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';

const PERL = '/usr/bin/perl'; // Debian's, where Cache::Memcached is
const PLUGIN = '/usr/share/munin/plugins/memcached_';
const GRAPHS = ['bytes', 'counters', 'rates'];
const MODES = ['config', 'autoconf', 'suggest', 'fetch'];
const STATS = 'stats\r\n';

/** Items set, read, counted and deleted, so that the fields the plugins fetch hold known values. */
async function workload(c: Client): Promise<void> {
  const steps: Array<[string, string]> = [
    ['set a 0 0 1\r\nx\r\n', 'STORED\r\n'], ['set b 0 0 3\r\nyyy\r\n', 'STORED\r\n'], ['set n 0 0 1\r\n5\r\n', 'STORED\r\n'],
    ['get a b\r\n', 'END\r\n'], ['get missing\r\n', 'END\r\n'], ['incr n 2\r\n', '7\r\n'], ['decr nope 1\r\n', 'NOT_FOUND\r\n'],
    ['delete b\r\n', 'DELETED\r\n'], ['delete b\r\n', 'NOT_FOUND\r\n'], ['touch a 100\r\n', 'TOUCHED\r\n'],
  ];
  for (const [send, until] of steps) { await c.send(send); await c.readUntil(until); }
}

/**
 * Wait until the server has seen every earlier run's connection close, so that each run finds the same open
 * connections (the test's and the run's own): a plugin's process exits as it prints, and the server takes the
 * hang-up in its own time. Returns how many `stats` that took, for normalize to take their bytes out.
 */
async function settled(control: Client): Promise<number> {
  for (let polls = 1, deadline = Date.now() + WAIT_BOUND_MS; ; polls++, await sleep(10)) {
    if ((await control.stats()).get('curr_connections') === '1') return polls;
    assert.ok(Date.now() < deadline, 'a closed connection is still counted as open');
  }
}

/**
 * A fetch's values, less what the test itself moved or what moves with the process:
 * - bytes_read counts the test's own `stats` polls (settled), whose number depends on how soon each server took
 *   a hang-up: their bytes are taken out, so the value is the traffic's and the plugins' alone;
 * - bytes_written counts the replies to every earlier `stats`, the plugins' and the polls', and those carry pid,
 *   uptime, time and rusage, whose lengths differ from run to run and from server to server: only its presence
 *   is kept.
 */
function normalize(out: string, polledBytes: number): string {
  return out
    .replace(/^(memcache_bytes_read\.value) (\d+)$/m, (_, k: string, v: string) => `${k} ${Number(v) - polledBytes}`)
    .replace(/^(memcache_bytes_written\.value) \d+$/m, '$1 (a count)');
}

/** Every graph's every mode, in one order, against a fresh server of this kind after the workload. */
async function transcript(kind: ServerKind, links: string): Promise<string[]> {
  const server = await serverFor(kind, ['-t', '2'], true);
  const control = await Client.connect(server.port);
  try {
    await workload(control);
    const lines: string[] = [];
    let polledBytes = 0;
    for (const graph of GRAPHS) {
      for (const mode of MODES) {
        polledBytes += STATS.length * await settled(control);
        const r = spawnSync(join(links, `memcached_${graph}`), mode === 'fetch' ? [] : [mode], {
          encoding: 'utf8', timeout: WAIT_BOUND_MS,
          // Perl orders a hash's keys by a seed it draws per process, and config prints the graph's attributes in
          // that order: a fixed seed makes the two servers' config runs print theirs in the same order.
          env: { ...process.env, host: '127.0.0.1', port: String(server.port), PERL_HASH_SEED: '0', PERL_PERTURB_KEYS: '0' },
        });
        lines.push(`== memcached_${graph} ${mode}: exit ${r.status}`, normalize(r.stdout, polledBytes), r.stderr);
      }
    }
    return lines.join('\n').split('\n');
  } finally {
    control.end();
    await server.stop();
  }
}

const skip = !existsSync(PLUGIN) ? 'munin-plugins-extra is not installed'
  : spawnSync(PERL, ['-MCache::Memcached', '-e', '1'], { stdio: 'ignore' }).status !== 0 ? 'libcache-memcached-perl is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('Munin\'s memcached plugins print the same graphs and values for Cachalot as for memcached', { skip }, async () => {
  const links = mkdtempSync(join(tmpdir(), 'cachalot-munin-'));
  try {
    for (const graph of GRAPHS) symlinkSync(PLUGIN, join(links, `memcached_${graph}`)); // as munin-node-configure links them
    const ours = await transcript('cachalot', links);
    const theirs = await transcript('memcached', links);
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
      assert.equal(ours[i], theirs[i], `line ${i + 1} of the transcript differs`);
    }
    // each mode did its work against Cachalot: a whole graph definition, a reachable server, the three links
    const runOf = (graph: string, mode: string): string[] => {
      const at = ours.indexOf(`== memcached_${graph} ${mode}: exit 0`);
      assert.ok(at >= 0, `memcached_${graph} ${mode} exited 0`);
      const next = ours.findIndex((l, i) => i > at && l.startsWith('== '));
      return ours.slice(at + 1, next < 0 ? undefined : next);
    };
    assert.ok(runOf('rates', 'config').includes('graph_order memcache_cache_hits memcache_cache_misses memcache_cmd_get ' +
      'memcache_cmd_set memcache_total_connections memcache_total_items '));
    assert.deepEqual(runOf('bytes', 'autoconf').filter((l) => l !== ''), ['yes']);
    assert.deepEqual(runOf('counters', 'suggest').filter((l) => l !== ''), ['bytes', 'counters', 'rates']);
    // the workload's numbers, as the plugins fetched them from Cachalot
    assert.ok(runOf('bytes', 'fetch').includes('memcache_bytes_read.value 135'), 'the workload\'s 128 bytes and the fetch\'s stats');
    const counters = runOf('counters', 'fetch');
    assert.ok(counters.includes('memcache_curr_items.value 2'), 'a and n');
    assert.ok(counters.includes('memcache_curr_connections.value 2'), 'the test\'s connection and the plugin\'s');
    const rates = runOf('rates', 'fetch');
    for (const line of ['memcache_cache_hits.value 2', 'memcache_cache_misses.value 1', 'memcache_cmd_get.value 3',
      'memcache_cmd_set.value 3', 'memcache_total_items.value 3']) assert.ok(rates.includes(line), line);
  } finally {
    rmSync(links, { recursive: true, force: true });
  }
});
