// Tests as specifications: `spec` plays request/reply pairs against each server kind and expects
// exact bytes; `differential` plays one request list against two servers and wants the same
// bytes back from both. Servers are shared within a test file, one per (kind, args), and cleaned
// with `flush_all` before each spec; they are stopped by an `after` hook.

import { after, test } from 'node:test';
import { Client, bytes, show } from './client.ts';
import { memcachedAvailable, startServer, type Server, type ServerKind } from './server.ts';
import { mulberry32 } from './rng.ts';

export type Step = [send: string | Buffer, expect: string | Buffer];

export type SpecOptions = {
  args?: string[];
  against?: ServerKind[];  // default both; memcached only where installed
  split?: boolean;         // also feed every request one byte at a time, and in random pieces (default true)
  closes?: boolean;        // the server hangs up after the last step (else "mn" must still answer "MN")
  fresh?: boolean;         // a server of its own, not shared (for tests that change settings or stats)
};

const shared = new Map<string, Promise<Server>>();
let stopHookRegistered = false;

/** Stop the file's shared servers when its tests end. Call at registration time (top level). */
export function registerStopHook(): void {
  if (stopHookRegistered) return;
  stopHookRegistered = true;
  after(async () => {
    const servers = await Promise.allSettled([...shared.values()]);
    shared.clear();
    for (const s of servers) if (s.status === 'fulfilled') await s.value.stop();
  });
}

/** A started server of this kind and args, shared within the file unless `fresh`. */
export async function serverFor(kind: ServerKind, args: string[], fresh = false): Promise<Server> {
  if (fresh) return startServer(kind, args);
  const key = `${kind}\0${args.join('\0')}`;
  let s = shared.get(key);
  if (!s) { s = startServer(kind, args); shared.set(key, s); }
  return s;
}

/**
 * startServer for a test file that starts its own servers: every one it starts is stopped when the file's
 * tests end. Call at registration time (top level).
 */
export function serversOfFile(): typeof startServer {
  const running: Server[] = [];
  after(async () => { for (const s of running.splice(0)) await s.stop(); });
  return async (...args) => {
    const s = await startServer(...args);
    running.push(s);
    return s;
  };
}

/** The kinds to run against: those asked for, less memcached when it is not installed. */
export function kindsFor(against: ServerKind[] = ['cachalot', 'memcached']): ServerKind[] {
  return against.filter((k) => k !== 'memcached' || memcachedAvailable() !== null);
}

function mismatch(what: string, sent: string | Buffer, want: Buffer, got: Buffer): Error {
  let at = 0;
  while (at < want.length && want[at] === got[at]) at++;
  return new Error(`${what}\n  sent: "${show(bytes(sent))}"\n  want: "${show(want)}"\n  got:  "${show(got)}"\n` +
    `  first difference at byte ${at}`);
}

/**
 * How a pass writes its requests: whole, one byte per write, or in pieces of 1 to 40 bytes cut where a
 * generator seeded with the spec's name says (so a read ends mid-token, mid-value, between commands).
 */
export type Feed = 'whole' | 'bytes' | 'pieces';

const FEED_LABEL: Record<Feed, string> = { whole: '', bytes: ' (one byte per write)', pieces: ' (in random pieces)' };

/** A seed for a name: the same cuts every run, so a failure replays. */
function seedOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h;
}

async function sendPieces(c: Client, data: string | Buffer, r: () => number): Promise<void> {
  const b = bytes(data);
  for (let at = 0; at < b.length;) {
    const n = 1 + Math.floor(r() * 40);
    await c.send(b.subarray(at, at + n));
    at += n;
  }
}

async function playSteps(c: Client, steps: Step[], feed: Feed, label: string, seed: number): Promise<void> {
  const r = mulberry32(seed);
  for (const [i, [send, expect]] of steps.entries()) {
    if (feed === 'pieces') await sendPieces(c, send, r);
    else await (feed === 'bytes' ? c.sendSplit(send) : c.send(send));
    const want = bytes(expect);
    const got = await c.read(want.length).catch((e: Error) => {
      throw new Error(`${label}, step ${i + 1}: sent "${show(bytes(send))}", want "${show(want)}": ${e.message}`);
    });
    if (!got.equals(want)) throw mismatch(`${label}, step ${i + 1}`, send, want, got);
  }
}

/** After the steps: nothing stray is left (the meta no-op answers at once), or the server hung up. */
async function checkEnd(c: Client, closes: boolean, label: string): Promise<void> {
  if (closes) { await c.closed(); return; }
  await c.send('mn\r\n');
  const got = await c.readUntil('MN\r\n');
  if (got.length !== 4) throw new Error(`${label}: unexpected extra reply bytes "${show(got.subarray(0, -4))}"`);
}

async function flushAll(port: number): Promise<void> {
  const c = await Client.connect(port);
  try {
    const got = await c.request('flush_all\r\n', 4);
    if (got.toString('latin1') !== 'OK\r\n') throw new Error(`flush_all answered "${show(got)}"`);
  } finally { c.end(); }
}

/**
 * One pass of the steps on a new connection to this server, asserting exact bytes, the requests
 * written as `feed` says (seeded by `seed` for random pieces). A shared server is flushed first (not with -F).
 */
export async function runSpec(server: Server, steps: Step[], opts: SpecOptions = {}, feed: Feed = 'whole', seed = 1): Promise<void> {
  if (!opts.fresh && !(opts.args ?? []).includes('-F')) await flushAll(server.port);
  const c = await Client.connect(server.port);
  const label = `${server.kind}${FEED_LABEL[feed]}`;
  try {
    await playSteps(c, steps, feed, label, seed);
    await checkEnd(c, opts.closes === true, label);
  } finally { c.end(); }
}

/**
 * Register one node:test test per server kind that plays `steps` and expects exactly those bytes,
 * whole and then (unless `split: false`) one byte per write and in random pieces. A `fresh` spec gets
 * a new server for each pass, so counters and settings start from zero every time.
 */
export function spec(name: string, steps: Step[], opts: SpecOptions = {}): void {
  registerStopHook();
  const passes: Feed[] = opts.split === false ? ['whole'] : ['whole', 'bytes', 'pieces'];
  for (const kind of kindsFor(opts.against)) {
    test(`${name} [${kind}]`, async () => {
      for (const feed of passes) {
        const server = await serverFor(kind, opts.args ?? [], opts.fresh);
        try { await runSpec(server, steps, opts, feed, seedOf(name)); } finally { if (opts.fresh) await server.stop(); }
      }
    });
  }
}
