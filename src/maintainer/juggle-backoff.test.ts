// memcached's per-class maintainer sleep (items.c lru_maintainer_thread: next_juggles, backoff_juggles).

import { test } from "node:test";
import assert from "node:assert/strict";
import { JuggleBackoff, MAX_SLEEP_US, MIN_SLEEP_US } from "./juggle-backoff.ts";

test("an idle class waits 1 ms, then an eighth more each time, up to 1 s", () => {
  const b = new JuggleBackoff(4);
  const waits: number[] = [];
  let slept = 0;
  for (let round = 0; round < 80; round++) {
    b.startRound(slept);
    if (b.due(1)) b.juggled(1, 0);
    slept = b.sleepUs();
    waits.push(slept);
  }
  assert.deepEqual(waits.slice(0, 4), [1000, 1125, 1265, 1423]);
  assert.equal(waits.at(-1), MAX_SLEEP_US);
});

test("a class that moved something is looked at twice as soon, and at once below 1 ms", () => {
  const b = new JuggleBackoff(4);
  let slept = 0;
  for (let round = 0; round < 10; round++) { b.startRound(slept); b.due(1); b.juggled(1, 0); slept = b.sleepUs(); }
  const idle = slept;
  b.startRound(slept);
  assert.equal(b.due(1), true);
  b.juggled(1, 3);
  assert.equal(b.sleepUs(), Math.floor(idle / 2));
  b.startRound(b.sleepUs());
  b.due(1);
  b.juggled(1, 1);
  assert.equal(b.sleepUs(), 0, "under 1 ms: juggled again without sleeping");
});

test("the thread sleeps until the first class is due: a busy class is juggled again at once, idle ones wait", () => {
  const b = new JuggleBackoff(4);
  let slept = 0;
  for (let i = 0; i < 6; i++) { b.startRound(slept); if (b.due(1)) b.juggled(1, 0); slept = b.sleepUs(); }
  b.startRound(slept);
  assert.equal(b.due(1), true);
  b.juggled(1, 0);
  const wait1 = b.sleepUs();
  assert.ok(wait1 > MIN_SLEEP_US, "class 1 has been idle a while");
  b.due(2);
  b.juggled(2, 1); // class 2 starts moving items
  assert.equal(b.sleepUs(), 0, "no sleep while a class has work");
  b.startRound(0); // counts as 1 ms of class 1's wait
  assert.equal(b.due(1), false);
  assert.equal(b.due(2), true);
  b.juggled(2, 0); // class 2 drained: back to 1 ms
  assert.equal(b.sleepUs(), Math.min(MIN_SLEEP_US, wait1 - MIN_SLEEP_US));
});
