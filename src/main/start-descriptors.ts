// memcached's file descriptors as its start takes them. memcached sets RLIMIT_NOFILE to -c before anything else,
// so under a small -c one of its start's steps is the first to find no descriptor left, and the start ends there
// with that step's words: glibc's, libevent's or its own. Cachalot's own descriptors are Node's, many more and
// outside -c (fd-budget.ts); this is the count memcached keeps, the one its connections' descriptors follow
// (firstConnId: the ids of stats/conn-table.ts, which the dispatcher refuses from -c - 1 as memcached does),
// walked step by step in memcached 1.6.18's order on Linux, started with stdin, stdout and stderr open and
// nothing else.

import type { Settings } from '../settings/settings.ts';
import { startedAsRoot } from './assume-identity.ts';

/** How a step that found no descriptor ends the start: its stderr, and an exit status (or SIGABRT). */
export type Shortage = { stderr: string; status: number | 'abort' };

/**
 * Where in main() a shortage is looked for, in memcached's order: the identity (-u's lookup); after -d the event
 * base and the connections' table (before the store and its -vv lines); once the store is built, extstore's files
 * and the worker threads; then the listeners.
 */
export const StartStage = { identity: 0, beforeStore: 1, afterStore: 2, listen: 3 } as const;
type Stage = typeof StartStage[keyof typeof StartStage];

const EMFILE = 'Too many open files';
const EX_NOUSER = 67;
const EX_OSERR = 71;
const FIRST_FREE = 3; // after stdin, stdout and stderr

/** libevent's event_base_new with no descriptor for its epoll: it falls back to poll, then needs its signal pipe. */
const EPOLL_FAILS = `[warn] epoll_create: ${EMFILE}\n`;
/** libevent's evsig_init_: a pipe, then a socketpair, both refused; its event_err exits with status 1. */
const SIGNAL_PIPE_FAILS = `[warn] evutil_make_internal_pipe_: pipe: ${EMFILE}\n[err] evsig_init_: socketpair: ${EMFILE}\n`;

/**
 * One step: the descriptors it opens, whether it keeps them, and what memcached says when they are not there
 * (null: it goes on without them).
 */
type Step = { stage: Stage; fds: number; keep: boolean; fails: Shortage | null };

/**
 * The first step of memcached's start up to `stage` that finds its descriptors past -c, or null when there are
 * enough. Called at each stage in turn: a shortage of an earlier stage has ended the start already.
 * `listeners` is the TCP listening sockets main() will open (one per resolved -l entry).
 */
export function descriptorShortage(s: Settings, listeners: number, stage: Stage): Shortage | null {
  for (const { step, fits } of walk(s, listeners)) {
    if (step.stage > stage) break;
    if (!fits && step.fails !== null) return step.fails;
  }
  return null;
}

/**
 * The descriptor memcached gives its first listening socket: the ones its start keeps come first (three of its
 * own, four per worker thread, -e's file and extstore's). Connection ids start there (stats/conn-table.ts). A
 * descriptor memcached inherits below that number moves its listener up; the port file's, open while it listens,
 * does (portFileOpens; Dispatcher.listen holds its row).
 */
export function firstConnId(s: Settings): number {
  let first = FIRST_FREE;
  for (const { step, after } of walk({ ...s, maxConns: Infinity }, 0)) {
    if (step.stage > StartStage.afterStore) break;
    first = after;
  }
  return first;
}

/**
 * MEMCACHED_PORT_FILENAME's file, which memcached opens before its listeners: whether it had a descriptor for it
 * (when not, it says so and writes no file).
 */
export function portFileOpens(s: Settings, listeners: number): boolean {
  for (const { step, fits } of walk(s, listeners)) if (step === PORT_FILE) return fits;
  return true;
}

/**
 * save_pid's fopen, once memcached listens: whether -c left it a descriptor. The port file's is free again by then
 * (closed after the listeners), so with one there always is.
 */
export function pidFileOpens(s: Settings, listeners: number): boolean {
  let next = FIRST_FREE;
  for (const { step, fits, after } of walk(s, listeners)) {
    if (step === PORT_FILE && fits) return true;
    next = after;
  }
  return next < s.maxConns;
}

/** The steps, each with whether its descriptors are below -c and the next free descriptor after it. */
function* walk(s: Settings, listeners: number): Generator<{ step: Step; fits: boolean; after: number }> {
  let next = FIRST_FREE;
  for (const step of startSteps(s, listeners)) {
    const fits = next + step.fds <= s.maxConns;
    if (fits && step.keep) next += step.fds;
    yield { step, fits, after: next };
  }
}

