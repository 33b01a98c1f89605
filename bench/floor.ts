// The floor: what a Node server pays per request before it does any caching. It speaks just enough
// of the text protocol for workloads 1 and 4 (a get answers a 100-byte value for any key, a 16 KB
// one for workload 4's keys; a set skips its data and answers STORED), through Cachalot's own
// transport (worker/handle-io.ts: the bare libuv handle, reads into a reused buffer, one write per
// read) on -t worker threads. No store, no locks, no state machine: the bench runs it beside
// memcached and Cachalot so that the report tells apart the cost Node itself puts on every request
// (event loop, callback entry, handle calls, the reply's copy) from the cost of Cachalot's own
// code, which is what profiling can still cut.
//
//   node bench/floor.ts -p PORT|-1 -t THREADS [-l ADDR] (other memcached flags are ignored);
//   MEMCACHED_PORT_FILENAME is written as the servers write it.
//
// Threads listen on the same port with SO_REUSEPORT (the kernel spreads connections) instead of a
// dispatcher: the floor of a request on a connection that stays open, which is what workloads 1 and
// 4 are.

import * as net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { acceptHandles, setClientTcpOptions, type ConnHandle } from '../src/dispatcher/accept.ts';
import { copyBytes } from '../src/libc/bytes.ts';
import { openHandleIo, type HandleIo } from '../src/worker/handle-io.ts';
import { BIG_KEY_LETTER, BIG_VALUE, SMALL_VALUE } from './workloads.ts';
import { GET, SET, keyEnd, keyStart, forEachLine, parseFloorArgs, skipSetData, startsWith, valueBlock, writeFloorPortFile, type LineConn } from './floor-lines.ts';

const READ_BUFFER = 64 * 1024;
const OUT_BUFFER = 64 * 1024;


/** One connection: the bytes of a line cut by a read, and a set's data still to skip. */
class FloorConn implements LineConn {
  carry: Buffer | null = null;
  skip = 0;
  io: HandleIo | null = null;
  readonly out: FloorOut;
  constructor(out: FloorOut) { this.out = out; }
}


/** A worker thread's replies go out of this buffer; a write libuv had to queue keeps it. */
class FloorOut {
  buf = Buffer.allocUnsafe(OUT_BUFFER);
  pos = 0;
  private readonly valueSp = Buffer.from('VALUE ', 'latin1');
  private readonly value = valueBlock(SMALL_VALUE);
  private readonly bigValue = valueBlock(BIG_VALUE);
  private readonly bigKeyLetter = BIG_KEY_LETTER.charCodeAt(0);
  private readonly endReply = Buffer.from('END\r\n', 'latin1');
  private readonly storedReply = Buffer.from('STORED\r\n', 'latin1');
  private readonly errorReply = Buffer.from('ERROR\r\n', 'latin1');

  /** VALUE blocks for the keys of `line` (from after "get "), then END; workload 4's keys get 16 KB. */
  getReply(io: HandleIo, line: Uint8Array, from: number, to: number): void {
    let at = from;
    while (at < to) {
      at = keyStart(line, at, to);
      const end = keyEnd(line, at, to);
      if (end === at) break;
      const value = line[at] === this.bigKeyLetter ? this.bigValue : this.value;
      this.room(io, this.valueSp.length + end - at + value.length);
      this.copy(this.valueSp, 0, this.valueSp.length);
      this.copy(line, at, end);
      this.copy(value, 0, value.length);
      at = end;
    }
    this.put(io, this.endReply);
  }

  stored(io: HandleIo): void { this.put(io, this.storedReply); }
  error(io: HandleIo): void { this.put(io, this.errorReply); }

  /** Send what is written; a write libuv queued owns the buffer, so the next replies get another. */
  flush(io: HandleIo): void {
    if (this.pos === 0) return;
    const err = io.write(this.buf.subarray(0, this.pos));
    if (err === 0 && io.queued() > 0) this.buf = Buffer.allocUnsafe(OUT_BUFFER);
    this.pos = 0;
    if (err !== 0) io.close();
  }

  private put(io: HandleIo, bytes: Buffer): void {
    this.room(io, bytes.length);
    this.copy(bytes, 0, bytes.length);
  }

  /** Append from[start, end) (room made by the caller), with the copy the server itself uses. */
  private copy(from: Uint8Array, start: number, end: number): void {
    copyBytes(this.buf, this.pos, from, start, end - start);
    this.pos += end - start;
  }

  private room(io: HandleIo, n: number): void {
    if (this.pos + n > this.buf.length) this.flush(io);
  }
}

/** Answer every whole line in bytes[0, n); keep a cut line for the next read. */
function onFloorRead(c: FloorConn, bytes: Uint8Array, n: number): void {
  forEachLine(c, bytes.subarray(0, n), answerLine);
  c.out.flush(c.io!);
}

function answerLine(c: FloorConn, line: Uint8Array, from: number, to: number): void {
  const io = c.io!;
  if (startsWith(line, from, to, GET)) c.out.getReply(io, line, from + 4, to);
  else if (startsWith(line, from, to, SET)) { if (skipSetData(c, line, from, to)) c.out.stored(io); }
  else c.out.error(io);
}



function serveThread(port: number, host: string): void {
  const readBuffer = Buffer.allocUnsafe(READ_BUFFER);
  const out = new FloorOut();
  const server = net.createServer();
  server.listen({ port, host, reusePort: true }, () => {
    setClientTcpOptions(server);
    acceptHandles(server, (handle: ConnHandle) => {
      const c = new FloorConn(out);
      const io = openHandleIo(handle, readBuffer, {
        onRead: (n) => onFloorRead(c, readBuffer, n),
        onReadInto: () => {},
        onReadEnd: () => io.close(),
        onDrain: () => {},
        onWriteError: () => io.close(),
        onClosed: () => {},
      });
      c.io = io;
      io.resume();
    });
    parentPort!.postMessage((server.address() as net.AddressInfo).port);
  });
}

async function main(): Promise<void> {
  const args = parseFloorArgs(process.argv.slice(2));
  // The first thread takes the port (a free one for -p -1); the others join it.
  let port = args.port;
  for (let i = 0; i < args.threads; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { port, host: args.host } });
    port = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  }
  writeFloorPortFile(port);
  process.on('SIGTERM', () => process.exit(0));
}

if (isMainThread) await main();
else {
  const { port, host } = workerData as { port: number; host: string };
  serveThread(port, host);
}
