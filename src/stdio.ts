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
