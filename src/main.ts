// Cachalot's entry point: memcached's main(). Parse memcached's flags, build the shared store,
// start -t workers and wait until every one is ready (thread_init), then listen and dispatch.

import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseSettings } from './settings.ts';
import { errnoAfterPerror, forwardStdio, writeErr, writeOut } from './stdio.ts';
import { dirname } from 'node:path';
import { storeSettingsOf } from './settings/report.ts';
import type { Settings } from './settings.ts';
import { Store } from './store/store.ts';
import { createStore, preallocationShortfall } from './store/create.ts';
import { lockTableRefusal } from './store/locks.ts';
import { G } from './store/layout.ts';
import type { StoreSettings, StoreShared } from './store/create.ts';
import { restartCheck, restartOpenFile, restartRestore, restartSave } from './store/restart.ts';
import type { RestartMeta, RestartSettings } from './store/restart.ts';
import { startMaintainer } from './maintainer/maintainer.ts';
import type { Maintainer } from './maintainer/maintainer.ts';
import { createServerCtl, Ctl, ServerCtl } from './server-ctl.ts';
import { createConnTable, ConnRow, ConnTable } from './stats/conn-table.ts';
import { memcachedStateName } from './worker/conn.ts';
import { verbosityChanged } from './logger/logger.ts';
import { createPrefixStats } from './stats/prefix-stats.ts';
import { socketErrorCode, strerrorOf, strerrorOfSocket } from './errno.ts';
import { removePidFile, savePid } from './pid-file.ts';
import { assumeIdentity } from './assume-identity.ts';
import { slabClassSizes, slabClassTable } from './store/slabs.ts';
import { Dispatcher, ListenError } from './dispatcher/dispatcher.ts';
import { nofileRefusal } from './dispatcher/fd-budget.ts';
import { raiseCoreLimit } from './rlimits.ts';
import { authfileLoad, AuthfileResult } from './auth/authfile.ts';
import type { AuthEntries } from './auth/authfile.ts';
import { listenFailureLine, parseListenSpecs, resolveListenSpecs } from './settings/listen-spec.ts';
import type { ListenSpec } from './settings/listen-spec.ts';
import type { Listener } from './dispatcher/dispatcher.ts';
import type { WorkerInit, WorkerMessage, DispatcherMessage } from './worker/worker.ts';
import { sessionCacheBuffer } from './tls/session-cache.ts';
import { HUGETLB, hugePageSize, largeChunkReport, readMeminfo } from './large-pages.ts';
import { MMAP_THRESHOLD, reexecWithTunables } from './malloc-tunables.ts';
import type { CertFiles } from './tls/secure-context.ts';

const WORKER_URL = new URL('./worker/worker.ts', import.meta.url);
const CONN_TABLE_HEADROOM = 64;

