// The server's own lines (-h, -v logs, warnings, errors): write(2) on descriptors 1 and 2, from any thread,
// as memcached's fprintf writes them. Node's process.stdout and process.stderr set O_NONBLOCK on a pipe they
// write to, and a worker thread's output is piped through the main thread's process.stdout by default; a
// pipe is shared with whoever started the server (a supervisor's log pipe, a test harness), whose own
// writes then fail with EAGAIN (memcached's test suite lost lines of its TAP output that way). So nothing
// here touches process.stdout or process.stderr, and the threads are started with their stdio taken over.

import fs from 'node:fs';
import type { Worker } from 'node:worker_threads';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** The whole of text, or as much as the descriptor takes (a closed pipe takes nothing: dropped, as fprintf's). */
function writeAll(fd: number, text: string | Uint8Array): void {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  for (let at = 0; at < bytes.length;) {
    try {
      at += fs.writeSync(fd, bytes, at);
    } catch (err) {
      // someone else left the descriptor non-blocking and it is full: wait a moment, as a blocking write would
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

export function writeOut(text: string | Uint8Array): void { writeAll(1, text); }
export function writeErr(text: string | Uint8Array): void { writeAll(2, text); }

/** A thread started with `stdout: true, stderr: true`: what it prints goes out through writeOut / writeErr. */
export function forwardStdio(worker: Worker): Worker {
  worker.stdout.on('data', (chunk: Uint8Array) => writeOut(chunk));
  worker.stderr.on('data', (chunk: Uint8Array) => writeErr(chunk));
  return worker;
}

/**
 * What memcached's vperror says after a perror: glibc's perror writes through fdopen(dup(2), "w+"), which fails
 * (EINVAL) unless stderr is open for reading too, so on a pipe or a file opened for writing the next message
 * names EINVAL instead of the error (a terminal, a socket such as journald's, keep it).
 */
export function errnoAfterPerror(why: string): string {
  try {
    const flags = /^flags:\s+([0-7]+)/m.exec(fs.readFileSync('/proc/self/fdinfo/2', 'latin1'))?.[1];
    if (flags !== undefined && (parseInt(flags, 8) & 3) === 2) return why; // O_RDWR
  } catch { /* no /proc: as a pipe */ }
  return 'Invalid argument';
}
