// The request path without sockets: one worker's parse, store and reply code driven in process, so
// that a change to it can be judged by its own cost per request (the socket benchmark's figures move
// 10-20% from run to run on a shared machine; these move a few percent). Not a substitute for
// `npm run bench`: no kernel, no event loop, no second thread.
//
//   npm run bench:micro [-- requests per round, default 300000]
//   MICRO_KEYS=1000: every item in cache; MICRO_ONLY=set: only the mixes whose name starts so

import os from 'node:os';
import { Store } from '../src/store/store.ts';
import { createStore } from '../src/store/create.ts';
import { defaultSettings } from '../src/settings/settings.ts';
import { storeSettingsOf } from '../src/settings/report.ts';
import { createServerCtl, ServerCtl } from '../src/server-ctl.ts';
import { ConnTable, createConnTable } from '../src/stats/conn-table.ts';
import { firstConnId } from '../src/main/start-descriptors.ts';
import { createPrefixStats, PrefixStats } from '../src/stats/prefix-stats.ts';
import { WorkerContext } from '../src/worker/context.ts';
import { Conn, ConnState } from '../src/worker/conn.ts';
import { onConnRead } from '../src/worker/drive-machine.ts';
import { openHandleIo } from '../src/worker/handle-io.ts';
import { settleDetachPromise } from '../src/worker/out-buffer.ts';

settleDetachPromise(); // as a worker does (out-buffer.ts): else the 16 KB get's growth would detach the first buffer
const KEYS = Number(process.env.MICRO_KEYS ?? 100_000);
const settings = { ...defaultSettings(), maxBytes: 1024 * 1024 * 1024 };
// the arena reserved as the server reserves it (MICRO_RESERVE=0: only -m)
const store = new Store(createStore(storeSettingsOf(settings, process.env.MICRO_RESERVE === '0' ? 0 : os.totalmem())), 1);
const ctx = new WorkerContext(store, settings, new ServerCtl(createServerCtl(0)), new ConnTable(createConnTable(16), firstConnId(settings)),
  new PrefixStats(createPrefixStats(false), ':'), 1, () => {});

/** A handle whose writes complete at once and go nowhere (counted). */
let written = 0;
const handle = {
  writeBuffer(_req: unknown, data: Uint8Array): number { written += data.length; return 0; },
  writev(_req: unknown, chunks: Uint8Array[]): number { for (const b of chunks) written += b.length; return 0; },
  readStart: (): number => 0, readStop: (): number => 0, shutdown: (): number => 0, close(): void {},
  useUserBuffer(): void {}, writeQueueSize: 0, onread: undefined,
};
const noop = (): void => {};
const c = new Conn(ctx);
const io = openHandleIo(handle, Buffer.alloc(64 * 1024), {
  onRead: noop, onReadInto: noop, onReadEnd: noop, onDrain: noop, onWriteError: noop, onClosed: noop,
});
c.reset(16, io, 'tcp');
c.state = ConnState.waiting;

const key = (i: number): string => `key:${String(i).padStart(12, '0')}`;
/** A request arrives as the worker's read buffer would hold it (the request's own bytes: no copy timed). */
function feed(request: Buffer): void {
  onConnRead(c, request, request.length);
}
const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

const value = 'v'.repeat(100);
for (let i = 0; i < KEYS; i++) feed(bytes(`set ${key(i)} 0 0 ${value.length}\r\n${value}\r\n`));

// W4's gets: 16 KB values under keys of their own (16 MB: they stay in memory through the other mixes).
const BIG_KEYS = 1000;
const bigKey = (i: number): string => `big:${String(i).padStart(12, '0')}`;
const big = 'b'.repeat(16 * 1024);
for (let i = 0; i < BIG_KEYS; i++) feed(bytes(`set ${bigKey(i)} 0 0 ${big.length}\r\n${big}\r\n`));

let seed = 1;
const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % KEYS; };
const mixes: Array<[string, () => string]> = [
  ['get 1 key (W1)', () => `get ${key(rnd())}\r\n`],
  ['get 10 keys (W3)', () => `get ${Array.from({ length: 10 }, () => key(rnd())).join(' ')}\r\n`],
  ['get 16 KB (W4)', () => `get ${bigKey(rnd() % BIG_KEYS)}\r\n`],
  ['set 100 B', () => `set ${key(rnd())} 0 0 100\r\n${value}\r\n`],
  // W4's sets replace 16 KB values (W4 never evicts): under the big keys, not the 100k small ones.
  ['set 16 KB (W4)', () => `set ${bigKey(rnd() % BIG_KEYS)} 0 0 ${big.length}\r\n${big}\r\n`],
];
const perRound = Number(process.argv[2] ?? 300_000);
const only = process.env.MICRO_ONLY; // a mix's name starts with this: profile one at a time
for (const [name, make] of mixes) {
  if (only !== undefined && !name.startsWith(only)) continue;
  const requests = Array.from({ length: 4096 }, () => bytes(make()));
  // The least of five rounds (after one to compile): the round the machine disturbed least.
  let best = Infinity;
  for (let round = 0; round < 6; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) feed(requests[i & 4095]);
    const ns = Number(process.hrtime.bigint() - t0) / perRound;
    if (round > 0) best = Math.min(best, ns);
  }
  console.log(`${name.padEnd(18)} ${best.toFixed(0).padStart(6)} ns/request`);
}
if (written === 0) throw new Error('no replies written');
