// The lines a watcher receives: memcached 1.6.18's logger.c parse callbacks (_logger_parse_ige, _ise, _ee, _cne,
// _cce), byte for byte. Keys are uri-encoded; the microseconds are printed as %d (not zero-padded), as memcached.

import type { OutBuffer } from '../worker/out-buffer.ts';
import { uriEncodeInto } from '../protocol/uriencode.ts';
import { LogEvent, Slot, SLOT_DATA } from './logger.ts';

const L = (s: string): Buffer => Buffer.from(s, 'latin1');
const T = {
  ts: L('ts='), gid: L(' gid='), itemGet: L(' type=item_get key='), itemStore: L(' type=item_store key='),
  eviction: L(' type=eviction key='), connNew: L(' type=conn_new rip='), connClose: L(' type=conn_close rip='),
  status: L(' status='), cmd: L(' cmd='), ttl: L(' ttl='), clsid: L(' clsid='), cfd: L(' cfd='), size: L(' size='),
  fetchYes: L(' fetch=yes'), fetchNo: L(' fetch=no'), la: L(' la='), rport: L(' rport='), transport: L(' transport='),
  reason: L(' reason='), skipped: L('skipped='), slabMove: L(' type=slab_move src='), dst: L(' dst='),
  extWrite: L(' type=extwrite key='), bucket: L(' bucket='),
} as const;
const names = (list: string[]): Buffer[] => list.map(L);
const FOUND = names(['not_found', 'found', 'flushed', 'expired']);
const STORE_STATUS = names(['not_stored', 'stored', 'exists', 'not_found', 'too_large', 'no_memory']);
const STORE_CMD = names(['null', 'add', 'set', 'replace', 'append', 'prepend', 'cas']);
const NA = L('na');
const TRANSPORT = names(['local', 'tcp', 'udp']);
const REASON = names(['error', 'normal', 'idle_timeout', 'shutdown']);

function pick(list: Buffer[], i: number): Buffer { return list[i] ?? list[0]; }

/** One entry (slot at word w of the log buffer) as its line, "\n" included: memcached's logger_log formats. */
export function formatEntry(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  const event = i32[w + Slot.event] & 0xff;
  uintField(out, T.ts, i32[w + Slot.sec] >>> 0);
  out.byte(0x2e);
  out.uint(i32[w + Slot.usec] >>> 0);
  uintField(out, T.gid, (i32[w + Slot.gidHi] >>> 0) * 4294967296 + (i32[w + Slot.gidLo] >>> 0));
  switch (event) {
    case LogEvent.SLAB_MOVE: formatSlabMove(out, i32, w); break;
    case LogEvent.ITEM_GET: formatItemGet(out, i32, u8, w); break;
    case LogEvent.ITEM_STORE: formatItemStore(out, i32, u8, w); break;
    case LogEvent.EVICTION: formatEviction(out, i32, u8, w); break;
    case LogEvent.EXT_WRITE: formatExtWrite(out, i32, u8, w); break;
    case LogEvent.TEXT: formatText(out, i32, u8, w); break;
    default: formatConnEvent(out, i32, u8, w, event); break;
  }
  out.byte(0x0a);
}

/** A label (" clsid=") and its number, as %d or %u print it. */
function intField(out: OutBuffer, label: Buffer, n: number): void { out.bytes(label); out.int(n); }
function uintField(out: OutBuffer, label: Buffer, n: number): void { out.bytes(label); out.uint(n); }
function textField(out: OutBuffer, label: Buffer, text: Buffer): void { out.bytes(label); out.bytes(text); }

/** The key's bytes and their length, from the slot's head word. */
function keyAt(w: number, i32: Int32Array): [data: number, len: number] {
  return [w * 4 + SLOT_DATA, (i32[w + Slot.event] >>> 8) & 0x1ff];
}

/** " type=<event> key=" and the slot's key, uri-encoded as memcached's logger encodes keys. */
function typeAndKey(out: OutBuffer, typeKey: Buffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  const [data, len] = keyAt(w, i32);
  out.bytes(typeKey);
  uriEncodeInto(out, u8, data, len);
}

