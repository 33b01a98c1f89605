// A test client over a real socket: raw bytes out, exact byte counts in. Every wait has a
// failure bound (WAIT_BOUND_MS): a server that does not answer fails the test with what did
// arrive, it never hangs the run. The bound is not a timing assertion.

import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';

export const WAIT_BOUND_MS = 5_000;

/** Bytes as a readable one-line string: printable ASCII as is, the rest escaped. */
export function show(b: Buffer | string, max = 2000): string {
  const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  let s = '';
  for (const c of buf.subarray(0, max)) {
    if (c === 0x0d) s += '\\r';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return buf.length > max ? `${s}... (${buf.length} bytes)` : s;
}

export function bytes(b: string | Buffer): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
}

/**
 * Received bytes not yet taken: appended in place with room to spare, so a reply of many megabytes
 * arriving in small reads costs a linear number of copies, not one whole copy per read.
 */
class Inbox {
  private store = Buffer.alloc(64 * 1024);
  private start = 0;
  private end = 0;

  get bytes(): Buffer { return this.store.subarray(this.start, this.end); }

  get length(): number { return this.end - this.start; }

  append(d: Buffer): void {
    if (this.end + d.length > this.store.length) {
      const live = this.bytes;
      let size = this.store.length;
      while (size < live.length + d.length) size *= 2;
      const next = size === this.store.length ? this.store : Buffer.alloc(size);
      live.copy(next, 0);
      this.store = next;
      this.start = 0;
      this.end = live.length;
    }
    d.copy(this.store, this.end);
    this.end += d.length;
  }

  /** The first n bytes, copied out, and dropped from here. */
  take(n: number): Buffer {
    const out = Buffer.from(this.store.subarray(this.start, this.start + n));
    this.start += n;
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  clear(): void { this.start = this.end = 0; }
}

export class Client {
  readonly socket: Socket;
  private readonly inbox = new Inbox();
  private isClosed = false;
  private wake: (() => void) | null = null;

  private get buf(): Buffer { return this.inbox.bytes; }

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => { this.inbox.append(d); this.notify(); });
    socket.on('close', () => { this.isClosed = true; this.notify(); });
    socket.on('error', () => { this.isClosed = true; this.notify(); }); // seen as a hang-up
  }

  /** Connect to 127.0.0.1:port, or to a unix socket when given a path. */
  static connect(target: number | string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = typeof target === 'number'
        ? connect({ host: '127.0.0.1', port: target })
        : connect({ path: target });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect ${target}: no answer`)); }, WAIT_BOUND_MS);
      socket.once('connect', () => { clearTimeout(timer); resolve(new Client(socket)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /** Connect to host:port (an IPv6 address, say). */
  static connectTo(host: string, port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect ${host}:${port}: no answer`)); }, WAIT_BOUND_MS);
      socket.once('connect', () => { clearTimeout(timer); resolve(new Client(socket)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  /**
   * A TLS connection to 127.0.0.1:port, resolved once the handshake is done (the server has not yet
   * checked a client certificate under TLS 1.3: a refused one shows as a hang-up on the first request).
   */
  static connectTls(port: number, options: TlsConnectionOptions = {}): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`TLS connect ${port}: no handshake`)); }, WAIT_BOUND_MS);
      socket.once('secureConnect', () => { clearTimeout(timer); resolve(new Client(socket)); });
      socket.once('error', (e) => { clearTimeout(timer); reject(e); });
      socket.once('close', () => { clearTimeout(timer); reject(new Error(`TLS connect ${port}: closed during the handshake`)); });
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    if (w) w();
  }

  /** Wait until `ready()` holds; reject after the bound or on hang-up, saying what arrived. */
  private async waitFor(ready: () => boolean, what: string, boundMs = WAIT_BOUND_MS): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (!ready()) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${what}; got "${show(this.buf)}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${boundMs} ms; got "${show(this.buf)}"`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.wake = null; resolve(); }, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  private take(n: number): Buffer {
    return this.inbox.take(n);
  }

  /** Write bytes (strings are latin1, so "\xff" is one byte); resolves once handed to the kernel. */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes(data), (e) => (e ? reject(e) : resolve()));
    });
  }

  /** Write one byte per write call, so the server sees the request in as many reads as it can. */
  async sendSplit(data: string | Buffer): Promise<void> {
    const b = bytes(data);
    for (let i = 0; i < b.length; i++) await this.send(b.subarray(i, i + 1));
  }

  /** Exactly n bytes. */
  async read(n: number): Promise<Buffer> {
    await this.waitFor(() => this.inbox.length >= n, `${n} bytes`);
    return this.take(n);
  }

  /** Everything up to and including `terminator`. */
  async readUntil(terminator: string | Buffer): Promise<Buffer> {
    const t = bytes(terminator);
    let at = -1, from = 0; // bytes already searched are not searched again
    await this.waitFor(() => {
      at = this.buf.indexOf(t, from);
      from = Math.max(0, this.inbox.length - t.length + 1);
      return at >= 0;
    }, `"${show(t)}"`);
    return this.take(at + t.length);
  }

  /** One line, without its "\r\n" (or bare "\n"). */
  async readLine(): Promise<string> {
    const b = await this.readUntil('\n');
    const end = b.length >= 2 && b[b.length - 2] === 0x0d ? b.length - 2 : b.length - 1;
    return b.subarray(0, end).toString('latin1');
  }

  /** Send, then read exactly expectLen bytes. */
  async request(data: string | Buffer, expectLen: number): Promise<Buffer> {
    await this.send(data);
    return this.read(expectLen);
  }

  /** `stats` (or `stats <sub>`): its STAT lines as a map of name to value. */
  async stats(sub = ''): Promise<Map<string, string>> {
    await this.send(`stats${sub === '' ? '' : ' ' + sub}\r\n`);
    const text = (await this.readUntil('END\r\n')).toString('latin1');
    return new Map([...text.matchAll(/^STAT (\S+) (.*)\r$/gm)].map((m): [string, string] => [m[1], m[2]]));
  }

  /** `stats` (or `stats <sub>`) on a connection of its own, closed after. */
  static async statsOf(port: number, sub = ''): Promise<Map<string, string>> {
    const c = await Client.connect(port);
    try { return await c.stats(sub); } finally { c.end(); }
  }

  /** Bytes received and not yet read (a peek; nothing is consumed). */
  pending(): Buffer {
    return Buffer.from(this.buf);
  }

  /** Resolves when the server has hung up; rejects after the bound. Unread bytes are dropped. */
  async closed(boundMs = WAIT_BOUND_MS): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (!this.isClosed) {
      this.inbox.clear();
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`server did not close the connection within ${boundMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.wake = null; resolve(); }, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
    }
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Stop reading: the server's replies back up in the kernel, as with a client that never reads. */
  pauseReading(): void {
    this.socket.pause();
  }

  /** Read again after pauseReading(). */
  resumeReading(): void {
    this.socket.resume();
  }

  /** Drop the connection at once, unread replies and all. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Send our end of the stream (a FIN) and go on reading: the server still answers what it was sent. */
  endWriting(): void {
    this.socket.end();
  }

  /** Close our side and release the socket. */
  end(): void {
    this.socket.end();
    this.socket.destroy();
  }
}
