// The hash table: lookups stay right before, during and after an in-place expansion.

import { test } from "node:test";
import assert from "node:assert/strict";
import { get, newStore, put } from "./test-support.ts";
import { assocExpandStep, assocFind, keyEquals } from "./assoc.ts";
import { hash, KEY_WORDS, scanKey, scannedKey } from "./hash.ts";

function report(st: ReturnType<typeof newStore>): Map<string, string | number> {
  const m = new Map<string, string | number>();
  st.reportGeneral((k, v) => m.set(k, v));
  return m;
}

test("murmur3_32 matches its reference vectors (low 30 bits)", () => {
  const m = 0x3fffffff;
  assert.equal(hash(Buffer.from(""), 0, 0), 0);
  assert.equal(hash(Buffer.from("a"), 0, 1), 0x3c2569b2 & m);
  assert.equal(hash(Buffer.from("abcd"), 0, 4), 0x43ed676a & m);
  assert.equal(hash(Buffer.from("Hello, world!"), 0, 13), 0xc0363e43 & m);
  assert.equal(hash(Buffer.from("xxabcdxx"), 2, 4), 0x43ed676a & m);
  assert.equal(hash(Buffer.from("abc"), 0, 3), 0xb3dd93fa & m);
});

test("the table doubles past 1.5 items per bucket, bucket by bucket, and every key stays reachable", () => {
  const st = newStore({ hashpowerInit: 10 });
  assert.equal(report(st).get("hash_power_level"), 10);
  assert.equal(report(st).get("hash_bytes"), 4096);
  let sawExpanding = false;
  for (let i = 0; i < 6000; i++) {
    put(st, `key:${i}`, `v${i}`);
    if (st.hashIsExpanding()) {
      sawExpanding = true;
      // mid-expansion: every key stored so far is found, split buckets or not
      if (i % 97 === 0) for (let j = 0; j <= i; j += 13) assert.equal(get(st, `key:${j}`), `v${j}`);
    }
  }
  while (assocExpandStep(st)) { /* finish the last split */ }
  assert.ok(sawExpanding);
  const r = report(st);
  assert.equal(r.get("hash_power_level"), 12); // 3072 < 6000 <= 1.5 * 2^12
  assert.equal(r.get("hash_is_expanding"), 0);
  for (let i = 0; i < 6000; i++) assert.equal(get(st, `key:${i}`), `v${i}`);
  // chains hold exactly the items
  let n = 0;
  for (let bkt = 0; bkt < st.hashSize(); bkt++) for (let it = st.h32[bkt]; it !== 0; it = st.a32[it * 2 + 2]) n++;
  assert.equal(n, 6000);
});

/** A key of len printable bytes, none a space, that differs from one length to the next. */
function testKey(len: number): Buffer {
  return Buffer.from(Array.from({ length: len }, (_, i) => String.fromCharCode(0x21 + ((i * 7 + len) % 90))).join(""), "latin1");
}

test("keyEquals: same length and every byte, whatever the length and wherever the difference", () => {
  // it compares four bytes a step, then the last 0-3: a key differing in any one byte is another key
  const st = newStore();
  for (let len = 1; len <= 250; len += len < 12 ? 1 : 17) {
    const key = testKey(len);
    put(st, key.toString("latin1"), "v");
    const it = st.itemGet(key, 0, len);
    assert.notEqual(it, 0);
    const request = Buffer.concat([Buffer.from("get "), key, Buffer.from("\r\n")]); // the key at an odd offset
    assert.ok(keyEquals(st, it, request, 4, len), `${len}-byte key`);
    for (let at = 0; at < len; at++) {
      request[4 + at] ^= 0x01;
      assert.ok(!keyEquals(st, it, request, 4, len), `${len}-byte key with byte ${at} changed`);
      request[4 + at] ^= 0x01;
    }
    assert.ok(!keyEquals(st, it, request, 4, len - 1), `${len}-byte key against one a byte shorter`);
    assert.ok(!keyEquals(st, it, request, 4, len + 1), `${len}-byte key against one a byte longer`);
    st.itemRelease(it);
  }
});

test("a lookup by scanKey's words: the same key, and no other, whatever the length and wherever the difference", () => {
  // the get path compares the words scanKey made a word at a time, the item's last word masked to the key's last
  // bytes (its value follows them); the bucket is forced to the stored key's, as another key's would be on a collision
  const st = newStore();
  const at = 3 * KEY_WORDS;
  for (let len = 1; len <= 250; len += len < 12 ? 1 : 17) {
    const key = testKey(len);
    put(st, key.toString("latin1"), "\xff\xff\xff"); // value bytes that an unmasked last word would take in
    const it = st.itemGet(key, 0, len);
    const hv = hash(key, 0, len);
    const request = Buffer.concat([Buffer.from("get "), key, Buffer.from("\r\n")]);
    const lookUp = (n: number): number => {
      assert.equal(scanKey(request, 4, 4 + n, at), 4 + n);
      return assocFind(st, request, 4, n, hv, at);
    };
    assert.equal(lookUp(len), it, `${len}-byte key`);
    assert.equal(scannedKey.hv, hv);
    for (let i = 0; i < len; i++) {
      const was = request[4 + i];
      request[4 + i] = was === 0x41 ? 0x42 : 0x41; // another byte that is not a space (which would end the key)
      assert.equal(lookUp(len), 0, `${len}-byte key with byte ${i} changed`);
      request[4 + i] = was;
    }
    assert.equal(lookUp(len - 1), 0, `${len}-byte key against one a byte shorter`);
    st.itemRelease(it);
  }
});
