// The store's mutexes: each one Int32 word of the control block (Drepper's "futexes are tricky",
// mutex 2): 0 free, 1 locked, 2 locked and someone may sleep in Atomics.wait. memcached's
// item_lock / item_trylock / item_unlock and its LRU, slabs, CAS and expand mutexes all use this.
//
// The uncontended lock and unlock (one compare-exchange, one exchange) run as two tiny WebAssembly
// functions on the control block's memory rather than as Atomics calls. V8 does not inline its
// Atomics builtins: each call checks its array, index and value types before the locked
// instruction, while a call into a wasm function that is that instruction costs about half
// (lock + unlock, uncontended, hot: 27-52 ns through Atomics, 16-18 ns through wasm). A get takes
// and releases an item lock per key, so this is on every request's path. The memory is the same,
// so the slow path (spin, then Atomics.wait / Atomics.notify) stays in plain Atomics. A third function is a
// sequentially consistent load, for the hash table's state word, which every lookup reads (a multi-get's key twice:
// warmLookups and the lookup): Atomics.load there was ~120 instructions a call (callgrind), the wasm call ~15.

const SPIN = 64; // brief spin before sleeping: critical sections are a few hundred ns

/**
 * (module
 *   (import "ctl" "memory" (memory 0 65536 shared))
 *   (func (export "lock") (param $addr i32) (result i32)   ;; the old value: 0 when now locked
 *     (i32.atomic.rmw.cmpxchg (local.get $addr) (i32.const 0) (i32.const 1)))
 *   (func (export "unlock") (param $addr i32) (result i32) ;; the old value: 2 when sleepers may wait
 *     (i32.atomic.rmw.xchg (local.get $addr) (i32.const 0))))
 */
const LOCK_MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  // type section: one type, (i32) -> i32
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
  // import section: "ctl" "memory", a memory, shared with a maximum (flags 3), min 0, max 65536 pages
  0x02, 0x12, 0x01, 0x03, 0x63, 0x74, 0x6c, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79,
  0x02, 0x03, 0x00, 0x80, 0x80, 0x04,
  // function section: three functions of type 0
  0x03, 0x04, 0x03, 0x00, 0x00, 0x00,
  // export section: "lock" = func 0, "unlock" = func 1, "load" = func 2
  0x07, 0x18, 0x03, 0x04, 0x6c, 0x6f, 0x63, 0x6b, 0x00, 0x00,
  0x06, 0x75, 0x6e, 0x6c, 0x6f, 0x63, 0x6b, 0x00, 0x01,
  0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x02,
  // code section
  0x0a, 0x22, 0x03,
  // lock: local.get 0, i32.const 0, i32.const 1, i32.atomic.rmw.cmpxchg align=4 offset=0, end
  0x0c, 0x00, 0x20, 0x00, 0x41, 0x00, 0x41, 0x01, 0xfe, 0x48, 0x02, 0x00, 0x0b,
  // unlock: local.get 0, i32.const 0, i32.atomic.rmw.xchg align=4 offset=0, end
  0x0a, 0x00, 0x20, 0x00, 0x41, 0x00, 0xfe, 0x41, 0x02, 0x00, 0x0b,
  // load: local.get 0, i32.atomic.load align=4 offset=0, end
  0x08, 0x00, 0x20, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x0b,
]);

const lockModule = new WebAssembly.Module(LOCK_MODULE);

type LockExports = {
  /** cmpxchg 0 -> 1 at a byte address; the word's old value. */
  lock(addr: number): number;
  /** xchg 0 at a byte address; the word's old value. */
  unlock(addr: number): number;
  /** A sequentially consistent load at a byte address. */
  load(addr: number): number;
};

/** The control block as a shared wasm memory: its pages are never grown, so its buffer stays the same size. */
export function createCtlMemory(bytes: number): WebAssembly.Memory {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** The control block's buffer (a shared memory's buffer is a SharedArrayBuffer). */
export function ctlBuffer(memory: WebAssembly.Memory): SharedArrayBuffer {
  return memory.buffer as unknown as SharedArrayBuffer;
}

/** The mutexes of one control block, for one thread. Indexes are Int32 word indexes into it. */
export class Mutexes {
  private declare readonly words: Int32Array;
  private declare readonly ops: LockExports;

  constructor(memory: WebAssembly.Memory) {
    this.words = new Int32Array(ctlBuffer(memory));
    this.ops = new WebAssembly.Instance(lockModule, { ctl: { memory } }).exports as unknown as LockExports;
  }

  lock(i: number): void {
    if (this.ops.lock(i << 2) !== 0) this.lockSlow(i);
  }

  trylock(i: number): boolean {
    return this.ops.lock(i << 2) === 0;
  }

  /** Atomics.load(words, i), as one wasm instruction: V8 does not inline Atomics.load either. */
  load(i: number): number {
    return this.ops.load(i << 2);
  }

  unlock(i: number): void {
    // Only a word that was 2 can have sleepers: the uncontended unlock is one atomic op.
    if (this.ops.unlock(i << 2) === 2) Atomics.notify(this.words, i, 1);
  }

  private lockSlow(i: number): void {
    const a = this.words;
    for (let n = 0; n < SPIN; n++) {
      if (Atomics.load(a, i) === 0 && this.ops.lock(i << 2) === 0) return;
    }
    // Mark "contended" (2) and sleep until the holder's unlock wakes us.
    while (Atomics.exchange(a, i, 2) !== 0) Atomics.wait(a, i, 2);
  }
}

/** memcached's item lock table size: hashsize(10..15) by worker count (thread.c memcached_thread_init). */
export function itemLockPower(numThreads: number): number {
  if (numThreads < 3) return 10;
  if (numThreads === 3) return 11;
  if (numThreads === 4) return 12;
  if (numThreads <= 10) return 13;
  return numThreads <= 20 ? 14 : 15;
}

/**
 * memcached refuses to start when the item lock table is not smaller than the hash table it guards (`-o
 * hashpower` against `-t`; hashpowerInit 0 is the default 16): the message it prints, or null.
 */
export function lockTableRefusal(numThreads: number, hashpowerInit: number): string | null {
  const power = itemLockPower(numThreads), hashpower = hashpowerInit || 16;
  if (power < hashpower) return null;
  return `Hash table power size (${hashpower}) cannot be equal to or less than item lock table (${power})\n` +
    'Item lock table grows with `-t N` (worker threadcount)\nHash table grows with `-o hashpower=N` ';
}