async function main(): Promise<void> {
  const signals = catchSignals(); // memcached's first step: a signal during the start is not lost
  const parsed = parseSettings(process.argv.slice(2), process.env);
  if (parsed.kind === 'exit') {
    writeOut(parsed.stdout);
    writeErr(parsed.stderr);
    process.exit(parsed.code);
  }
  const settings = parsed.settings;
  // -L without -e: memcached's alloc_large_chunk, its one chunk of item memory in huge pages (here glibc's, once this
  // process runs with its tunable)
  const largeChunk = settings.preallocate && settings.memoryFile === null;
  reexecWithTunables(largeChunk ? [MMAP_THRESHOLD, HUGETLB] : [MMAP_THRESHOLD]); // when the launcher did not set them
  for (const w of parsed.warnings) writeErr(w + '\n');
  const tlsFiles = settings.tls.enabled ? await sslInit(settings) : null; // read as root, as memcached reads them
  checkLimits(settings);
  // -d's starter stays root: the daemon it spawns starts over, and reads the certificates as root too
  if (!(settings.daemonize && !isDaemonChild())) assumeIdentity(settings.user);
  const authEntries = settings.authFile !== null ? checkAuthFile(settings.authFile, settings.udpPort) : null;
  const specs = await listenSpecsOrExit(settings);
  if (settings.daemonize && daemonize(settings.verbose > 0) === 'starter') return; // it exits once the daemon listens
  // -k: memcached's mlockall() of every page, now and future; Node has no such call, so memcached's word for a
  // platform without it
  if (settings.lockMemory) writeErr('warning: -k invalid, mlockall() not supported on this platform.  proceeding without.\n');
  const storeShared = storeInit(settings, largeChunk);
  const ctlSab = createServerCtl(settings.verbose, settings.napiIds, settings.ext);
  const connTableSab = createConnTable(settings.maxConns + CONN_TABLE_HEADROOM + specs.length + 1); // + the listeners' rows
  const prefixStatsSab = createPrefixStats(settings.detailEnabled);
  const clock = new Store(storeShared, 0);
  verbosityChanged(clock, 0, settings.verbose); // -vvv: every lookup prints its line

  const tlsTicketKeys = settings.tls.enabled ? randomBytes(48) : null; // one set for every worker's context
  // memcached's one SSL_CTX keeps one session cache (-o ssl_session_cache): every worker's TLS sockets share this one
  const tlsSessionCache = settings.tls.enabled && settings.tls.sessionCache ? sessionCacheBuffer() : null;
  const workers = await startWorkers(settings, (thread) => ({
    store: storeShared, ctl: ctlSab, connTable: connTableSab, prefixStats: prefixStatsSab, settings, thread, tlsTicketKeys,
    tlsSessionCache, tlsFiles, authEntries,
  }));
  const maintainer = startMaintainer(storeShared, ctlSab);
  if (settings.verbose > 2) writeErr(backgroundThreadsStarting(settings));
  const connTable = new ConnTable(connTableSab, settings.threads);
  const ctl = new ServerCtl(ctlSab);
  const dispatcher = new Dispatcher(settings, specs, ctl, connTable, workers);
  const listeners = await serverSocketsOrExit(dispatcher, settings, clock);
  // memcached writes it only in its TCP/UDP branch: with -s, no file
  if (settings.portFilename !== null && settings.socketPath === null) writePortFile(settings.portFilename, listeners);
  if (settings.pidFile !== null) savePid(settings.pidFile);
  if (settings.daemonize) daemonReady();

  const tick = setInterval(() => clockHandler(clock, signals, settings, workers), 1000);
  handleStops({ settings, ctl, connTable, dispatcher, workers, maintainer, storeShared, clock, tick }, signals);
}

type StopHow = 'graceful' | 'immediate';

/**
 * The signals memcached handles, caught from the first step of the start, as memcached sets its handlers first:
 * a stop asked for before the server runs is kept (the last one asked wins, as it does in memcached's
 * stop_main_loop) and acted on once it runs; SIGHUP is noted for the clock (sighup_handler). Node's own meanings
 * (SIGUSR1 opens its inspector, the others end the process) never apply.
 */
type Signals = { stop: StopHow | null; hup: boolean; onStop: ((how: StopHow) => void) | null };

/** What src/boot/early-signals.mjs noted before this module ran (when the server was started with it preloaded). */
type EarlySignals = { stop: StopHow | null; hup: boolean; listeners: Array<[NodeJS.Signals, () => void]> };

function catchSignals(): Signals {
  const signals: Signals = { stop: null, hup: false, onStop: null };
  const early = (globalThis as Record<symbol, EarlySignals | undefined>)[Symbol.for('cachalot:early-signals')];
  if (early !== undefined) { // what they noted (a signal not yet delivered comes to the handlers below)
    signals.stop = early.stop;
    signals.hup = early.hup;
  }
  const stop = (how: StopHow): void => {
    if (signals.onStop !== null) signals.onStop(how);
    else signals.stop = how;
  };
  process.on('SIGTERM', () => stop('immediate'));
  process.on('SIGINT', () => stop('immediate'));
  process.on('SIGUSR1', () => stop('graceful'));
  process.on('SIGHUP', () => { signals.hup = true; });
  // the early ones go only now: a signal's last listener gone, Node stops watching it, and one pending is lost
  for (const [signal, handler] of early?.listeners ?? []) process.off(signal, handler);
  return signals;
}

/**
 * memcached's clock_handler: the clock, and after a SIGHUP the -Y file read again. A file that can no longer be
 * read leaves the entries as they were; under -d SIGHUP is ignored.
 */
