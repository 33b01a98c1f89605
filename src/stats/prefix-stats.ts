// `stats detail`: per key-prefix counts of gets, hits, sets and deletes (memcached's stats_prefix.c),
// in one table in shared memory so every worker counts into it and any worker can dump it.
//
// The prefix is the key up to the first delimiter (-D, ':' by default); keys without one are
// not counted, as in memcached. Slots are claimed once, in order, and never freed (until `stats reset`);
// memcached's table grows without bound, ours holds PREFIX_SLOTS prefixes and counts no more.
// A prefix is looked up as memcached's stats_prefix_find does: in its bucket of memcached's 256 (its
// hash's low byte), newest first, comparing the new prefix's length only, so a prefix that begins a
// longer one in its bucket counts as that one (strncmp(pfs->prefix, key, length)).
//
//   header (Int32): [ enabled | created | lock | pad ]
//
// Counting takes the table's lock, as memcached's stats_prefix_record_* take its prefix stats mutex (only
// while detail is on): lock-free counting let a count taken just before a `stats reset` land on the next
// prefix to take that slot.
//   slot (72 Int32 words): [ state (0 free, 2 named; set last, for dump) | len | get | hit | set | del |
//                            pad | next | prefix bytes (256) ]
//   then the buckets' heads (PREFIX_HASH_SIZE Int32 words): slot number + 1 of the newest prefix in each, 0 for
//   none; a slot's `next` is the one before it in its bucket, the same way.

import { hash } from '../store/hash.ts';

const HEADER_WORDS = 4;
const SLOT_WORDS = 72;
const S = { state: 0, len: 1, get: 2, hit: 3, set: 4, del: 5, next: 7 } as const;
const PREFIX_BYTES_AT = 8 * 4;
/** The header word that is the table's lock (a spin lock: what it guards takes a few dozen ns). */
const LOCK = 2;
const PREFIX_MAX = 250;
export const PREFIX_SLOTS = 1024;
/** memcached's PREFIX_HASH_SIZE: the buckets its lookup walks one of, and its dump all in order. */
const PREFIX_HASH_SIZE = 256;
/** The first of the buckets' head words. */
const HEADS = HEADER_WORDS + PREFIX_SLOTS * SLOT_WORDS;

/** The table, on from the start with -D (memcached's detail_enabled). */
export function createPrefixStats(enabled: boolean): SharedArrayBuffer {
  const sab = new SharedArrayBuffer((HEADS + PREFIX_HASH_SIZE) * 4);
  new Int32Array(sab)[0] = enabled ? 1 : 0;
  return sab;
}

export class PrefixStats {
  private declare readonly i32: Int32Array;
  private declare readonly u8: Uint8Array;
  private declare readonly delimiter: number;
  /** `delimiter`: -D's character, ':' by default. */
  constructor(sab: SharedArrayBuffer, delimiter: string) {
    this.i32 = new Int32Array(sab);
    this.u8 = new Uint8Array(sab);
    this.delimiter = delimiter.charCodeAt(0);
  }

  enabled(): boolean { return this.i32[0] === 1; }
  setEnabled(on: boolean): void { Atomics.store(this.i32, 0, on ? 1 : 0); }

  recordGet(key: Uint8Array, off: number, len: number, hit: boolean): void {
    this.lock();
    try {
      const slot = this.slotFor(key, off, len);
      if (slot < 0) return;
      Atomics.add(this.i32, slot + S.get, 1);
      if (hit) Atomics.add(this.i32, slot + S.hit, 1);
    } finally { this.unlock(); }
  }
  recordSet(key: Uint8Array, off: number, len: number): void { this.count(key, off, len, S.set); }
  recordDelete(key: Uint8Array, off: number, len: number): void { this.count(key, off, len, S.del); }

  private count(key: Uint8Array, off: number, len: number, field: number): void {
    this.lock();
    try {
      const slot = this.slotFor(key, off, len);
      if (slot >= 0) Atomics.add(this.i32, slot + field, 1);
    } finally { this.unlock(); }
  }

  private lock(): void {
    while (Atomics.compareExchange(this.i32, LOCK, 0, 1) !== 0) { /* another thread is counting */ }
  }

  private unlock(): void { Atomics.store(this.i32, LOCK, 0); }

