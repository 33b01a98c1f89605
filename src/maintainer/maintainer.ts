// startMaintainer: runs the LRU maintainer, crawler and hash expansion helper in their own worker thread
// (memcached's lru_maintainer_thread, lru_crawler and assoc_maintenance_thread, in one).

import { Worker } from "node:worker_threads";
import type { StoreShared } from "../store/create.ts";
import { ctlLayout, G } from "../store/layout.ts";
import { ctlBuffer } from "../store/locks.ts";
import { forwardStdio, writeErr } from "../libc/stdio.ts";

/** stop() answers the thread's exit code once it has ended (0: it left its loop, nothing threw). */
export type Maintainer = { stop(): Promise<number> };

/** What the maintainer thread is started with: the store, and the server's words (its live verbosity). */
export type MaintainerInit = { shared: StoreShared; ctl: SharedArrayBuffer };

export function startMaintainer(shared: StoreShared, ctl: SharedArrayBuffer): Maintainer {
  const workerData: MaintainerInit = { shared, ctl };
  const worker = forwardStdio(new Worker(new URL("./maintainer-thread.ts", import.meta.url), { workerData, stdout: true, stderr: true }));
  const c32 = new Int32Array(ctlBuffer(shared.ctl), 0, ctlLayout(shared.maxPages, shared.lockPower).f64Offset / 4);
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
  worker.on("error", (err) => writeErr(`maintainer thread failed: ${String(err)}\n`));
  worker.unref(); // never keeps the process alive on its own
  return {
    stop(): Promise<number> {
      Atomics.store(c32, G.maintainerStop, 1);
      Atomics.notify(c32, G.maintainerStop);
      worker.ref(); // awaited now: else the process may end before the exit arrives, and whatever follows never runs
      return exited;
    },
  };
}
