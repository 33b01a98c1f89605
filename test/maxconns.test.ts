// -c as memcached lives it: its RLIMIT_NOFILE. Under a small -c one step of its start is the first to find no
// descriptor left and the start ends with that step's words (src/main/start-descriptors.ts); once it runs, a
// client whose descriptor would be -c - 1 or more is refused, so its own descriptors (three, four a worker
// thread, -e's file, extstore's files, its listeners) leave fewer clients than -c. Side by side with memcached,
// and against the counts themselves where memcached is not installed.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from './support/client.ts';
import { kindsFor } from './support/spec.ts';
import { commandFor, freePort, runToExit, sleep, startServer, REPO_ROOT, type Server, type ServerKind } from './support/server.ts';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const servers: Server[] = [];
after(async () => { for (const s of servers) await s.stop(); });

// memcached started as root needs -u; its lookup of the user (a descriptor for a moment) is a step of its own
const AS = process.getuid?.() === 0 ? ['-u', 'root'] : [];
const EMFILE = 'Too many open files';
const SIGNAL_PIPE = `[warn] evutil_make_internal_pipe_: pipe: ${EMFILE}\n[err] evsig_init_: socketpair: ${EMFILE}\n`;

/** How a start under -c `c` ended: [status, stderr]. Only starts that fail are run here: they end by themselves. */
function startUnder(kind: ServerKind, args: string[], c: number): [number | null, string] {
  const r = runToExit(kind, [...AS, ...args, '-c', String(c)]);
  return [r.status, r.stderr];
}

test('-c too small for memcached\'s own descriptors: each step of its start fails where memcached\'s does, with its words', () => {
  // -t 2, TCP alone: the event base (3-5), conn_init's dup (6), each thread's eventfd and base (6-9, 10-13),
  // the listener (14)
  const want: Array<[number, number, string]> = [
    [4, 1, SIGNAL_PIPE],
    [6, 1, `Failed to duplicate file descriptor\n: ${EMFILE}\n`],
    [7, 1, `[warn] epoll_create: ${EMFILE}\n${SIGNAL_PIPE}`],
    [8, 1, SIGNAL_PIPE],
    [10, 1, `failed creating eventfd for worker thread: ${EMFILE}\n`],
    [11, 1, `[warn] epoll_create: ${EMFILE}\n${SIGNAL_PIPE}`],
    [13, 1, SIGNAL_PIPE],
    [14, 71, `server_socket: ${EMFILE}\n`],
  ];
  for (const kind of kindsFor()) {
    for (const [c, status, stderr] of want) assert.deepEqual(startUnder(kind, ['-t', '2'], c), [status, stderr], `${kind} -c ${c}`);
  }
});

