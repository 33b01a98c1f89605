// One load-generator thread: many connections on one event loop, each sending `depth` requests
// in one write and sending the next batch when all are answered (depth 1: one request at a time).
// A read is parsed in place in a reused buffer. One clock reading per read serves as the receive
// time of its replies and the send time of the batch it triggers.

import * as net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { Counters, FromWorker, Job, ToWorker } from './job.ts';
import { newHistogram, record } from './histogram.ts';
import { ReplyParser } from './reply-parser.ts';
import { RequestWriter, Rng } from './requests.ts';

const HOST = '127.0.0.1';
const READ_BUFFER = 256 * 1024;

const job = workerData as Job;
const rng = new Rng(job.seed);
const getKeys = new Int32Array(Math.max(1, job.keysPerGet));
let histogram = newHistogram();
let markAt = performance.now();
let ops = 0;
let keysAsked = 0;
let socketErrors = 0;
let lastSocketError = '';
let running = true;
let nextFillKey = job.keyFirst;
let readyConns = 0;
const conns: Conn[] = [];

function post(msg: FromWorker): void {
  parentPort!.postMessage(msg);
}

class Conn {
  readonly parser = new ReplyParser();
  readonly out: RequestWriter;
  readonly sentAt: Float64Array; // ring of send times, oldest first: replies come back in order
  readonly keysIn: Int32Array;   // beside it, the keys each request asked for (0 for a set)
  head = 0;
  inflight = 0;
  socket: net.Socket | null = null;
  private readonly readBuf = Buffer.allocUnsafe(READ_BUFFER);

  constructor() {
    const cap = RequestWriter.maxRequestBytes(job.valueSize, job.keysPerGet) * job.depth;
    this.out = new RequestWriter(cap, job.valueSize, job.keyLetter);
    this.sentAt = new Float64Array(job.depth);
    this.keysIn = new Int32Array(job.depth);
  }

  open(): void {
    const socket = net.connect({
      host: HOST, port: job.port, noDelay: true,
      onread: { buffer: this.readBuf, callback: (n: number, buf: Uint8Array) => { this.onRead(buf, n); return true; } },
    });
    this.socket = socket;
    socket.on('connect', () => this.onConnect());
    socket.on('error', (err) => this.onError(err));
  }

  private onConnect(): void {
    const now = performance.now();
    if (job.mode === 'churn') {
      this.issue(now);
      this.flush();
      return;
    }
    for (let i = 0; i < job.depth && this.issue(now); i++);
    this.flush();
    if (++readyConns === job.conns) post({ type: 'ready' });
  }

  /** Appends one request to the send buffer; false when there is nothing left to send. */
  issue(now: number): boolean {
    if (!running) return false;
    if (job.mode === 'fill') {
      if (nextFillKey >= job.keyEnd) return false;
      this.out.set(nextFillKey++);
    }
    const slot = (this.head + this.inflight) % job.depth;
    if (job.mode === 'fill') {
      this.keysIn[slot] = 0;
    } else if (job.mode === 'churn' || rng.next() / 4294967296 < job.getRatio) {
      for (let i = 0; i < job.keysPerGet; i++) getKeys[i] = rng.below(job.keyCount);
      this.out.get(getKeys, job.keysPerGet);
      this.keysIn[slot] = job.keysPerGet;
    } else {
      this.out.set(rng.below(job.keyCount));
      this.keysIn[slot] = 0;
    }
    this.sentAt[slot] = now;
    this.inflight++;
    return true;
  }

  flush(): void {
    const out = this.out;
    if (out.pos === 0 || this.socket === null) return;
    this.socket.write(out.buf.subarray(0, out.pos));
    // The socket keeps the bytes it could not send yet: then they are its, and we take a fresh buffer.
    if (this.socket.writableLength !== 0) out.buf = Buffer.allocUnsafe(out.buf.length);
    out.pos = 0;
  }

  private onRead(buf: Uint8Array, n: number): void {
    const now = performance.now();
    const done = this.parser.feed(buf, 0, n);
    for (let i = 0; i < done; i++) {
      record(histogram, Math.round((now - this.sentAt[this.head]) * 1000));
      keysAsked += this.keysIn[this.head]; // counted with the reply, as hits are, so both span the same window
      this.head = (this.head + 1) % job.depth;
      this.inflight--;
      ops++;
    }
    if (job.mode === 'churn') {
      if (done > 0) this.reopen();
      return;
    }
    // Lockstep batches: the next `depth` requests leave together once the last batch is answered,
    // so a pipelining server sees them in one read (as a client batching its lookups sends them).
    if (this.inflight === 0) for (let i = 0; i < job.depth && this.issue(now); i++);
    this.flush();
    if (job.mode === 'fill' && this.inflight === 0 && nextFillKey >= job.keyEnd) checkFillDone();
  }

  /** Churn: this connection has had its one get answered; hang up and start the next one. */
  private reopen(): void {
    this.socket?.destroy();
    this.socket = null;
    this.head = 0;
    this.inflight = 0;
    if (running) this.open();
  }

  private onError(err: Error): void {
    socketErrors++;
    lastSocketError = err.message;
    if (job.mode === 'churn' && running) {
      this.socket?.destroy();
      this.socket = null;
      setImmediate(() => { if (running) this.open(); });
      return;
    }
    post({ type: 'error', message: `connection: ${err.message}` });
  }
}

function checkFillDone(): void {
  for (const c of conns) if (c.inflight > 0) return;
  post({ type: 'done' });
}

function counters(): Counters {
  let hits = 0, errors = socketErrors, notStored = 0, lastError = lastSocketError;
  for (const c of conns) {
    hits += c.parser.hits;
    errors += c.parser.errors;
    notStored += c.parser.notStored;
    if (c.parser.lastError !== '') lastError = c.parser.lastError;
  }
  return {
    ops, keysAsked, hits, errors, notStored, lastError,
    elapsedMs: performance.now() - markAt, histogram,
  };
}

function mark(): void {
  histogram = newHistogram();
  ops = 0;
  keysAsked = 0;
  socketErrors = 0;
  for (const c of conns) { c.parser.hits = 0; c.parser.errors = 0; c.parser.notStored = 0; }
  markAt = performance.now();
}

function stop(): void {
  running = false;
  for (const c of conns) c.socket?.destroy();
  post({ type: 'stopped' });
  parentPort!.close();
}

parentPort!.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'mark': mark(); break;
    case 'report': post({ type: 'report', counters: counters() }); break;
    case 'stop': stop(); break;
  }
});

for (let i = 0; i < job.conns; i++) {
  const c = new Conn();
  conns.push(c);
  c.open();
}
if (job.mode === 'churn') post({ type: 'ready' });
