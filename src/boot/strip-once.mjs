// @ts-check
// Preloaded into the main thread by bin/cachalot (which `npm start` runs) with node --import, and from there into every thread
// the server starts (a worker inherits its parent's execArgv). Node strips TypeScript's types with
// a WebAssembly stripper that each thread loads for itself and keeps for its whole life: about
// 18 MB of RSS a thread, some 70 of the ~165 MB a server with -t 2 held at start. Here the main
// thread has a child process strip every source once, shares the JavaScript with the threads it
// starts (worker environment data), and every thread loads its modules from that. No thread of
// the server loads the stripper. A file that is not among them (a test's, say) loads as usual.
// The child's output is kept in node_modules/.cache/cachalot/, named by a hash of Node's version and
// every source's path and contents: the next start with the same sources reads it (a few ms) instead
// of running the child (~0.4 s). Where that folder cannot be read or written, the child runs each time.
//
// Plain JavaScript on purpose: a .ts preload would itself load the stripper.

import './early-signals.mjs'; // first: signals during the start are noted, not Node's to handle
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getEnvironmentData, isMainThread, setEnvironmentData } from 'node:worker_threads';
import { sourceFiles } from './source-files.mjs';

/** The key of the stripped sources in every thread's environment data. */
const STRIPPED_SOURCES = 'cachalot:stripped-sources';

/**
 * The cache file for the sources under srcDir as they are now: its name a hash of Node's version (its
 * stripper) and every source's path and bytes.
 * @param {string} srcDir
 */
function cacheFileFor(srcDir) {
  const hash = createHash('sha256').update(`${process.version}\0`);
  for (const path of sourceFiles(srcDir)) hash.update(`${path}\0`).update(readFileSync(path)).update('\0');
  return join(srcDir, '..', 'node_modules', '.cache', 'cachalot', `stripped-${hash.digest('hex').slice(0, 32)}.json`);
}

/** How many caches of other sources a folder keeps (worktrees sharing one node_modules, a checkout of another commit). */
const KEEP_OTHERS = 3;

/**
 * The child's JSON kept for the next start: written whole under a name of its own, then renamed into
 * place (servers starting at once each write theirs); of the others, the newest few stay. A folder
 * that cannot be written keeps nothing.
 * @param {string} file
 * @param {string} json
 */
function keep(file, json) {
  const dir = join(file, '..');
  try {
    mkdirSync(dir, { recursive: true });
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, json);
    renameSync(partial, file);
    const others = readdirSync(dir).filter((name) => /^stripped-[0-9a-f]+\.json$/.test(name))
      .map((name) => join(dir, name)).filter((path) => path !== file)
      .map((path) => ({ path, mtimeMs: statSync(path).mtimeMs })).sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const { path } of others.slice(KEEP_OTHERS)) rmSync(path, { force: true });
    // a partial file a minute old was left by a start that died writing it
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.partial'))) {
      if (statSync(join(dir, name)).mtimeMs < Date.now() - 60_000) rmSync(join(dir, name), { force: true });
    }
  } catch {
    // read-only, not ours, or another start removed a file first: the next start strips again at worst
  }
}

/**
 * Every TypeScript file under src/, stripped by a child process (or as it stripped them before, from
 * the cache); undefined (and a line on stderr) when that failed, so that every thread strips its own
 * as Node does by default.
 * @returns {Map<string, string> | undefined}
 */
function stripSources() {
  const srcDir = realpathSync(fileURLToPath(new URL('..', import.meta.url)));
  const cacheFile = cacheFileFor(srcDir);
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(cacheFile, 'utf8'))));
  } catch {
    // not kept yet (or unreadable): strip
  }
  const script = fileURLToPath(new URL('./strip-types.mjs', import.meta.url));
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // a preload named there would run in the child and start another child
  try {
    const json = execFileSync(process.execPath, ['--disable-warning=ExperimentalWarning', script, srcDir],
      { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
    const sources = new Map(Object.entries(JSON.parse(json)));
    keep(cacheFile, json);
    return sources;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    writeSync(2, `sources not stripped ahead (${why}): each thread strips its own\n`); // not process.stderr: see src/libc/stdio.ts
    return undefined;
  }
}

/**
 * Modules in sources load as the JavaScript given there, not through Node's stripper.
 * @param {Map<string, string>} sources
 */
function loadStripped(sources) {
  registerHooks({
    load(url, context, nextLoad) {
      const source = sources.get(url);
      if (source === undefined) return nextLoad(url, context);
      return { format: 'module', source, shortCircuit: true };
    },
  });
}

let sources = /** @type {Map<string, string> | undefined} */ (getEnvironmentData(STRIPPED_SOURCES));
if (sources === undefined && isMainThread) {
  sources = stripSources();
  if (sources !== undefined) setEnvironmentData(STRIPPED_SOURCES, sources);
}
if (sources !== undefined) loadStripped(sources);
