// Cachalot's entry point: memcached's main(). Parse memcached's flags, build the shared store,
// start -t workers and wait until every one is ready (thread_init), then listen and dispatch.
// main() reads as memcached's start-up order; its larger steps have modules of their own: the signals and
// the stops (main/signals.ts), -d (main/daemon.ts), the store (main/store-init.ts), the listeners
// (main/server-sockets.ts); the rest of main/ are the smaller ones (-u, -P, -r, -L, glibc's tunables).

import './boot/compiler-flags.ts'; // first: before any thread compiles the request path
import { createExtShared } from './extstore/engine.ts';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseSettings } from './settings/settings.ts';
import type { Settings } from './settings/settings.ts';
import { forwardStdio, writeErr, writeOut } from './libc/stdio.ts';
import { Store } from './store/store.ts';
import { startMaintainer } from './maintainer/maintainer.ts';
import { createServerCtl, ServerCtl } from './server-ctl.ts';
import { createConnTable, ConnTable } from './stats/conn-table.ts';
import { verbosityChanged } from './logger/logger.ts';
import { createPrefixStats } from './stats/prefix-stats.ts';
import { savePid } from './main/pid-file.ts';
import { assumeIdentity } from './main/assume-identity.ts';
import { Dispatcher } from './dispatcher/dispatcher.ts';
import { nofileRefusal } from './dispatcher/fd-budget.ts';
import { raiseCoreLimit } from './main/rlimits.ts';
import { authfileLoad, AuthfileResult } from './auth/authfile.ts';
import type { AuthEntries } from './auth/authfile.ts';
import { initSasl } from './auth/sasl-conf.ts';
import type { SaslSetup } from './auth/sasl-conf.ts';
import type { WorkerInit, DispatcherMessage } from './worker/worker.ts';
import { sessionCacheBuffer } from './tls/session-cache.ts';
import { MMAP_THRESHOLD, reexecWithTunables } from './main/malloc-tunables.ts';
import { lockMemory } from './main/lock-memory.ts';
import type { CertFiles } from './tls/secure-context.ts';
import { catchSignals, clockHandler, handleStops } from './main/signals.ts';
import { daemonChdir, daemonize, daemonReady, isDaemonChild } from './main/daemon.ts';
import { listenSpecsOrExit, serverSocketsOrExit, writePortFile } from './main/server-sockets.ts';
import { abort, storeInit } from './main/store-init.ts';
import { descriptorShortage, firstConnId, maxconnsTooLow, pidFileOpens, portFileOpens, StartStage } from './main/start-descriptors.ts';
import type { Shortage } from './main/start-descriptors.ts';
import { storeMemories } from './store/create.ts';

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
  // -L without -e: memcached's alloc_large_chunk, its one chunk of item memory advised into huge pages
  const largeChunk = settings.preallocate && settings.memoryFile === null;
  reexecWithTunables([MMAP_THRESHOLD]); // when the launcher did not set it
  for (const w of parsed.warnings) writeErr(w + '\n');
  const tlsFiles = settings.tls.enabled ? await sslInit(settings) : null; // read as root, as memcached reads them
  checkLimits(settings);
  exitOnShortage(descriptorShortage(settings, 0, StartStage.identity)); // -u's lookup, under memcached's -c
  // -d's starter stays root: the daemon it spawns starts over, and reads the certificates as root too
  if (!(settings.daemonize && !isDaemonChild())) assumeIdentity(settings.user);
  const sasl = settings.sasl ? saslInitOrExit(settings.verbose > 0) : null;
  // memcached loads -Y after daemonizing: a daemon's from /, its failure the daemon's alone (the starter exits 0)
  let authEntries = !settings.daemonize ? authFileOrExit(settings) : null;
  const specs = await listenSpecsOrExit(settings);
  if (settings.daemonize) {
    if (daemonize(settings.verbose > 0) === 'starter') return; // it exits once the daemon listens
    daemonChdir(settings.enableCoredumps);
    authEntries = authFileOrExit(settings);
  }
  exitOnShortage(descriptorShortage(settings, specs.length, StartStage.beforeStore));
  // with ext_path: its files' descriptors, opened, locked and emptied by storage_init (main/storage-init.ts),
  // in settings.ext.paths' order, for the extstore engine
  const { storeShared, extFds } = storeInit(settings, largeChunk);
  exitOnShortage(descriptorShortage(settings, specs.length, StartStage.afterStore));
  if (extFds !== null) storeShared.ext = createExtShared(extFds, settings.ext.paths.map((p) => p.pageCount), settings.ext.pageSize, settings.ext.wbufSize);
  if (settings.lockMemory) { // -k: the store's pages locked in memory as they are touched, before the threads start
    const warning = lockMemory(storeMemories(storeShared));
    if (warning !== null) writeErr(warning + '\n');
  }
  const ctlSab = createServerCtl(settings.verbose, settings.napiIds, settings.ext);
  const connTableSab = createConnTable(settings.maxConns + CONN_TABLE_HEADROOM + specs.length + 1); // + the listeners' rows
  const firstId = firstConnId(settings); // every thread's ids start there
  const prefixStatsSab = createPrefixStats(settings.detailEnabled);
  const clock = new Store(storeShared, 0);
  verbosityChanged(clock, 0, settings.verbose); // -vvv: every lookup prints its line

  const tlsTicketKeys = settings.tls.enabled ? randomBytes(48) : null; // one set for every worker's context
  // memcached's one SSL_CTX keeps one session cache (-o ssl_session_cache): every worker's TLS sockets share this one
  const tlsSessionCache = settings.tls.enabled && settings.tls.sessionCache ? sessionCacheBuffer() : null;
  const workers = await startWorkers(settings, (thread) => ({
    store: storeShared, ctl: ctlSab, connTable: connTableSab, firstConnId: firstId, prefixStats: prefixStatsSab, settings, thread, tlsTicketKeys,
    tlsSessionCache, tlsFiles, authEntries, sasl,
  }));
  const maintainer = startMaintainer(storeShared, ctlSab);
  if (settings.verbose > 2) writeErr(backgroundThreadsStarting(settings));
  const connTable = new ConnTable(connTableSab, firstId);
  const ctl = new ServerCtl(ctlSab);
  const dispatcher = new Dispatcher(settings, specs, ctl, connTable, workers);
  // memcached writes MEMCACHED_PORT_FILENAME only in its TCP/UDP branch (with -s, no file), through a .lck file it
  // holds open while it listens, and goes on without it when -c leaves no descriptor for it
  const portFile = settings.socketPath === null ? settings.portFilename : null;
  const portFileOpen = portFile !== null && portFileOpens(settings, specs.length);
  if (portFile !== null && !portFileOpen) writeErr(`Failed to open "${portFile}.lck": Too many open files\n`);
  exitOnShortage(descriptorShortage(settings, specs.length, StartStage.listen));
  const listeners = await serverSocketsOrExit(dispatcher, settings, clock, portFileOpen);
  if (portFileOpen) writePortFile(portFile, listeners);
  const tooLow = maxconnsTooLow(settings, specs.length);
  if (tooLow !== null) { writeErr(tooLow); process.exit(1); }
  if (settings.pidFile !== null) savePid(settings.pidFile, pidFileOpens(settings, specs.length));
  if (settings.daemonize) daemonReady();

  const tick = setInterval(() => clockHandler(clock, signals, settings, workers), 1000);
  handleStops({ settings, ctl, connTable, dispatcher, workers, maintainer, storeShared, clock, tick }, signals);
}