test('-c and the listeners: a UDP port\'s dup per further thread, and memcached\'s check of its reserve once it listens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'maxconns-'));
  try {
    for (const kind of kindsFor()) {
      const udp = ['-t', '2', '-U', '-1']; // TCP at 14, UDP at 15 and its dup at 16
      assert.deepEqual(startUnder(kind, udp, 15), [71, `server_socket: ${EMFILE}\n`], kind);
      assert.deepEqual(startUnder(kind, udp, 16), [1, `Failed to duplicate file descriptor: ${EMFILE}\n`], kind);
      // -t 8: the listener (38) and 5 descriptors reserved a thread, against -c - 1. (Not with -U: memcached's
      // threads make its UDP conns while it waits a millisecond before the check, so whether they count is a race.
      // Nor at -c 39, where the listener takes the last descriptor: on a loaded machine memcached's socket() met
      // EMFILE there once, a descriptor another of its starting threads held for a moment.)
      const many = ['-t', '8'];
      assert.deepEqual(startUnder(kind, many, 40), [1, 'Maxconns setting is too low, use -c to increase.\n'], kind);
      assert.deepEqual(startUnder(kind, many, 42), [1, 'Maxconns setting is too low, use -c to increase.\n'], kind);
      const path = join(dir, `${kind}.sock`);
      assert.deepEqual(startUnder(kind, ['-s', path, '-t', '1'], 10),
        [71, `socket(): ${EMFILE}\nfailed to listen on UNIX socket: ${path}: ${EMFILE}\n`], kind);
      // -e's file stays open from the start (after conn_init's dup, before the threads)
      const file = join(dir, `${kind}.mem`);
      assert.deepEqual(startUnder(kind, ['-t', '1', '-e', file], 7),
        [1, `[restart] no metadata save file, starting with a clean cache\nfailed creating eventfd for worker thread: ${EMFILE}\n`], kind);
      // and extstore's file too, once the store is built (without it, -c 7 leaves the thread its eventfd)
      const ext = ['-t', '1', '-o', `ext_path=${join(dir, `${kind}.ext`)}:64m`];
      assert.deepEqual(startUnder(kind, ext, 7), [1, `failed creating eventfd for worker thread: ${EMFILE}\n`], kind);
      assert.deepEqual(startUnder(kind, ['-t', '1'], 7), [1, `[warn] epoll_create: ${EMFILE}\n${SIGNAL_PIPE}`], kind);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A server started with `-P` and no port file (whose descriptor would be free again for it), stopped once it has
 * written the pid file or said why not: what it said, and whether the file is there.
 */
async function pidFileUnder(kind: ServerKind, c: number, dir: string): Promise<[string, boolean, string]> {
  const pidFile = join(dir, `${kind}-${c}.pid`);
  const [cmd, argv] = commandFor(kind, [...AS, '-t', '1', '-p', String(await freePort()), '-c', String(c), '-P', pidFile]);
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  let running = 'stopped';
  try {
    for (let i = 0; i < 500 && stderr === '' && !existsSync(pidFile); i++) await sleep(20);
    await sleep(100);
    running = child.exitCode === null ? 'running' : `exited ${child.exitCode}`;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  return [stderr, existsSync(pidFile), running];
}

test('-P under a -c that leaves memcached no descriptor once it listens: the pid file is not written, it says so and runs on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'maxconns-pid-'));
  try {
    for (const kind of kindsFor()) {
      // -t 1: the listener is 10, so -c 11 leaves nothing for the pid file, -c 12 descriptor 11
      const tmp = join(dir, `${kind}-11.pid.tmp`);
      assert.deepEqual(await pidFileUnder(kind, 11, dir), [`Could not open the pid file ${tmp} for writing: ${EMFILE}\n`, false, 'running'], kind);
      assert.deepEqual(await pidFileUnder(kind, 12, dir), ['', true, 'running'], kind);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Clients connect one by one until one is refused: how many were served, and the refusal's line. */
async function servedUntilRefused(port: number, bound: number): Promise<{ served: number; refusal: string }> {
  const held: Client[] = [];
  try {
    for (let i = 0; i < bound; i++) {
      const c = await Client.connect(port);
      held.push(c);
      await c.send('version\r\n');
      const reply = (await c.readUntil('\r\n')).toString();
      if (reply !== 'VERSION 1.6.18\r\n') return { served: i, refusal: reply };
    }
    return { served: bound, refusal: '' };
  } finally {
    for (const c of held) c.end();
  }
}

// With the port file open while it listens (the harness's MEMCACHED_PORT_FILENAME), the listener sits one above
// the first client's descriptor; either way -c - (first listener's descriptor) - 2 clients are served.
const SERVED: Array<{ args: string[]; served: number }> = [
  { args: ['-t', '1', '-c', '20'], served: 8 },            // listener 11 (port file 10)
  { args: ['-t', '2', '-c', '20'], served: 4 },            // 15 (14)
  { args: ['-t', '4', '-c', '40'], served: 16 },           // 23 (22)
  { args: ['-t', '1', '-c', '20', '-U', '-1'], served: 7 },  // UDP's socket takes one more
  { args: ['-t', '2', '-c', '17'], served: 1 },            // the port file's 14, then 16 is -c - 1
];

for (const kind of kindsFor()) {
  test(`-c: as many clients served as memcached serves, its own descriptors counted; the next refused with its error [${kind}]`, async () => {
    for (const { args, served } of SERVED) {
      const s = await startServer(kind, args);
      servers.push(s);
      const got = await servedUntilRefused(s.port, 60);
      assert.deepEqual(got, { served, refusal: 'ERROR Too many open connections\r\n' }, `${kind} ${args.join(' ')}`);
      await s.stop();
    }
  });

  test(`-e: the memory file's descriptor comes before the listener's, so connection ids are one higher [${kind}]`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'maxconns-e-'));
    try {
      const s = await startServer(kind, ['-t', '2', '-e', join(dir, 'mem')]);
      servers.push(s);
      const c = await Client.connect(s.port);
      // -e's file 6, the threads 7-14, the port file 15 while it listens (16), then the first client 15
      const states = (await statsConns(c)).filter((l) => l.includes(':state '));
      assert.deepEqual(states, ['STAT 15:state conn_parse_cmd', 'STAT 16:state conn_listening'], kind);
      c.end();
      await s.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function statsConns(c: Client): Promise<string[]> {
  await c.send('stats conns\r\n');
  const text = (await c.readUntil('END\r\n')).toString();
  return text.split('\r\n').filter((l) => l.startsWith('STAT '));
}