function clockHandler(clock: Store, signals: Signals, settings: Settings, workers: Worker[]): void {
  clock.clockTick();
  if (!signals.hup) return;
  signals.hup = false;
  if (settings.authFile === null || settings.daemonize) return;
  const r = authfileLoad(settings.authFile);
  if (r.entries === null) return;
  for (const w of workers) w.postMessage({ type: 'authfile', entries: r.entries } satisfies WorkerMessage);
}

/** What a stop takes down. */
type Running = {
  settings: Settings; ctl: ServerCtl; connTable: ConnTable; dispatcher: Dispatcher; workers: Worker[];
  maintainer: Maintainer; storeShared: StoreShared; clock: Store; tick: NodeJS.Timeout;
};

/**
 * memcached's stop: EXIT_NORMALLY (SIGTERM, SIGINT, `shutdown`), or GRACE_STOP (SIGUSR1, `shutdown graceful`),
 * which saves -e's cache.
 */
function handleStops(r: Running, signals: Signals): void {
  let stopping = false;
  const shutdown = async (how: StopHow): Promise<void> => {
    if (stopping) return;
    stopping = true;
    clearInterval(r.tick);
    const { settings } = r;
    const verbose = r.ctl.get(Ctl.verbosity); // as the `verbosity` command left it
    if (how === 'graceful') writeErr('Gracefully stopping\n' + (verbose > 0 ? stopThreadsLines(settings, r.connTable, verbose, r.clock.c32[G.lruCrawler] !== 0) : ''));
    else if (verbose > 0) writeErr('Exiting normally\n');
    await r.dispatcher.close();
    await stopWorkers(r.workers);
    await r.maintainer.stop();
    if (how === 'graceful' && settings.memoryFile !== null) {
      writeErr(restartSave(r.storeShared, settings.memoryFile, restartSettingsOf(settings),
        { currentTime: r.clock.currentTime(), processStarted: r.clock.processStarted() }));
    }
    if (settings.pidFile !== null && settings.daemonize) removePidFile(settings.pidFile);
    process.exit(0);
  };
  signals.onStop = (how) => void shutdown(how);
  for (const w of r.workers) {
    w.on('message', (m: DispatcherMessage) => { if (m.type === 'shutdown') void shutdown(m.how); });
  }
  if (signals.stop !== null) void shutdown(signals.stop); // asked for while the server started
}

/** -r's core file limit and -c's file descriptors: memcached stops the start on either (EX_OSERR). */
function checkLimits(settings: Settings): void {
  const core = settings.enableCoredumps ? raiseCoreLimit() : null;
  if (core !== null) { writeErr(core + '\n'); process.exit(71); }
  const nofile = nofileRefusal(settings.maxConns);
  if (nofile !== null) { writeErr(nofile + '\n'); process.exit(71); }
}

/**
 * The shared store, as memcached's assoc_init, slabs_init (with -e: restart_mmap_open first, the saved items
 * after) and memcached_thread_init's lock table make theirs; memcached's refusals on the way end the start.
 */
function storeInit(settings: Settings, largeChunk: boolean): StoreShared {
  const saved = settings.memoryFile !== null ? restartOpen(settings.memoryFile, restartSettingsOf(settings)) : null;
  if (saved !== null && saved.hashpower !== null) { // the saved table's size is hashpower_init now
    if (saved.hashpower > HASHPOWER_MAX) { writeErr('Failed to init hashtable.\n'); process.exit(1); } // assoc_init's calloc
    settings.hashpowerInit = saved.hashpower;
  }
  if (largeChunk) { // slabs_init's alloc_large_chunk: it may fall back to no preallocation
    const chunk = largeChunkReport(hugePageSize(readMeminfo()), settings.verbose);
    writeErr(chunk.stderr);
    settings.preallocate = chunk.preallocated;
  }
  const storeSettings = storeSettingsOf(settings, os.totalmem());
  if (settings.verbose > 1) { // slabs_init prints the classes before it preallocates (and may refuse, below)
    const sizes = slabClassSizes(storeSettings.chunkSizeMin, storeSettings.factor, storeSettings.slabChunkMax, storeSettings.slabSizes);
    writeErr(slabClassTable(sizes, storeSettings.slabPageSize));
  }
  const shortfall = preallocationShortfall(storeSettings);
  if (shortfall !== null) { writeErr(shortfall + '\n'); process.exit(1); }
  const lockRefusal = lockTableRefusal(settings.threads, settings.hashpowerInit); // memcached_thread_init's check
  if (lockRefusal !== null) { writeErr(lockRefusal + '\n'); process.exit(1); }
  const storeShared = createStoreOrExit(storeSettings);
  warnArenaShort(storeShared, settings);
  if (saved !== null && settings.memoryFile !== null) restartRestore(storeShared, settings.memoryFile, saved, logLine);
  return storeShared;
}

