// Every open connection's row in shared memory, so that `stats conns` on any worker lists the
// connections of all workers (memcached walks its global conns[] array). The dispatcher claims a
// row when it accepts; the owning worker keeps the row's state and last-command time current and
// frees it on close. The row number is the connection's id, as memcached's fd is.
//
//   row (16 x Int32, one cache line): [ used | state | lastCmd (rel secs) | transport (1 tcp, 2 unix, 4 udp,
//     3 tcp6) | ipv4 (u32) | remote port | local port | thread | local ipv4 | unused x 7 ]
//
// A row fills a 64-byte line because its worker writes `state` several times per request and
// neighbouring rows belong to other workers (round-robin): rows sharing a line made every request
// pay cache-line transfers between cores.

export const ConnRow = { used: 0, state: 1, lastCmd: 2, transport: 3, ipv4: 4, port: 5, localPort: 6, thread: 7, localIpv4: 8 } as const;
const ROW = 16;
/** Ids start above stdin/out/err and the listeners, so they read like memcached's fds. */
export const FIRST_CONN_ID = 16;

export function createConnTable(rows: number): SharedArrayBuffer {
  return new SharedArrayBuffer(rows * ROW * 4);
}

export class ConnTable {
  readonly i32: Int32Array;
  readonly rows: number;
  private cursor = 0;
  constructor(sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab);
    this.rows = this.i32.length / ROW;
  }

  /** Claim a free row (dispatcher); -1 when every row is taken. */
  claim(): number {
    for (let n = 0; n < this.rows; n++) {
      const r = (this.cursor + n) % this.rows;
      if (Atomics.compareExchange(this.i32, r * ROW + ConnRow.used, 0, 1) === 0) {
        this.cursor = (r + 1) % this.rows;
        return r;
      }
    }
    return -1;
  }

  free(r: number): void { Atomics.store(this.i32, r * ROW + ConnRow.used, 0); }
  set(r: number, field: number, v: number): void { this.i32[r * ROW + field] = v; }
  get(r: number, field: number): number { return this.i32[r * ROW + field]; }
  used(r: number): boolean { return Atomics.load(this.i32, r * ROW + ConnRow.used) === 1; }

  static idOf(row: number): number { return row + FIRST_CONN_ID; }
  static rowOf(id: number): number { return id - FIRST_CONN_ID; }
}

/** A dotted IPv4 address (or an IPv4-mapped "::ffff:a.b.c.d") as 32 bits; 0 for anything else. */
export function ipv4ToInt(addr: string | undefined): number {
  if (!addr) return 0;
  let at = addr.startsWith('::ffff:') ? 7 : 0;
  let value = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0 && addr.charCodeAt(at++) !== 0x2e) return 0; // '.'
    let n = 0;
    const first = at;
    for (let d = addr.charCodeAt(at) - 0x30; d >= 0 && d <= 9 && at - first < 3; d = addr.charCodeAt(at) - 0x30) {
      n = n * 10 + d;
      at++;
    }
    if (at === first || n > 255) return 0;
    value = value * 256 + n;
  }
  return at === addr.length ? value | 0 : 0;
}

export function intToIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}
