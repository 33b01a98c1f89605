// The Nagios/Icinga check check_memcached (Debian's monitoring-plugins-contrib, a C program over libmemcached),
// unchanged, against Cachalot and a real memcached. The check reads `stats` (time, cmd_get, cmd_set, get_hits,
// get_misses, evictions) and keeps its history in the server itself, as one item (-k, default "check_memcached";
// expiry -K) of lines `time=... cmd_get=... ...`: it compares the newest stats with the newest history line that
// is at least -T minutes old, warns on too many evictions (-E) or too low a hit/miss ratio (-w), prints the
// deltas (or, with -r, rates per minute) as performance data, and appends its stats to the history (pruned to -n
// lines) when the last line is 30 s old or more. The test writes the history lines it needs through the protocol,
// dated by the server's own clock (no one waits half an hour), runs the check with each option, and reads the
// history back: every run's output, exit status and verbose log (-v), and what the check left in the server,
// must be the same from both servers, but for the clock (see normalize).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Client, WAIT_BOUND_MS } from './support/client.ts';
import type { ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';

const CHECK = '/usr/lib/nagios/plugins/check_memcached';
/** With the LRU maintainer and crawler off, which items go when memory runs out is deterministic (evictions.test.ts). */
const ARGS = ['-m', '2', '-o', 'no_lru_maintainer,no_lru_crawler'];
const V100K = 'v'.repeat(100_000);

/** A history line `minutesAgo` before the server's clock now, with these counters. */
type Past = { minutesAgo: number; cmdGet: number; cmdSet: number; hits: number; misses: number; evictions: number };
const ZEROS = { cmdGet: 0, cmdSet: 0, hits: 0, misses: 0, evictions: 0 };

type Step =
  | { check: string[] }               // run the check with these options (after -H)
  | { history: string; lines: Past[] } // write a history item under this key
  | { read: string }                  // read an item back (the history the check left)
  | { send: string; until: string };  // traffic

/**
 * The time values, which come from the server's clock, less the clock itself:
 * - `time=N` (in the perfdata and in the history) is the server's unix time: it is shown as "T";
 * - `delta_time` is seconds from a history line to now: the test writes lines whole minutes back, and the
 *   server's clock can tick once between that write and the check's `stats`, so it is shown in whole minutes
 *   (the check's own "interval=N mins" and -r's rates per minute come out the same either way: the lines are
 *   100 minutes back for -r, where one second more moves no rate by half a hundredth);
 * - a TTL that -K set (mg's t flag) is shown as "at most K" when it is, for the same tick.
 */
function normalize(text: string, ttl: number): string {
  return text.replace(/\btime=\d+/g, 'time=T')
    .replace(/\bdelta_time=(\d+)/g, (_, s: string) => `delta_time=${Math.floor(Number(s) / 60)} mins`)
    .replace(/^(VA \d+.*) t(\d+)/m, (all, head: string, t: string) => Number(t) > 0 && Number(t) <= ttl ? `${head} t(at most ${ttl})` : all);
}

function steps(): Step[] {
  const hundredMinutes: Past[] = [{ minutesAgo: 100, ...ZEROS }];
  return [
    // a new server: no history yet; the first run writes it, the second finds it too new to add to
    { check: ['-v'] }, { read: 'check_memcached' }, { check: ['-v'] },
    // forty 100 KB values into -m 2, a page of which the history's slab class holds: thirty evicted; then a miss
    // (k0 went) and two hits
    ...Array.from({ length: 40 }, (_, i) => ({ send: `set k${i} 0 0 ${V100K.length}\r\n${V100K}\r\n`, until: 'STORED\r\n' })),
    { send: 'get k0\r\n', until: 'END\r\n' }, { send: 'get k39 k38\r\n', until: 'END\r\n' },
    // against a history 100 minutes old: the evictions (over the default 10) and the hit/miss ratio (the check's
    // own get of its history counts as a hit) warn, at the defaults and at thresholds set either side
    { history: 'check_memcached', lines: hundredMinutes }, { check: [] },
    { history: 'check_memcached', lines: hundredMinutes }, { check: ['-w', '0.5', '-E', '0'] },
    { history: 'check_memcached', lines: hundredMinutes }, { check: ['-w', '5', '-E', '21', '-t', '2'] },
    { history: 'check_memcached', lines: hundredMinutes }, { check: ['-r'] },
    // a history of its own name with three lines: -T 15 picks the newest at least 15 minutes old, -n 2 keeps the
    // last two lines with the new one, -K sets the item's expiry
    {
      history: 'hist', lines: [{ minutesAgo: 100, ...ZEROS },
        { minutesAgo: 20, cmdGet: 1, cmdSet: 10, hits: 1, misses: 0, evictions: 5 },
        { minutesAgo: 10, cmdGet: 2, cmdSet: 20, hits: 1, misses: 1, evictions: 10 }],
    },
    { check: ['-k', 'hist', '-T', '15', '-n', '2', '-K', '60', '-v'] }, { read: 'hist' },
    // an expiry over 30 days is a unix time to memcached: 2592001 is in 1970, so the history is gone at once
    { check: ['-k', 'gone', '-K', '2592001'] }, { read: 'gone' }, { check: ['-k', 'gone', '-K', '2592001', '-v'] },
  ];
}

async function writeHistory(c: Client, key: string, lines: Past[]): Promise<void> {
  const now = Number((await c.stats()).get('time'));
  const value = lines.map((l) => `time=${now - 60 * l.minutesAgo} cmd_get=${l.cmdGet} cmd_set=${l.cmdSet} ` +
    `get_hits=${l.hits} get_misses=${l.misses} evictions=${l.evictions}\n`).join('');
  await c.send(`set ${key} 0 0 ${value.length}\r\n${value}\r\n`);
  await c.readUntil('STORED\r\n');
}

/** `mg key v t`: its header line and value. */
async function metaGet(c: Client, key: string): Promise<string> {
  await c.send(`mg ${key} v t\r\n`);
  const head = await c.readLine();
  const size = /^VA (\d+)/.exec(head);
  return size === null ? head : `${head}\n${(await c.read(Number(size[1]) + 2)).toString('latin1').slice(0, -2)}`;
}

/** The steps against a fresh server of this kind: each check's and read's results, in order. */
async function transcript(kind: ServerKind): Promise<string[]> {
  const server = await serverFor(kind, ARGS, true);
  const c = await Client.connect(server.port);
  const lines: string[] = [];
  let ttl = 0;
  try {
    for (const step of steps()) {
      if ('send' in step) { await c.send(step.send); await c.readUntil(step.until); }
      if ('history' in step) await writeHistory(c, step.history, step.lines);
      if ('read' in step) lines.push(`== mg ${step.read} v t`, normalize(await metaGet(c, step.read), ttl));
      if ('check' in step) {
        const K = step.check.indexOf('-K');
        ttl = K < 0 ? 7200 : Number(step.check[K + 1]);
        const r = spawnSync(CHECK, ['-H', `127.0.0.1:${server.port}`, ...step.check], { encoding: 'utf8', timeout: WAIT_BOUND_MS });
        lines.push(`== check_memcached ${step.check.join(' ')}: exit ${r.status}`, normalize(r.stdout, ttl), normalize(r.stderr, ttl));
      }
    }
    return lines.join('\n').split('\n');
  } finally {
    c.end();
    await server.stop();
  }
}

const skip = !existsSync(CHECK) ? 'monitoring-plugins-contrib is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('check_memcached gives the same verdicts, performance data and history from Cachalot as from memcached', { skip }, async () => {
  const ours = await transcript('cachalot');
  const theirs = await transcript('memcached');
  for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
    assert.equal(ours[i], theirs[i], `line ${i + 1} of the transcript differs`);
  }
  // the verdicts Cachalot's stats led to: the evictions and the hit/miss ratio each warned, and not when set off
  const verdict = (options: string): string => ours[ours.indexOf(`== check_memcached ${options}`) + 1] ?? '';
  assert.match(verdict('-v: exit 0'), /^OK: no stats available yet\. Come back in 30 minutes; \|$/);
  assert.match(verdict(': exit 1'), /^WARNING: Too many evictions: 30; hit\/miss=2\.0; hits=4 misses=2 evictions=30 interval=100 mins\|/);
  assert.match(verdict('-w 0.5 -E 0: exit 0'), /^OK: hit\/miss=2\.5; /);
  assert.match(verdict('-w 5 -E 21 -t 2: exit 1'), /^WARNING: Too many evictions: 30; Low hit\/miss rate: 3\.0; /);
  assert.match(verdict('-r: exit 1'), /\|gets_per_min=0\.09 sets_per_min=0\.48 .* hit_miss_ratio=3\.50$/);
  // the history the check kept: -n 2 lines, expiring within -K; one dated 1970 (-K 2592001) is gone at once
  assert.deepEqual(ours.slice(ours.indexOf('== mg hist v t') + 1, ours.indexOf('== mg hist v t') + 4), ['VA 149 t(at most 60)',
    'time=T cmd_get=2 cmd_set=20 get_hits=1 get_misses=1 evictions=10', 'time=T cmd_get=10 cmd_set=50 get_hits=8 get_misses=2 evictions=30']);
  assert.equal(ours[ours.indexOf('== mg gone v t') + 1], 'EN');
});