/** memcached's server_sockets: every listener open, or the start ends with its message (EX_OSERR). */
async function serverSocketsOrExit(dispatcher: Dispatcher, settings: Settings, clock: Store): Promise<Listener[]> {
  if (settings.socketPath === null && settings.port < -1) {
    // memcached's getaddrinfo takes port -1 as 0 (any free port); any other negative port names no service
    writeErr(`getaddrinfo(): Servname not supported for ai_socktype\nfailed to listen on ${listenWhere(settings, null)}: Success\n`);
    process.exit(71);
  }
  return dispatcher.listen(clock.currentTime()).catch((err: unknown) => {
    if (err instanceof ListenError && err.transport === 'UNIX') { // server_socket_unix's perror, then main's vperror
      const why = unixBindError(err, settings.socketPath ?? '');
      writeErr(`bind(): ${why}\nfailed to listen on UNIX socket: ${settings.socketPath}: ${errnoAfterPerror(why)}\n`);
      return process.exit(71);
    }
    // server_socket skips an address in use without a word; any other failure to bind it perrors first
    const why = strerrorOfSocket(err);
    const bindLine = socketErrorCode(err) !== 'EADDRINUSE';
    writeErr(bindLine ? `bind(): ${why}\nfailed to listen on ${listenWhere(settings, err)}: ${errnoAfterPerror(why)}\n`
      : `failed to listen on ${listenWhere(settings, err)}: ${why}\n`);
    return process.exit(71); // EX_OSERR
  });
}

/**
 * bind(2)'s error for the unix socket: libuv reports ENOENT (no such directory, or one where no file can be made,
 * as /proc) as EACCES. So EACCES is taken for ENOENT unless the directory is there and may not be written.
 */
function unixBindError(err: unknown, path: string): string {
  const why = strerrorOfSocket(err);
  if (socketErrorCode(err) !== 'EACCES') return why;
  try {
    fs.accessSync(dirname(path), fs.constants.W_OK | fs.constants.X_OK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EACCES') return why;
  }
  return strerrorOfSocket({ code: 'ENOENT' });
}

const DAEMON_CHILD = 'CACHALOT_DAEMON_CHILD';

/** The daemon's end of the pipe its starter waits on (the child's fd 3). */
const DAEMON_READY_FD = 3;

/**
 * memcached's daemonize (-d): the server goes on in a child of its own session, its stdio on /dev/null unless
 * -v, and this process exits 0. SIGHUP is ignored, as memcached does. Unlike memcached it keeps its working
 * directory: Node's worker threads resolve their preload against it.
 *
 * memcached's parent exits at once, and its child listens a few milliseconds later. A Node child takes a few
 * hundred (its threads, with TLS its certificates in each), and a script that connects as soon as
 * `memcached -d` returns (memcached's own t/daemonize.t over TLS, for one) would find nothing listening. So this
 * process waits on a pipe until the child says it listens (daemonReady), or the pipe closes because the child
 * could not start (memcached's parent is gone by then too, and exited 0).
 */
function daemonize(verbose: boolean): 'daemon' | 'starter' {
  if (isDaemonChild()) return 'daemon'; // SIGHUP is then ignored (clockHandler)
  const io = verbose ? 'inherit' : 'ignore';
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true, stdio: [io, io, io, 'pipe'], env: { ...process.env, [DAEMON_CHILD]: '1' },
  });
  child.unref();
  const ready = child.stdio[DAEMON_READY_FD];
  if (ready === null || ready === undefined) process.exit(0);
  ready.on('data', () => process.exit(0));
  ready.on('close', () => process.exit(0));
  ready.on('error', () => process.exit(0));
  return 'starter';
}

function isDaemonChild(): boolean { return process.env[DAEMON_CHILD] === '1'; }

/**
 * The store's shared memory, with a row per thread for its statistics and log: a -t too large for that is
 * memcached's failed calloc of its thread descriptors (exit 1), not a stack trace.
 */
