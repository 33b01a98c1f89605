// memcached's slab_rebalance_thread: makes the page moves `slabs reassign` asks for (G.reassignSignal, with
// G.reassignSrc and G.reassignDst), a pass over the page per round of the maintainer until it is empty, then
// clears the signal (BUSY to another request until then). A page whose items stay in use is given up after
// MAX_PASSES passes, its free chunks handed back.

import type { Store } from "../store/store.ts";
import { PageMove, takePoolPage } from "../store/slab-mover.ts";
import { G } from "../store/layout.ts";
import { writeErr } from "../libc/stdio.ts";

const MAX_PASSES = 1000;

export class Rebalancer {
  private declare readonly st: Store;
  private move: PageMove | null = null;
  private passes = 0;

  constructor(st: Store) { this.st = st; }

  /** One pass of a move asked for; true when there was one to work on. */
  round(): boolean {
    const st = this.st, c32 = st.c32;
    if (this.move === null) {
      if (Atomics.load(c32, G.reassignSignal) !== 1) return false;
      if (!this.start(c32[G.reassignSrc], c32[G.reassignDst])) { this.done(); return true; }
      if (this.move === null) { this.finished(); return true; } // a page from the pool: moved at once
    }
    const move = this.move!;
    if (move.step(st)) { this.finished(); return true; }
    if (++this.passes >= MAX_PASSES) { move.abandon(st); this.done(); }
    return true;
  }

  /**
   * slab_rebalance_start: a move from the global pool is a page changing hands at once; from a class, a PageMove
   * (none when the class has no page to give). -vv says a move started, as memcached's does.
   */
  private start(src: number, dst: number): boolean {
    this.passes = 0;
    if (src === 0) takePoolPage(this.st, dst);
    else if ((this.move = PageMove.start(this.st, src, dst)) === null) return false;
    if (this.st.verbosity() > 1) writeErr('Started a slab rebalance\n');
    return true;
  }

  /** slab_rebalance_finish: the page is dst's now. */
  private finished(): void {
    if (this.st.verbosity() > 1) writeErr('finished a slab move\n');
    this.done();
  }

  /**
   * The server stops: a move under way is given up (its free chunks back on their list, the page with its
   * class), so that the store the thread leaves behind is whole (a restart, -e, takes it up as it is).
   */
  stop(): void {
    if (this.move === null) return;
    this.move.abandon(this.st);
    this.done();
  }

  private done(): void {
    this.move = null;
    Atomics.store(this.st.c32, G.reassignSignal, 0);
  }
}