/** "type=slab_move src=%d dst=%d" */
function formatSlabMove(out: OutBuffer, i32: Int32Array, w: number): void {
  intField(out, T.slabMove, i32[w + Slot.a]);
  intField(out, T.dst, i32[w + Slot.b]);
}

/** "type=item_get key=%s status=%s clsid=%u cfd=%d size=%d" */
function formatItemGet(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  typeAndKey(out, T.itemGet, i32, u8, w);
  textField(out, T.status, pick(FOUND, i32[w + Slot.a]));
  formatItemTail(out, i32, w);
}

/** "type=item_store key=%s status=%s cmd=%s ttl=%u clsid=%u cfd=%d size=%d" */
function formatItemStore(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  typeAndKey(out, T.itemStore, i32, u8, w);
  textField(out, T.status, pick(STORE_STATUS, i32[w + Slot.a]));
  const cmd = i32[w + Slot.b];
  textField(out, T.cmd, cmd >= 0 && cmd <= 6 ? STORE_CMD[cmd] : NA);
  uintField(out, T.ttl, i32[w + Slot.ttl] >>> 0);
  formatItemTail(out, i32, w);
}

function formatItemTail(out: OutBuffer, i32: Int32Array, w: number): void {
  uintField(out, T.clsid, i32[w + Slot.clsid] & 0xff);
  intField(out, T.cfd, i32[w + Slot.cfd]);
  intField(out, T.size, i32[w + Slot.size]);
}

/** "type=eviction key=%s fetch=%s ttl=%lld la=%d clsid=%u size=%d" (ttl -1: no expiry) */
function formatEviction(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  formatItemLeaving(out, T.eviction, i32, u8, w);
  intField(out, T.size, i32[w + Slot.size]);
}

/** The fields an eviction and an extwrite share, from the key to the clsid. */
function formatItemLeaving(out: OutBuffer, typeKey: Buffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  typeAndKey(out, typeKey, i32, u8, w);
  out.bytes(i32[w + Slot.a] !== 0 ? T.fetchYes : T.fetchNo);
  if (i32[w + Slot.b] !== 0) intField(out, T.ttl, -1);
  else uintField(out, T.ttl, i32[w + Slot.ttl] >>> 0);
  intField(out, T.la, i32[w + Slot.la]);
  uintField(out, T.clsid, i32[w + Slot.clsid] & 0xff);
}

/** "type=extwrite key=%s fetch=%s ttl=%lld la=%d clsid=%u bucket=%u" (ttl -1: no expiry) */
function formatExtWrite(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  formatItemLeaving(out, T.extWrite, i32, u8, w);
  uintField(out, T.bucket, i32[w + Slot.size] & 0xff);
}

/** _logger_parse_text: " %s", the line as it was formatted when logged. */
function formatText(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number): void {
  const [data, len] = keyAt(w, i32);
  out.byte(0x20);
  out.copyFrom(u8, data, len);
}

/** "type=conn_new rip=%s rport=%hu transport=%s cfd=%d", conn_close with " reason=%s" before cfd */
function formatConnEvent(out: OutBuffer, i32: Int32Array, u8: Uint8Array, w: number, event: number): void {
  const [data, len] = keyAt(w, i32);
  out.bytes(event === LogEvent.CONN_NEW ? T.connNew : T.connClose);
  out.copyFrom(u8, data, len);
  uintField(out, T.rport, i32[w + Slot.ttl] & 0xffff);
  textField(out, T.transport, pick(TRANSPORT, i32[w + Slot.a]));
  if (event === LogEvent.CONN_CLOSE) {
    textField(out, T.reason, pick(REASON, i32[w + Slot.b]));
  }
  intField(out, T.cfd, i32[w + Slot.cfd]);
}

/** memcached's line before the next one a watcher that lost lines receives: "skipped=N\n". */
export function formatSkipped(out: OutBuffer, n: number): void {
  uintField(out, T.skipped, n);
  out.byte(0x0a);
}