  /** The slot's first word for this key's prefix, claiming one if new; -1 when not counted. */
  private slotFor(key: Uint8Array, off: number, len: number): number {
    let plen = 0;
    while (plen < len && key[off + plen] !== this.delimiter && key[off + plen] !== 0) plen++;
    // memcached's stats_prefix_find reads the key as a C string: a NUL before the delimiter ends it unprefixed
    if (plen === len || key[off + plen] === 0 || plen > PREFIX_MAX) return -1;
    const bucket = HEADS + (hash(key, off, plen) & (PREFIX_HASH_SIZE - 1));
    for (let n = this.i32[bucket]; n !== 0; n = this.i32[HEADER_WORDS + (n - 1) * SLOT_WORDS + S.next]) {
      const slot = HEADER_WORDS + (n - 1) * SLOT_WORDS;
      if (this.begins(slot, key, off, plen)) return slot;
    }
    // claimed under the lock: nobody else names slots now; slots are taken in order until stats reset frees them all
    const n = this.i32[1];
    if (n >= PREFIX_SLOTS) return -1;
    const slot = HEADER_WORDS + n * SLOT_WORDS;
    this.i32.fill(0, slot + S.get, slot + S.del + 1); // a freed slot keeps its last counts (clear)
    this.u8.set(key.subarray(off, off + plen), slot * 4 + PREFIX_BYTES_AT);
    this.i32[slot + S.len] = plen;
    this.i32[slot + S.next] = this.i32[bucket];
    this.i32[bucket] = n + 1; // the newest first, as memcached links a new prefix at its bucket's head
    Atomics.store(this.i32, 1, n + 1);
    Atomics.store(this.i32, slot + S.state, 2);
    return slot;
  }

  /**
   * strncmp(pfs->prefix, key, length) == 0: the slot's prefix begins with the key's `plen` bytes. Its NUL
   * terminator ends a shorter one first, and a key's prefix holds no NUL, so a shorter prefix never matches.
   */
  private begins(slot: number, key: Uint8Array, off: number, plen: number): boolean {
    if (this.i32[slot + S.len] < plen) return false;
    const at = slot * 4 + PREFIX_BYTES_AT;
    for (let i = 0; i < plen; i++) if (this.u8[at + i] !== key[off + i]) return false;
    return true;
  }

  /**
   * memcached's stats_prefix_dump: its table's 256 buckets in order (a prefix's bucket is its hash's low byte),
   * the newest prefix first within each.
   */
  dump(): string {
    const rows: Array<[number, string]> = [];
    for (let n = 0; n < PREFIX_SLOTS; n++) {
      const slot = HEADER_WORDS + n * SLOT_WORDS;
      if (Atomics.load(this.i32, slot + S.state) !== 2) continue;
      const at = slot * 4 + PREFIX_BYTES_AT;
      const prefix = Buffer.from(this.u8.subarray(at, at + this.i32[slot + S.len])).toString('latin1');
      const i = this.i32;
      const bucket = hash(this.u8, at, this.i32[slot + S.len]) & (PREFIX_HASH_SIZE - 1);
      // newer first within a bucket (slots are taken in the order prefixes come): PREFIX_SLOTS fit between two buckets
      rows.push([bucket * 2 * PREFIX_SLOTS - n,
        `PREFIX ${prefix} get ${i[slot + S.get]} hit ${i[slot + S.hit]} set ${i[slot + S.set]} del ${i[slot + S.del]}\r\n`]);
    }
    return rows.sort((a, b) => a[0] - b[0]).map((r) => r[1]).join('');
  }

  /**
   * `stats reset` forgets every prefix (the enabled flag stays): under the lock, named slots are freed and the buckets
   * emptied, and a freed slot's counters are zeroed when it is claimed next.
   */
  clear(): void {
    this.lock();
    try {
      for (let n = 0; n < PREFIX_SLOTS; n++) Atomics.store(this.i32, HEADER_WORDS + n * SLOT_WORDS + S.state, 0);
      this.i32.fill(0, HEADS, HEADS + PREFIX_HASH_SIZE); // (read only under the lock)
      Atomics.store(this.i32, 1, 0);
    } finally { this.unlock(); }
  }
}