/** -r's core file limit and -c's file descriptors: memcached stops the start on either (EX_OSERR). */
function checkLimits(settings: Settings): void {
  const core = settings.enableCoredumps ? raiseCoreLimit() : null;
  if (core !== null) { writeErr(core + '\n'); process.exit(71); }
  const nofile = nofileRefusal(settings.maxConns);
  if (nofile !== null) { writeErr(nofile + '\n'); process.exit(71); }
}

/** A step of memcached's start that -c leaves no descriptor for (start-descriptors.ts) ends the start as there. */
function exitOnShortage(shortage: Shortage | null): void {
  if (shortage === null) return;
  writeErr(shortage.stderr);
  if (shortage.status === 'abort') abort();
  process.exit(shortage.status);
}

/** What memcached's background threads say at -vvv as they start, before it listens. */
function backgroundThreadsStarting(settings: Settings): string {
  return (settings.lruCrawler ? 'Starting LRU crawler background thread\n' : '') +
    (settings.lruMaintainer ? 'Starting LRU maintainer background thread\n' : '');
}

/**
 * -S: memcached's init_sasl, after -u as there. Without a config path, or with a malformed config, the start
 * ends (EXIT_FAILURE). Its -v lines are written once: under -d by the starter, not again by the daemon.
 */
function saslInitOrExit(verbose: boolean): SaslSetup {
  const r = initSasl(process.env, hostname()); // memcached's user realm: gethostname()
  if (verbose && !isDaemonChild()) writeErr(r.log);
  if ('error' in r) { writeErr(r.error); return process.exit(1); }
  return r.setup;
}

/** -Y: memcached refuses to start on a missing or malformed auth file, or with -U, with its message. */
function authFileOrExit(settings: Settings): AuthEntries | null {
  const path = settings.authFile;
  if (path === null) return null;
  if (settings.udpPort !== 0) { // a UDP connection serves every sender: one login would let in all of them
    writeErr('Cannot use UDP with ascii authentication enabled (-U 0 to disable)\n');
    process.exit(64); // EX_USAGE
  }
  const r = authfileLoad(path);
  if (r.result === AuthfileResult.OK && r.entries !== null) return r.entries;
  writeErr(r.error);
  return process.exit(1);
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

await main();