/**
 * memcached's check once it listens: its connections so far and the descriptors it reserves, against -c - 1. Its
 * UDP conns are made by its threads while it waits a millisecond before the check, so whether they count there is
 * a race; here they always do.
 */
export function maxconnsTooLow(s: Settings, listeners: number): string | null {
  if (s.socketPath !== null) return tooLow(1, s);
  return tooLow((s.port !== 0 ? listeners : 0) + (s.udpPort !== 0 ? listeners * s.numThreadsPerUdp : 0), s);
}

function tooLow(conns: number, s: Settings): string | null {
  const reserved = 5 * s.threads; // memcached_thread_init: "three fds for the libevent base, and two for the pipe"
  return conns + reserved >= s.maxConns - 1 ? 'Maxconns setting is too low, use -c to increase.\n' : null;
}

/** memcached's start, step by step; lazily, as -t may be far more threads than the store lets start. */
function* startSteps(s: Settings, listeners: number): Generator<Step> {
  const before = StartStage.beforeStore;
  const after = StartStage.afterStore;
  // getpwnam reads the password file (a descriptor for the moment) before anything is kept
  if (startedAsRoot() && s.user !== null && s.user !== '') {
    yield { stage: StartStage.identity, fds: 1, keep: false, fails: exit(`can't find the user ${s.user} to switch to\n`, EX_NOUSER) };
  }
  yield* eventBase(before);
  // conn_init's dup(1), to learn the next descriptor (closed again)
  yield { stage: before, fds: 1, keep: false, fails: exit(`Failed to duplicate file descriptor\n: ${EMFILE}\n`, 1) };
  if (s.memoryFile !== null) { // restart_mmap_open keeps the memory file open until the stop
    yield { stage: before, fds: 1, keep: true, fails: { stderr: `failed to open file for mmap: ${EMFILE}\n`, status: 'abort' } };
  }
  for (let i = 0; i < s.ext.paths.length; i++) { // storage_init, after slabs_init has printed its classes
    yield { stage: after, fds: 1, keep: true,
      fails: exit(`Failed to initialize external storage: failed to open file\nextstore open: ${EMFILE}\n`, 1) };
  }
  for (let t = 0; t < s.threads; t++) { // memcached_thread_init: each worker's eventfd, then its event base
    yield { stage: after, fds: 1, keep: true, fails: exit(`failed creating eventfd for worker thread: ${EMFILE}\n`, 1) };
    yield* eventBase(after);
  }
  yield* listenerSteps(s, listeners);
}

/** event_base_new: its epoll descriptor, then its signal pipe (two). Failing, libevent exits with status 1. */
function* eventBase(stage: Stage): Generator<Step> {
  yield { stage, fds: 1, keep: true, fails: exit(EPOLL_FAILS + SIGNAL_PIPE_FAILS, 1) };
  yield { stage, fds: 2, keep: true, fails: exit(SIGNAL_PIPE_FAILS, 1) };
}

/** The port file's fopen, kept while memcached listens; without a descriptor it goes on with no file. */
const PORT_FILE: Step = { stage: StartStage.listen, fds: 1, keep: true, fails: null };

/**
 * server_socket_unix, or server_sockets: the port file, a socket per TCP listener, then for each UDP address a
 * socket and a dup of it for each further thread that serves it (memcached's num_threads_per_udp).
 */
function* listenerSteps(s: Settings, listeners: number): Generator<Step> {
  const listen = StartStage.listen;
  if (s.socketPath !== null) {
    // errno is still EMFILE after perror here: the dup of stderr perror tries first fails with it too
    yield { stage: listen, fds: 1, keep: true,
      fails: exit(`socket(): ${EMFILE}\nfailed to listen on UNIX socket: ${s.socketPath}: ${EMFILE}\n`, EX_OSERR) };
    return;
  }
  const serverSocket: Step = { stage: listen, fds: 1, keep: true, fails: exit(`server_socket: ${EMFILE}\n`, EX_OSERR) };
  if (s.portFilename !== null) yield PORT_FILE;
  if (s.port !== 0) for (let i = 0; i < listeners; i++) yield serverSocket;
  if (s.udpPort === 0) return;
  const dup: Step = { stage: listen, fds: 1, keep: true, fails: exit(`Failed to duplicate file descriptor: ${EMFILE}\n`, 1) };
  for (let i = 0; i < listeners; i++) {
    yield serverSocket;
    for (let t = 1; t < s.numThreadsPerUdp; t++) yield dup;
  }
}

function exit(stderr: string, status: number): Shortage { return { stderr, status }; }
