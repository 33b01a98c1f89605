// The maintainer's malloc_trim: on its schedule, and what the call does in a process that freed a burst's buffers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MallocTrimmer, TRIM_INTERVAL_MS } from "./malloc-trim.ts";
import { MMAP_THRESHOLD } from "../main/malloc-tunables.ts";

test("the first trim comes an interval after the start, then one every interval", () => {
  const at: number[] = [];
  let now = 5000;
  const t = new MallocTrimmer(now, () => { at.push(now); return true; });
  for (; now <= 5000 + 3.5 * TRIM_INTERVAL_MS; now += 250) t.round(now);
  assert.deepEqual(at, [5000 + TRIM_INTERVAL_MS, 5000 + 2 * TRIM_INTERVAL_MS, 5000 + 3 * TRIM_INTERVAL_MS]);
});

test("a trim that released nothing keeps the schedule; where C cannot be called it is not tried again", () => {
  let calls = 0;
  const quiet = new MallocTrimmer(0, () => { calls++; return false; });
  for (let now = 0; now <= 3 * TRIM_INTERVAL_MS; now += 1000) quiet.round(now);
  assert.equal(calls, 3);
  calls = 0;
  const none = new MallocTrimmer(0, () => { calls++; return null; });
  for (let now = 0; now <= 3 * TRIM_INTERVAL_MS; now += 1000) none.round(now);
  assert.equal(calls, 1);
});

// A process of its own, with the server's malloc tunable, so that its RSS is the burst's alone: 3000 buffers of
// 60 KB (under mmap_threshold: malloc arena chunks), three in four let go and collected. glibc keeps them; the
// trim gives their pages back.
const BURST = `
  import { trimMalloc } from ${JSON.stringify(fileURLToPath(new URL("../libc/ffi.ts", import.meta.url)))};
  import { setFlagsFromString } from "node:v8";
  import { runInNewContext } from "node:vm";
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc");
  const rssMb = () => process.memoryUsage().rss / 1048576;
  let kept = [];
  for (let i = 0; i < 3000; i++) kept.push(Buffer.allocUnsafeSlow(60000).fill(i));
  kept = kept.filter((_, i) => i % 4 === 0);
  gc(); gc();
  const before = rssMb();
  const released = trimMalloc();
  console.log(JSON.stringify({ before, after: rssMb(), released, kept: kept.length }));
`;

test("malloc_trim gives the pages of freed malloc chunks back to the kernel", () => {
  const env = { ...process.env, GLIBC_TUNABLES: MMAP_THRESHOLD.join("=") }; // the server's own, alone
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", BURST], { env, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  const { before, after, released, kept } = JSON.parse(run.stdout) as { before: number; after: number; released: boolean; kept: number };
  assert.equal(kept, 750);
  assert.equal(released, true);
  // 2250 buffers of 60 KB freed: ~129 MB of free chunks; the 750 kept are ~43 MB
  assert.ok(before - after > 100, `RSS ${before.toFixed(0)} MB -> ${after.toFixed(0)} MB`);
});
