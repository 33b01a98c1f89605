// The results as Markdown: printed, written to bench/RESULTS.md, and read back by the harness test.

import type { Measurement } from './measure.ts';
import type { MemoryResult } from './memory.ts';
import type { GenCost } from './gencost.ts';
import type { ServerKind } from './servers.ts';

export type Row = { id: string; title: string; server: ServerKind; result: Measurement | { error: string } };

export type Results = {
  header: string[];        // date, machine, versions, settings: one bullet each
  rows: Row[];             // workloads 1-5 and 7 (ids "7/t1" ...)
  memory: (MemoryResult | { server: ServerKind; error: string })[];
  genCost: GenCost[];
  servers: ServerKind[];
  quick: boolean;
};

const COLUMNS = ['#', 'workload', 'server', 'ops/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'CPU µs/op',
  'of it sys', 'server cores', 'gen cores', 'limit', 'hits', 'errors'];

export function renderResults(r: Results): string {
  const out: string[] = [];
  out.push(`# Cachalot vs memcached${r.quick ? ' (quick smoke run: numbers are not meaningful)' : ''}`, '');
  for (const h of r.header) out.push(`- ${h}`);
  out.push('');
  const main = r.rows.filter((row) => !row.id.startsWith('7'));
  const scaling = r.rows.filter((row) => row.id.startsWith('7'));
  if (main.length > 0) out.push('## Workloads 1-5 (-t 2 -m 1024 -c 4096)', '', ...workloadTable(main), '');
  if (r.memory.length > 0) out.push('## 6. Memory efficiency: 100-byte values until evictions start', '', ...memoryTable(r.memory), '');
  if (scaling.length > 0) out.push('## 7. Thread scaling: workload 1 with -t 1, 2, 4', '', ...workloadTable(scaling), '');
  if (r.genCost.length > 0) out.push('## Load generator cost (workload 1 against memcached)', '', ...genCostTable(r.genCost), '');
  out.push('## Targets (the profile-and-fix part of issue 5)', '', ...targets(r), '');
  out.push(...NOTES);
  return out.join('\n') + '\n';
}

