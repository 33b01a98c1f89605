// memcached's per-class sleep for its LRU maintainer (lru_maintainer_thread's next_juggles and
// backoff_juggles): a class whose juggle moved nothing is looked at again a little later each time, an eighth
// more a round from 1 ms up to 1 s; one that moved something, twice as soon, down to at once. The thread
// sleeps until the next class is due, so a busy class is juggled at once again while idle ones rest.

export const MIN_SLEEP_US = 1000;
export const MAX_SLEEP_US = 1_000_000;

export class JuggleBackoff {
  private declare readonly next: Float64Array;
  private declare readonly backoff: Float64Array;
  private lastSleepUs = MIN_SLEEP_US;
  private toSleepUs = MAX_SLEEP_US;

  constructor(classes: number) {
    this.next = new Float64Array(classes);
    this.backoff = new Float64Array(classes);
  }

  /** A new round after sleeping sleptUs: a sleep of 0 counts as 1 ms, as in memcached. */
  startRound(sleptUs: number): void {
    this.lastSleepUs = Math.max(sleptUs, MIN_SLEEP_US);
    this.toSleepUs = MAX_SLEEP_US;
  }

  /** Whether class c is due for a juggle this round (else its wait counts towards the round's sleep). */
  due(c: number): boolean {
    const left = this.next[c] > this.lastSleepUs ? this.next[c] - this.lastSleepUs : 0;
    this.next[c] = left;
    if (left > 0 && left < this.toSleepUs) this.toSleepUs = left;
    return left === 0;
  }

  /** Class c was juggled and made `moves` rounds of moves. */
  juggled(c: number, moves: number): void {
    let b = this.backoff[c];
    if (moves === 0) b = b !== 0 ? Math.min(b + Math.floor(b / 8), MAX_SLEEP_US) : MIN_SLEEP_US;
    else if (b > 0) { b = Math.floor(b / 2); if (b < MIN_SLEEP_US) b = 0; }
    this.backoff[c] = b;
    this.next[c] = b;
    if (b < this.toSleepUs) this.toSleepUs = b;
  }

  /** How long to sleep before the next round: until the first class is due. */
  sleepUs(): number { return this.toSleepUs; }
}
