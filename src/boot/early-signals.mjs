// @ts-check
// memcached sets its signal handlers first thing in main(); the server's own (src/main/signals.ts, catchSignals) are set
// once its modules have loaded, some hundreds of milliseconds into the start. Until then a SIGTERM or SIGINT
// would end the process by the signal, a SIGHUP likewise, and a SIGUSR1 would open Node's inspector. Preloaded
// first (strip-once.mjs imports it), this notes such a signal for the server to act on, as memcached would.
// Plain JavaScript, as strip-once.mjs.

import { isMainThread } from 'node:worker_threads';

/** Where src/main/signals.ts (catchSignals) finds what was noted: { stop: 'immediate' | 'graceful' | null, hup: boolean, listeners }. */
export const EARLY_SIGNALS = Symbol.for('cachalot:early-signals');

// only in the server's own process: any other script preloading this keeps Node's signal handling
if (isMainThread && /[/\\]src[/\\]main\.ts$/.test(process.argv[1] ?? '')) {
  /** @type {{ stop: 'immediate' | 'graceful' | null, hup: boolean, listeners: Array<[NodeJS.Signals, () => void]> }} */
  const noted = { stop: null, hup: false, listeners: [] };
  /** @type {Array<[NodeJS.Signals, () => void]>} */
  const handlers = [
    ['SIGTERM', () => { noted.stop = 'immediate'; }],
    ['SIGINT', () => { noted.stop = 'immediate'; }],
    ['SIGUSR1', () => { noted.stop = 'graceful'; }],
    ['SIGHUP', () => { noted.hup = true; }],
  ];
  for (const [signal, handler] of handlers) { process.on(signal, handler); noted.listeners.push([signal, handler]); }
  /** @type {Record<symbol, unknown>} */ (globalThis)[EARLY_SIGNALS] = noted;
}
