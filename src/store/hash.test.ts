// scanKey (the text get's key scan) must find the same key end and the same hash as hash().

import { test } from "node:test";
import assert from "node:assert/strict";
import { hash, scanKey, scannedKey } from "./hash.ts";

test("scanKey ends a key at the first space or the end, with hash()'s hash of it", () => {
  let seed = 7;
  const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  for (let t = 0; t < 20000; t++) {
    const n = rnd(40);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = rnd(10) === 0 ? 0x20 : rnd(256);
    const p = rnd(n + 1);
    const end = p + rnd(n - p + 1);
    let want = p;
    while (want < end && b[want] !== 0x20) want++;
    assert.equal(scanKey(b, p, end), want);
    assert.equal(scannedKey.hv, hash(b, p, want - p));
  }
});
