// The start command's preload (strip-once.mjs): every thread of the server loads its sources as the
// JavaScript a child process stripped once, and none loads Node's type stripper for itself.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { preloadArgs, serverNodeArgs, START_SCRIPT } from './command.ts';
import { MMAP_THRESHOLD } from '../main/malloc-tunables.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROBE = 'src/boot/loader-probe.ts';

type ThreadReport = { stripperLoaded: boolean; stackLine: number; fromCache?: boolean };
type ProbeReport = { main: ThreadReport; worker: ThreadReport };

function probe(nodeArgs: string[], root = ROOT): ProbeReport {
  const out = execFileSync(process.execPath, [...nodeArgs, PROBE], { cwd: root, encoding: 'utf8' });
  return JSON.parse(out) as ProbeReport;
}

test('started with the preload, neither the main thread nor a worker loads the type stripper', () => {
  const r = probe(preloadArgs(ROOT));
  assert.equal(r.main.stripperLoaded, false);
  assert.equal(r.worker.stripperLoaded, false);
});

test('without it, every thread loads the stripper (what the preload saves: ~18 MB of RSS a thread)', () => {
  const r = probe([]);
  assert.equal(r.main.stripperLoaded, true);
  assert.equal(r.worker.stripperLoaded, true);
});

test('stack traces give the source\'s own line numbers in every thread', () => {
  const lines = readFileSync(resolve(ROOT, PROBE), 'utf8').split('\n');
  const marked = lines.findIndex((line) => line.includes('// STACK_LINE')) + 1;
  assert.ok(marked > 0);
  const r = probe(preloadArgs(ROOT));
  assert.equal(r.main.stackLine, marked);
  assert.equal(r.worker.stackLine, marked);
});

test('the stripping child prints every source but the tests, as JavaScript', () => {
  const script = resolve(ROOT, 'src/boot/strip-types.mjs');
  const json = execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', script, resolve(ROOT, 'src')],
    { encoding: 'utf8', maxBuffer: 1 << 28 });
  const out = JSON.parse(json) as Record<string, string>;
  const urls = Object.keys(out);
  assert.ok(urls.some((u) => u.endsWith('/src/main.ts')));
  assert.ok(urls.some((u) => u.endsWith('/src/worker/worker.ts')));
  assert.ok(urls.some((u) => u.endsWith('/src/maintainer/maintainer-thread.ts')));
  assert.equal(urls.filter((u) => u.endsWith('.test.ts')).length, 0);
  const command = out[urls.find((u) => u.endsWith('/src/boot/command.ts'))!];
  assert.match(command, /export function preloadArgs\(root {8}\)/, 'the types are blanked, columns kept');
});

test('npm start runs the launcher, and the launcher runs what the tests and the bench run', () => {
  const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  assert.equal(pkg.scripts.start, START_SCRIPT);
  const launcher = readFileSync(resolve(ROOT, START_SCRIPT), 'utf8');
  const exec = /^exec "\$node" (.*) "\$@"$/m.exec(launcher);
  assert.ok(exec, 'the launcher execs node with the server\'s arguments');
  const here = resolve(ROOT, 'bin');
  const fromLauncher = exec[1].split(' ').map((a) => a.replace(/^"\$here\/(.*)"$/, (_m, rel: string) => resolve(here, rel)));
  const used = serverNodeArgs(ROOT).map((a) => (a.startsWith('file:') ? fileURLToPath(a) : a));
  assert.deepEqual(fromLauncher, used);
  assert.ok(launcher.includes(`${MMAP_THRESHOLD[0]}=${MMAP_THRESHOLD[1]}`), 'it sets the tunable the server would exec itself for');
});

test('the stripped sources are kept for the next start, and a changed source strips them anew', () => {
  // A copy of src/ of its own, so that its cache (node_modules/.cache/cachalot/ beside it) is this test's alone.
  const root = mkdtempSync(join(tmpdir(), 'cachalot-strip-cache-'));
  try {
    cpSync(resolve(ROOT, 'src'), join(root, 'src'), { recursive: true });
    const cacheDir = join(root, 'node_modules', '.cache', 'cachalot');
    const kept = (): string[] => readdirSync(cacheDir).filter((name) => /^stripped-[0-9a-f]+\.json$/.test(name));
    assert.equal(probe(preloadArgs(root), root).main.stripperLoaded, false);
    const [first] = kept();
    assert.match(first, /^stripped-[0-9a-f]{32}\.json$/);
    // Marked in the cache only: a start that reads the cache reports the mark, in both threads.
    const file = join(cacheDir, first);
    const cache = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    const url = Object.keys(cache).find((u) => u.endsWith('/src/boot/loader-probe.ts'))!;
    cache[url] = cache[url].replace('return { stripperLoaded:', 'return { fromCache: true, stripperLoaded:');
    writeFileSync(file, JSON.stringify(cache));
    const cached = probe(preloadArgs(root), root);
    assert.deepEqual([cached.main.fromCache, cached.worker.fromCache, cached.main.stripperLoaded], [true, true, false]);
    // Any source changed (a comment in another module): stripped again and kept under a new name. A start that
    // died writing its file left a partial one: one a minute old goes then, a fresh one (another start's) stays.
    const stale = join(cacheDir, `${first}.99999.partial`), writing = join(cacheDir, `${first}.99998.partial`);
    writeFileSync(stale, '{');
    writeFileSync(writing, '{');
    utimesSync(stale, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    appendFileSync(join(root, 'src', 'main.ts'), '// changed\n');
    const fresh = probe(preloadArgs(root), root);
    assert.deepEqual([fresh.main.fromCache, fresh.main.stripperLoaded], [undefined, false]);
    assert.equal(kept().length, 2);
    assert.deepEqual(readdirSync(cacheDir).filter((name) => name.endsWith('.partial')), [`${first}.99998.partial`]);
    rmSync(writing);
    // Of other sources' caches the newest three stay (worktrees may share one node_modules).
    for (let i = 0; i < 3; i++) {
      appendFileSync(join(root, 'src', 'main.ts'), `// changed ${i}\n`);
      probe(preloadArgs(root), root);
    }
    const now = kept();
    assert.equal(now.length, 4);
    assert.ok(!now.includes(first), 'the oldest went');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
