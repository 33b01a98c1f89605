// A mutex on one Int32Array word (Drepper's "futexes are tricky", mutex 2):
// 0 free, 1 locked, 2 locked and someone may sleep in Atomics.wait.
// memcached's item_lock / item_trylock / item_unlock and its lru/slabs mutexes all use this.

const SPIN = 64; // brief spin before sleeping: critical sections are a few hundred ns

export function mutexLock(a: Int32Array, i: number): void {
  if (Atomics.compareExchange(a, i, 0, 1) === 0) return;
  for (let n = 0; n < SPIN; n++) {
    if (Atomics.load(a, i) === 0 && Atomics.compareExchange(a, i, 0, 1) === 0) return;
  }
  // Mark "contended" (2) and sleep until the holder's unlock wakes us.
  while (Atomics.exchange(a, i, 2) !== 0) Atomics.wait(a, i, 2);
}

export function mutexTrylock(a: Int32Array, i: number): boolean {
  return Atomics.compareExchange(a, i, 0, 1) === 0;
}

export function mutexUnlock(a: Int32Array, i: number): void {
  // Only a word that was 2 can have sleepers: the uncontended unlock is one atomic op.
  if (Atomics.exchange(a, i, 0) === 2) Atomics.notify(a, i, 1);
}

/** memcached's item lock table size: hashsize(10..13) by worker count (thread.c memcached_thread_init). */
export function itemLockPower(numThreads: number): number {
  if (numThreads < 3) return 10;
  if (numThreads === 3) return 11;
  if (numThreads === 4) return 12;
  return 13;
}