function createStoreOrExit(s: StoreSettings): StoreShared {
  try {
    return createStore(s);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    writeErr("Can't allocate thread descriptors: Cannot allocate memory\n");
    return process.exit(1);
  }
}

/** What memcached's vperror after server_sockets names: the -l list when one was given, else the port. */
function listenWhere(settings: Settings, err: unknown): string {
  if (settings.listenSpecified) return `one of interface(s) ${settings.listen.join(',')}`;
  return err instanceof ListenError ? `${err.transport} port ${err.port}` : `TCP port ${settings.port}`;
}

/**
 * What memcached's stop_threads says at -v as a graceful stop takes its threads down, in its order, with
 * conn_close_all's line for every connection (listeners and UDP ports included) at -vv, lowest fd first.
 */
function stopThreadsLines(settings: Settings, connTable: ConnTable, verbose: number, crawlerOn: boolean): string {
  const lines = ['stopped assoc', 'asking workers to stop', 'asking background threads to stop'];
  // at -vvv the two threads say so as they go: the crawler, woken, first goes back to sleep
  if (verbose > 2 && crawlerOn) lines.push('LRU crawler thread sleeping', 'LRU crawler thread stopping');
  lines.push('stopped lru crawler');
  if (settings.lruMaintainer) lines.push(...(verbose > 2 ? ['LRU maintainer thread stopping'] : []), 'stopped maintainer');
  if (settings.slabReassign) lines.push('stopped slab mover');
  lines.push('stopped logger thread', 'stopped idle timeout thread', 'closing connections');
  if (verbose > 1) {
    for (let r = 0; r < connTable.rows; r++) {
      if (!connTable.used(r)) continue;
      const id = connTable.idOf(r);
      lines.push(`<${id} connection closed.`);
      if (verbose > 2) lines.push(`${id}: going from ${memcachedStateName(connTable.get(r, ConnRow.state))} to conn_closed`);
    }
  }
  lines.push('reaping worker threads', 'all background threads stopped');
  return lines.map((l) => l + '\n').join('');
}

/** What memcached's background threads say at -vvv as they start, before it listens. */
function backgroundThreadsStarting(settings: Settings): string {
  return (settings.lruCrawler ? 'Starting LRU crawler background thread\n' : '') +
    (settings.lruMaintainer ? 'Starting LRU maintainer background thread\n' : '');
}

/** The daemon listens: its starter may exit. */
function daemonReady(): void {
  if (!isDaemonChild()) return;
  try {
    fs.writeSync(DAEMON_READY_FD, 'ready\n');
    fs.closeSync(DAEMON_READY_FD);
  } catch { /* started some other way, with no pipe on fd 3: nobody waits */ }
}

/** -Y: memcached refuses to start on a missing or malformed auth file, or with -U, with its message. */
function checkAuthFile(path: string, udpPort: number): AuthEntries {
  if (udpPort !== 0) { // a UDP connection serves every sender: one login would let in all of them
    writeErr('Cannot use UDP with ascii authentication enabled (-U 0 to disable)\n');
    process.exit(64); // EX_USAGE
  }
  const r = authfileLoad(path);
  if (r.result === AuthfileResult.OK && r.entries !== null) return r.entries;
  writeErr(r.error);
  return process.exit(1);
}

/**
 * memcached takes any -m and mallocs pages as they are needed, failing past what the machine gives. The arena
 * is reserved at start, as one buffer whose item references reach 16 GB: a larger -m, or one the address space
 * will not take, runs with the arena there is, and says so.
 */
function warnArenaShort(shared: StoreShared, settings: Settings): void {
  const held = shared.maxPages * settings.slabPageSize;
  if (held >= settings.maxBytes) return;
  writeErr(`Warning: -m ${settings.maxBytes / (1024 * 1024)} is more memory than could be reserved; ` +
    `the cache holds at most ${held / (1024 * 1024)} megabytes.\n`);
}

function logLine(line: string): void { writeErr(line + '\n'); }

/** The largest hash table -o hashpower takes; memcached's calloc of a larger one fails as a meta file asks for it. */
const HASHPOWER_MAX = 32;