function line(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function ratioLine(id: string, title: string, name: string, a: Measurement, b: Measurement): string {
  return line([id, title, name, ratio(a.opsPerSec, b.opsPerSec), ratio(a.p50Us, b.p50Us), ratio(a.p99Us, b.p99Us),
    ratio(a.p999Us, b.p999Us), ratio(a.cpuUsPerOp, b.cpuUsPerOp), ratio(a.sysUsPerOp, b.sysUsPerOp), '', '', '', '', '']);
}

function workloadTable(rows: Row[]): string[] {
  const out = [line(COLUMNS), line(COLUMNS.map(() => '---'))];
  const errors: string[] = [];
  const ids = [...new Set(rows.map((r) => r.id))];
  for (const id of ids) {
    const group = rows.filter((r) => r.id === id);
    for (const row of group) {
      const res = row.result;
      if ('error' in res) {
        out.push(line([row.id, row.title, row.server, 'failed', ...COLUMNS.slice(4).map(() => '')]));
        errors.push(`- ${row.id} ${row.server}: ${oneLine(res.error)}`);
        continue;
      }
      out.push(line([row.id, row.title, row.server, fmt(res.opsPerSec, 0), fmt(res.p50Us, 0), fmt(res.p99Us, 0),
        fmt(res.p999Us, 0), fmt(res.cpuUsPerOp, 2), fmt(res.sysUsPerOp, 2), fmt(res.serverCores, 2), fmt(res.genCores, 2), res.limit,
        Number.isNaN(res.hitRate) ? '-' : `${fmt(100 * Math.min(1, res.hitRate), 1)}%`, String(res.errors)]));
      if (res.errors > 0) errors.push(`- ${row.id} ${row.server}: ${res.errors} errors, last: ${oneLine(res.lastError)}`);
    }
    const m = measured(group, 'memcached');
    const c = measured(group, 'cachalot');
    const f = measured(group, 'floor');
    if (m && c) out.push(ratioLine(id, group[0].title, 'cachalot/memcached', c, m));
    if (f && m) out.push(ratioLine(id, group[0].title, 'floor/memcached', f, m));
    if (c && f) out.push(ratioLine(id, group[0].title, 'cachalot/floor', c, f));
  }
  const genBound = rows.filter((r) => !('error' in r.result) && r.result.limit === 'generator');
  if (genBound.length > 0) {
    errors.unshift(`- **The load generator was saturated** in ${genBound.map((r) => `${r.id} ${r.server}`).join(', ')}: ` +
      'there the throughput measured the generator, not the server (CPU µs/op still holds).');
  }
  return errors.length > 0 ? [...out, '', ...errors] : out;
}

function memoryTable(results: Results['memory']): string[] {
  const cols = ['server', '-m MB', 'sets sent', 'items held', 'evictions', 'RSS MB', 'RSS bytes/item', 'RSS at start MB', 'errors'];
  const out = [line(cols), line(cols.map(() => '---'))];
  for (const r of results) {
    if ('error' in r) { out.push(line([r.server, 'failed: ' + oneLine(r.error), ...cols.slice(2).map(() => '')])); continue; }
    out.push(line([r.server, String(r.memoryMb), String(r.setsSent), String(r.items), String(r.evictions),
      fmt(r.rssBytes / 2 ** 20, 1), fmt(r.rssBytes / r.items, 0), fmt(r.rssBaseBytes / 2 ** 20, 1), String(r.errors)]));
  }
  const m = memoryOf(results, 'memcached');
  const c = memoryOf(results, 'cachalot');
  if (m && c) {
    out.push(line(['cachalot/memcached', '', '', ratio(c.items, m.items), '', ratio(c.rssBytes, m.rssBytes),
      ratio(c.rssBytes / c.items, m.rssBytes / m.items), '', '']));
  }
  return out;
}

function genCostTable(costs: GenCost[]): string[] {
  const cols = ['generator', 'ops/s', 'generator CPU µs/op', 'generator cores'];
  return [line(cols), line(cols.map(() => '---')),
    ...costs.map((g) => line([g.generator, fmt(g.opsPerSec, 0), fmt(g.genCpuUsPerOp, 2), fmt(g.genCores, 2)]))];
}

function targets(r: Results): string[] {
  const have = (s: ServerKind) => r.servers.includes(s);
  if (!have('cachalot') || !have('memcached')) {
    return [`Not measured: this run had ${r.servers.join(' and ')} only; the targets need both servers.`];
  }
  const out: string[] = [];
  for (const id of ['1', '2', '3', '4']) {
    const group = r.rows.filter((row) => row.id === id);
    const m = measured(group, 'memcached');
    const c = measured(group, 'cachalot');
    if (group.length === 0) { out.push(`- workload ${id}: not measured (not part of this run)`); continue; }
    if (!m || !c) { out.push(`- workload ${id}: not measured (a run failed)`); continue; }
    out.push(`- workload ${id}: CPU per request ${verdict(c.cpuUsPerOp <= m.cpuUsPerOp, c.cpuUsPerOp, m.cpuUsPerOp, 'µs')}; ` +
      `throughput ${verdict(c.opsPerSec >= m.opsPerSec, c.opsPerSec, m.opsPerSec, 'ops/s')}; ` +
      `p99 within 1.5x ${verdict(c.p99Us <= 1.5 * m.p99Us, c.p99Us, m.p99Us, 'µs')}`);
  }
  const m = memoryOf(r.memory, 'memcached');
  const c = memoryOf(r.memory, 'cachalot');
  out.push(m && c
    ? `- workload 6: at least as many items ${verdict(c.items >= m.items, c.items, m.items, 'items')}`
    : '- workload 6: not measured');
  const missed = out.filter((l) => l.includes('NOT MET') || l.includes('not measured')).length;
  return [missed === 0 ? 'All targets met in this run.' : `${missed} of ${out.length} workloads miss a target or were not measured.`, '',
    ...out, ...floorNote(r)];
}

/** How much of each floor workload's gap is the runtime's own, where the floor ran. */
function floorNote(r: Results): string[] {
  const notes: string[] = [];
  for (const id of new Set(r.rows.filter((row) => row.server === 'floor').map((row) => row.id))) {
    const group = r.rows.filter((row) => row.id === id);
    const m = measured(group, 'memcached'), c = measured(group, 'cachalot'), f = measured(group, 'floor');
    if (!m || !c || !f) continue;
    notes.push('', `Workload ${id}'s floor: Node answering with no cache behind it costs ${ratio(f.cpuUsPerOp, m.cpuUsPerOp)} ` +
      `memcached's CPU per request (${fmt(f.cpuUsPerOp - f.sysUsPerOp, 2)} µs of it user space against memcached's ` +
      `${fmt(m.cpuUsPerOp - m.sysUsPerOp, 2)}); Cachalot costs ${ratio(c.cpuUsPerOp, f.cpuUsPerOp)} the floor's ` +
      `(${fmt(c.cpuUsPerOp - c.sysUsPerOp, 2)} µs user space).`);
  }
  return notes;
}

function verdict(met: boolean, c: number, m: number, unit: string): string {
  return `${met ? 'MET' : 'NOT MET'} (${fmt(c, c < 100 ? 2 : 0)} vs ${fmt(m, m < 100 ? 2 : 0)} ${unit}, ${ratio(c, m)})`;
}

function measured(group: Row[], server: ServerKind): Measurement | null {
  const row = group.find((r) => r.server === server);
  return row && !('error' in row.result) ? row.result : null;
}

function memoryOf(results: Results['memory'], server: ServerKind): MemoryResult | null {
  const r = results.find((x) => x.server === server);
  return r && !('error' in r) ? r : null;
}

/** An error message fit for one table cell or list item. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').replace(/\|/g, '/').trim();
  return flat.length > 300 ? flat.slice(0, 300) + '...' : flat;
}

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function ratio(a: number, b: number): string {
  return Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '-';
}

const NOTES = [
  '## How to read this',
  '',
  '- All servers run on this machine at once (an idle one costs nothing measurable). Each workload runs',
  '  in four windows per server, A B B A A B B A (A B C C B A A B C C B A with the floor; A alternating between',
  '  workloads), each on fresh connections after a warm-up, so a drift in background load favours no',
  '  server; ratios from the same run are what count.',
  '  Every server, once started and prefilled, first serves workload 1 for a few seconds unmeasured, and each',
  '  workload for a few seconds before its first window, so that Cachalot\'s JIT has compiled the paths that',
  '  workload takes: the figures are those of a running cache, which has seen every kind of request, not of',
  '  its start.',
  '- ops/s counts requests: a 10-key multi-get is one. Latency is per request, from the write that sent it',
  '  to the read that completed its reply, in µs (histogram buckets about 3% wide); in workload 2 a',
  '  request waits for its whole batch of 16; in workload 5 it spans connect, get and reply.',
  '- CPU µs/op is the server process\'s user+sys time (/proc/<pid>/stat, all threads, 10 ms ticks) over the',
  '  measured window divided by the requests answered in it: the figure a shared, noisy machine spoils least.',
  '  "of it sys" is the system (kernel) part: the socket reads and writes and the TCP work behind them, which',
  '  both servers pay alike per read and write; the rest is user space, where the servers differ.',
  '- server cores and gen cores are CPU time / wall time. limit says what held throughput back: `generator`',
  '  when the load generator\'s threads were 90% busy (then the server was not what was measured), `server`',
  '  when the server\'s threads were, `machine` when both together filled the cores, `-` otherwise.',
  '- hits is keys found / keys asked: it should be 100% (every key is set before the run).',
  '- floor (workloads 1 and 4) is bench/floor.ts: Node answering the same requests through Cachalot\'s own',
  '  transport with no cache behind it (a get gets a 100-byte value, or 16 KB for workload 4\'s keys; a set is',
  '  skipped), on as many threads.',
  '  floor/memcached is what the runtime alone costs against memcached\'s whole server; cachalot/floor is',
  '  what Cachalot\'s own code adds, the part that profiling can still cut.',
];

export type ParsedRow = {
  id: string; server: string; opsPerSec: number; p50Us: number; p99Us: number; p999Us: number;
  cpuUsPerOp: number; limit: string;
};

/** The measured rows of every workload table in a rendered report (ratio and failed rows left out). */
export function parseWorkloadRows(text: string): ParsedRow[] {
  const rows: ParsedRow[] = [];
  for (const l of text.split('\n')) {
    const cells = l.split('|').slice(1, -1).map((c) => c.trim());
    if (cells.length !== COLUMNS.length || !/^\d/.test(cells[0])) continue;
    if (cells[2] !== 'memcached' && cells[2] !== 'cachalot' && cells[2] !== 'floor') continue;
    if (cells[3] === 'failed') continue;
    rows.push({
      id: cells[0], server: cells[2], opsPerSec: Number(cells[3]), p50Us: Number(cells[4]), p99Us: Number(cells[5]),
      p999Us: Number(cells[6]), cpuUsPerOp: Number(cells[7]), limit: cells[11],
    });
  }
  return rows;
}
