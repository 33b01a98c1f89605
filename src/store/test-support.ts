// Helpers for the store's unit tests: a small store and keys/values as bytes.

import { Store } from "./store.ts";
import { createStore, type StoreSettings } from "./create.ts";
import { StoreOp } from "./results.ts";

export const MB = 1024 * 1024;

export function settings(over: Partial<StoreSettings> = {}): StoreSettings {
  return {
    maxBytes: 64 * MB, chunkSizeMin: 48, factor: 1.25, itemSizeMax: MB, slabPageSize: MB, slabChunkMax: MB / 2,
    preallocate: false, evictToFree: true, useCas: true, hashpowerInit: 16, numThreads: 4, lruSegmented: true,
    ...over,
  };
}

export function newStore(over: Partial<StoreSettings> = {}): Store {
  return new Store(createStore(settings(over)), 1);
}

export const b = (s: string): Buffer => Buffer.from(s, "latin1");

/** set/add/... key to value the way the protocol does: alloc, write value + CRLF, storeItem, release. */
export function put(st: Store, key: string, value: string | Buffer, op: StoreOp = StoreOp.SET, casIn = 0, flags = 0, exptimeRel = 0): number {
  const k = b(key);
  const v = typeof value === "string" ? b(value) : value;
  const it = st.itemAlloc(k, 0, k.length, flags, exptimeRel, v.length + 2);
  if (it === 0) return -st.allocError;
  st.itemWriteValue(it, 0, v, 0, v.length);
  st.itemWriteValue(it, v.length, b("\r\n"), 0, 2);
  const r = st.storeItem(it, op, casIn);
  st.itemRelease(it);
  return r;
}

/** The value (without CRLF) of key, or null. */
export function get(st: Store, key: string): string | null {
  const k = b(key);
  const it = st.itemGet(k, 0, k.length);
  if (it === 0) return null;
  const out = Buffer.alloc(st.itemNbytes(it));
  st.itemCopyValue(it, out, 0);
  st.itemRelease(it);
  return out.subarray(0, out.length - 2).toString("latin1");
}

/** The CAS of a key that must exist. */
export function casOfKey(st: Store, key: string): number {
  const k = b(key);
  const it = st.itemGet(k, 0, k.length);
  if (it === 0) throw new Error(`${key} should exist`);
  const cas = st.itemCas(it);
  st.itemRelease(it);
  return cas;
}