/** memcached's restart_mmap_open: the memory file opened (else abort) and its saved metadata checked. */
function restartOpen(file: string, want: RestartSettings): RestartMeta {
  const unusable = restartOpenFile(file, want.maxBytes);
  if (unusable !== null) { logLine(unusable); abort(); }
  const saved = restartCheck(file, want, logLine);
  if (saved === 'abort') abort(); // on a meta file it cannot read
  return saved;
}

/** memcached's abort(): the process ends by SIGABRT (process.abort() would print Node's stack traces first). */
function abort(): never {
  process.kill(process.pid, 'SIGABRT');
  return process.exit(134); // not reached: SIGABRT's default action ends the process
}

/** What a restart (-e) must find unchanged, memcached's list. */
function restartSettingsOf(s: Settings): RestartSettings {
  return {
    slabConfig: s.slabConfig, maxBytes: s.maxBytes, chunkSize: s.chunkSizeMin, itemSizeMax: s.itemSizeMax,
    slabChunkMax: s.slabChunkMax, slabPageSize: s.slabPageSize, useCas: s.useCas, slabReassign: s.slabReassign,
  };
}

/**
 * memcached's ssl_init: the certificates, then the cipher list; either failing ends the start (EX_USAGE).
 * TLS's modules are loaded only here, with -Z. Returns the files as read, for the workers (CertFiles).
 */
async function sslInit(settings: Settings): Promise<CertFiles> {
  const { loadServerCertificates, readCertFiles } = await import('./tls/secure-context.ts');
  const files = readCertFiles(settings.tls);
  const loaded = loadServerCertificates(settings.tls, undefined, files);
  if (!('error' in loaded)) return files;
  writeErr(loaded.error + '\n');
  return process.exit(64);
}

/** The -l entries; a bad one ends the start as memcached's server_sockets does (EX_OSERR). */
async function listenSpecsOrExit(settings: Settings): Promise<ListenSpec[]> {
  const parsed = parseListenSpecs(settings);
  const r = 'specs' in parsed ? await resolveListenSpecs(parsed.specs) : parsed;
  if ('specs' in r) return r.specs;
  writeErr(r.error + listenFailureLine(settings));
  return process.exit(71);
}

/** thread_init: n workers, each with its own event loop; return once all have said ready. */
async function startWorkers(settings: Settings, initOf: (thread: number) => WorkerInit): Promise<Worker[]> {
  const workers: Worker[] = [];
  const ready: Promise<void>[] = [];
  for (let t = 1; t <= settings.threads; t++) {
    const w = forwardStdio(new Worker(WORKER_URL, { workerData: initOf(t), stdout: true, stderr: true }));
    w.on('error', (err: unknown) => {
      writeErr(`worker ${t} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
    ready.push(new Promise((resolve) => {
      const onMsg = (m: DispatcherMessage): void => { if (m.type === 'ready') { w.off('message', onMsg); resolve(); } };
      w.on('message', onMsg);
    }));
    workers.push(w);
  }
  await Promise.all(ready);
  return workers;
}

/** Close every connection, then the threads; bounded so a stuck worker cannot hold the exit. */
async function stopWorkers(workers: Worker[]): Promise<void> {
  const stopped = workers.map((w) => new Promise<void>((resolve) => {
    w.on('message', (m: DispatcherMessage) => { if (m.type === 'stopped') resolve(); });
    w.postMessage({ type: 'stop' });
  }));
  await Promise.race([Promise.all(stopped), new Promise((r) => setTimeout(r, 2000).unref())]);
  await Promise.all(workers.map((w) => w.terminate()));
}

/**
 * MEMCACHED_PORT_FILENAME: memcached writes "<TCP|UDP> INET: <port>" lines via a .lck file; one it cannot open
 * is reported, and the server goes on.
 */
function writePortFile(path: string, listeners: Listener[]): void {
  const lines = listeners.filter((l) => l.transport !== 'unix').map((l) => `${l.transport.toUpperCase()} ${l.family}: ${l.port}\n`);
  try {
    fs.writeFileSync(`${path}.lck`, lines.join(''));
  } catch (err) {
    writeErr(`Failed to open "${path}.lck": ${strerrorOf(err)}\n`);
    return;
  }
  try { fs.renameSync(`${path}.lck`, path); } catch { /* memcached's rename is unchecked too */ }
}

await main();
