// The signals memcached handles and the stops they ask for: its sig_handler, sighup_handler and stop_main_loop,
// clock_handler's SIGHUP reload of the -Y file, and what a stop takes down (stop_threads, with -e the save).

import type { Worker } from 'node:worker_threads';
import { writeErr } from '../libc/stdio.ts';
import type { Settings } from '../settings/settings.ts';
import type { Store } from '../store/store.ts';
import { G } from '../store/layout.ts';
import type { StoreShared } from '../store/create.ts';
import { restartSave } from '../store/restart.ts';
import type { Maintainer } from '../maintainer/maintainer.ts';
import { Ctl, ServerCtl } from '../server-ctl.ts';
import { ConnRow, ConnTable } from '../stats/conn-table.ts';
import { memcachedStateName } from '../worker/conn.ts';
import { removePidFile } from './pid-file.ts';
import type { Dispatcher } from '../dispatcher/dispatcher.ts';
import { authfileLoad } from '../auth/authfile.ts';
import type { WorkerMessage, DispatcherMessage } from '../worker/worker.ts';
import { restartSettingsOf } from './store-init.ts';

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

export function catchSignals(): Signals {
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
export function clockHandler(clock: Store, signals: Signals, settings: Settings, workers: Worker[]): void {
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
export function handleStops(r: Running, signals: Signals): void {
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

/** Close every connection, then the threads; bounded so a stuck worker cannot hold the exit. */
async function stopWorkers(workers: Worker[]): Promise<void> {
  const stopped = workers.map((w) => new Promise<void>((resolve) => {
    w.on('message', (m: DispatcherMessage) => { if (m.type === 'stopped') resolve(); });
    w.postMessage({ type: 'stop' });
  }));
  await Promise.race([Promise.all(stopped), new Promise((r) => setTimeout(r, 2000).unref())]);
  await Promise.all(workers.map((w) => w.terminate()));
}
