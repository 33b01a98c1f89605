// Every open connection's row in shared memory, so that `stats conns` on any worker lists the
// connections of all workers (memcached walks its global conns[] array). The dispatcher claims a
// row when it accepts; the owning worker keeps the row's state and last-command time current and
// frees it on close. The row number is the connection's id, as memcached's fd is, and like an fd the
// lowest free row is taken: a closed connection's id goes to the next one, and `connection_structures`
// (the rows ever used) stays at the most connections open at once, as memcached's conns[] does.
//
//   [ rows x 16 Int32 | a bit per row, set while the row is taken ]
//   row (16 x Int32, one cache line): [ unused | state | lastCmd (rel secs) | transport (Transport) | ipv4 (u32) | remote port | local port | thread | local ipv4 | remote ipv6 words 2-4 |
//     local ipv6 words 2-4 | unused ]   (an IPv6 address: its first word where the IPv4 one goes, then three more)
//
// A row fills a 64-byte line because its worker writes `state` several times per request and
// neighbouring rows belong to other workers (round-robin): rows sharing a line made every request
// pay cache-line transfers between cores. The taken bits sit apart, 32 to a word, so that finding the
// lowest free row reads a few words rather than a line per open connection.

/** ConnRow.transport: how the row's addresses are read and printed (memcached's tcp, unix, tcp6, udp, udp6). */
export const Transport = { tcp: 1, unix: 2, tcp6: 3, udp: 4, udp6: 5 } as const;

export const ConnRow = {
  state: 1, lastCmd: 2, transport: 3, ipv4: 4, port: 5, localPort: 6, thread: 7, localIpv4: 8, ipv6: 9, localIpv6: 12,
} as const;
const ROW = 16;

/** The shared table for at least `rows` rows (rounded up to whole words of taken bits). */
export function createConnTable(rows: number): SharedArrayBuffer {
  const n = Math.ceil(rows / 32) * 32;
  return new SharedArrayBuffer((n * ROW + n / 32) * 4);
}

export class ConnTable {
  declare readonly i32: Int32Array;
  declare readonly rows: number;
  private declare readonly taken: Int32Array; // bit r % 32 of word r >> 5: row r is in use
  private declare readonly firstId: number;
  /**
   * `firstId`: the descriptor memcached gives its first listening socket (main/start-descriptors.ts: firstConnId),
   * row 0's id, so that `stats conns` and the -vv log name each connection as memcached would.
   */
  constructor(sab: SharedArrayBuffer, firstId: number) {
    this.i32 = new Int32Array(sab);
    this.rows = this.i32.length * 32 / (ROW * 32 + 1);
    this.taken = this.i32.subarray(this.rows * ROW);
    this.firstId = firstId;
  }

  /** Claim the lowest free row, cleared (dispatcher, or a worker on a unix socket); -1 when every row is taken. */
  claim(): number {
    const taken = this.taken;
    for (let w = 0; w < taken.length; w++) {
      let bits = Atomics.load(taken, w);
      while (bits !== -1) {
        const lowestFree = ~bits & (bits + 1);
        const seen = Atomics.compareExchange(taken, w, bits, bits | lowestFree);
        if (seen === bits) {
          const r = w * 32 + 31 - Math.clz32(lowestFree);
          this.i32.fill(0, r * ROW, r * ROW + ROW);
          return r;
        }
        bits = seen; // another thread claimed or freed a row of this word: look again
      }
    }
    return -1;
  }

  /** The row claim() would take now (-1: none): the descriptor memcached's next accept would get. */
  lowestFree(): number {
    const taken = this.taken;
    for (let w = 0; w < taken.length; w++) {
      const bits = Atomics.load(taken, w);
      if (bits !== -1) return w * 32 + 31 - Math.clz32(~bits & (bits + 1));
    }
    return -1;
  }

  free(r: number): void { Atomics.and(this.taken, r >> 5, ~(1 << (r & 31))); }
  set(r: number, field: number, v: number): void { this.i32[r * ROW + field] = v; }
  get(r: number, field: number): number { return this.i32[r * ROW + field]; }
  used(r: number): boolean { return (Atomics.load(this.taken, r >> 5) & (1 << (r & 31))) !== 0; }

  idOf(row: number): number { return row + this.firstId; }
  rowOf(id: number): number { return id - this.firstId; }
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

/** Write an address into a row: an IPv4 one as one word at `v4Field`, an IPv6 one there and at `v6Field`..+2. */
export function setAddress(t: ConnTable, row: number, v4Field: number, v6Field: number, addr: string | undefined,
  family: string | undefined): void {
  const words = family === 'IPv6' ? ipv6ToWords(addr) : null;
  if (words === null) { t.set(row, v4Field, ipv4ToInt(addr)); return; }
  t.set(row, v4Field, words[0]);
  for (let i = 1; i < 4; i++) t.set(row, v6Field + i - 1, words[i]);
}

/** The IPv6 address setAddress wrote. */
export function ipv6At(t: ConnTable, row: number, v4Field: number, v6Field: number): string {
  return wordsToIpv6([t.get(row, v4Field), t.get(row, v6Field), t.get(row, v6Field + 1), t.get(row, v6Field + 2)]);
}

/** An IPv6 address in text (as getpeername gives it) as four big-endian 32-bit words; null if it is not one. */
export function ipv6ToWords(addr: string | undefined): number[] | null {
  if (!addr || !addr.includes(':')) return null;
  let text = addr;
  const groups: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) { // an embedded IPv4 tail: two more groups
    text = text.slice(0, v4.index) + ((+v4[1] << 8) | +v4[2]).toString(16) + ':' + ((+v4[3] << 8) | +v4[4]).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const [head, tail] = halves;
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = parse(head), t = parse(tail);
  if (tail === undefined) groups.push(...h);
  else groups.push(...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t);
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  return [0, 2, 4, 6].map((i) => ((groups[i] << 16) | groups[i + 1]) | 0);
}

/**
 * inet_ntop(AF_INET6) of four words, as memcached prints it: lower-case groups without leading zeros, the
 * longest run of two or more zero groups (the first of equals) as "::", an IPv4-mapped or -compatible
 * address with its last 32 bits dotted.
 */
export function wordsToIpv6(words: readonly number[]): string {
  const g: number[] = [];
  for (const w of words) g.push((w >>> 16) & 0xffff, w & 0xffff);
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === best) { out += i === 0 ? '::' : ':'; i += bestLen - 1; continue; }
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && g[5] === 0xffff))) {
      out += `${g[6] >>> 8}.${g[6] & 255}.${g[7] >>> 8}.${g[7] & 255}`;
      break;
    }
    out += g[i].toString(16) + (i < 7 ? ':' : '');
  }
  return out;
}
