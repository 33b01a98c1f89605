// scanKey (the text get's key scan) must find the same key end and the same hash as hash(), and leave the key's
// bytes as little-endian words, the last 1-3 in a word of their own.

import { test } from "node:test";
import assert from "node:assert/strict";
import { hash, KEY_WORDS, keyWords, putKeyWords, scanKey, scannedKey } from "./hash.ts";

test("scanKey ends a key at the first space or the end, with hash()'s hash of it and its words", () => {
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
    const at = rnd(4) * KEY_WORDS;
    assert.equal(scanKey(b, p, end, at), want);
    assert.equal(scannedKey.hv, hash(b, p, want - p));
    const bytes = Buffer.alloc(Math.ceil((want - p) / 4) * 4); // the key, then 0s to its last word's end
    bytes.set(b.subarray(p, want));
    for (let w = 0; w < bytes.length / 4; w++) assert.equal(keyWords[at + w], bytes.readInt32LE(w * 4), `word ${w}`);
  }
});

test("putKeyWords writes back exactly the key scanKey read, at any offset, and nothing around it", () => {
  for (let n = 1; n <= 250; n++) {
    const key = Buffer.alloc(n);
    for (let i = 0; i < n; i++) key[i] = 0x21 + ((i * 37 + n) % 94);
    const line = Buffer.concat([key, Buffer.from(" next")]);
    const at = (n % 3) * KEY_WORDS;
    assert.equal(scanKey(line, 0, line.length, at), n);
    for (const p of [0, 1, 2, 3, 7]) {
      const out = Buffer.alloc(p + n + 8, 0xee);
      putKeyWords(new DataView(out.buffer, out.byteOffset, out.length), p, at, n);
      assert.deepEqual(out.subarray(p, p + n), key, `key of ${n} at ${p}`);
      assert.ok(out.subarray(0, p).every((x) => x === 0xee) && out.subarray(p + n).every((x) => x === 0xee),
        `bytes around a key of ${n} at ${p}`);
    }
  }
});
