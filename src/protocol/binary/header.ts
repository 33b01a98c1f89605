// memcached's binary protocol (protocol_binary.h): the 24-byte header, its opcodes and statuses, the
// per-connection header state, and the response writers (memcached's add_bin_header, write_bin_error,
// write_bin_response). Everything is written straight into the worker's out buffer.
//
//   request / response header, network byte order:
//   0 magic | 1 opcode | 2-3 key length | 4 extras length | 5 data type | 6-7 vbucket (req) / status (res)
//   8-11 total body length | 12-15 opaque | 16-23 cas          then extras, key, value

import type { Conn } from '../../worker/conn.ts';
import * as connModule from '../../worker/conn.ts';
import { connSetState } from '../../worker/drive-machine.ts';

// Imported constants as this module's own, which V8 folds into its code (docs/architecture.md, "Imported constants").
const { ConnState } = connModule;

export const HEADER_LEN = 24;
export const MAGIC_REQ = 0x80;
export const MAGIC_RES = 0x81;

/** A byte as -vv's header dumps print it (%02x). */
export function hex2(n: number): string { return n.toString(16).padStart(2, '0'); }

export const Op = {
  GET: 0x00, SET: 0x01, ADD: 0x02, REPLACE: 0x03, DELETE: 0x04, INCREMENT: 0x05, DECREMENT: 0x06,
  QUIT: 0x07, FLUSH: 0x08, GETQ: 0x09, NOOP: 0x0a, VERSION: 0x0b, GETK: 0x0c, GETKQ: 0x0d,
  APPEND: 0x0e, PREPEND: 0x0f, STAT: 0x10, SETQ: 0x11, ADDQ: 0x12, REPLACEQ: 0x13, DELETEQ: 0x14,
  INCREMENTQ: 0x15, DECREMENTQ: 0x16, QUITQ: 0x17, FLUSHQ: 0x18, APPENDQ: 0x19, PREPENDQ: 0x1a,
  TOUCH: 0x1c, GAT: 0x1d, GATQ: 0x1e, GATK: 0x23, GATKQ: 0x24,
  SASL_LIST_MECHS: 0x20, SASL_AUTH: 0x21, SASL_STEP: 0x22,
} as const;

export const Status = {
  SUCCESS: 0x00, KEY_ENOENT: 0x01, KEY_EEXISTS: 0x02, E2BIG: 0x03, EINVAL: 0x04, NOT_STORED: 0x05,
  DELTA_BADVAL: 0x06, AUTH_ERROR: 0x20, AUTH_CONTINUE: 0x21, UNKNOWN_COMMAND: 0x81, ENOMEM: 0x82,
} as const;

const L = (s: string): Buffer => Buffer.from(s, 'latin1');
/** write_bin_error's texts when it is given none, byte for byte. */
const ERROR_TEXT: Record<number, Buffer> = {
  [Status.ENOMEM]: L('Out of memory'),
  [Status.UNKNOWN_COMMAND]: L('Unknown command'),
  [Status.KEY_ENOENT]: L('Not found'),
  [Status.EINVAL]: L('Invalid arguments'),
  [Status.KEY_EEXISTS]: L('Data exists for key.'),
  [Status.E2BIG]: L('Too large.'),
  [Status.DELTA_BADVAL]: L('Non-numeric server-side value for incr or decr'),
  [Status.NOT_STORED]: L('Not stored.'),
  [Status.AUTH_ERROR]: L('Auth failure.'),
};

/** What a value read into c.item completes (memcached's c->substate): a store, or SASL data. */
export const BinSubstate = { readSetValue: 0, readingSaslAuthData: 1 } as const;
export type BinSubstate = (typeof BinSubstate)[keyof typeof BinSubstate];

/**
 * The request being served (memcached's c->binary_header plus c->cmd / c->noreply / c->cas): one
 * object per connection, kept in Conn.protoState and overwritten by every request.
 */
export class BinState {
  /** The opcode as sent; every response echoes it. */
  opcode = 0;
  /** The opcode with its quiet variant folded onto the loud one (memcached's c->cmd). */
  cmd = 0;
  keylen = 0;
  extlen = 0;
  bodylen = 0;
  opaque = 0;
  /** The request's CAS (exact below 2^53, as the store's CAS values are). */
  cas = -0; // -0: a double from the start (docs/architecture.md, "Field shapes")
  /** A quiet command: success replies are dropped (errors and get hits still go out). */
  noreply = false;
  /** Set before conn_nread: which completion the value read goes to. */
  substate: BinSubstate = BinSubstate.readSetValue;
  /** Where the extras begin in c.rbuf; the key follows them. */
  extStart = 0;
  keyStart = 0;
}

export function binState(c: Conn): BinState {
  let st = c.protoState;
  if (!(st instanceof BinState)) { st = new BinState(); c.protoState = st; }
  return st as BinState;
}

/** add_bin_header: the response header for the current request. */
export function addBinHeader(c: Conn, st: BinState, status: number, extlen: number, keylen: number,
  bodylen: number, cas: number): void {
  putBinHeader(c, st, status, extlen, keylen, bodylen, cas);
  if (c.ctx.verbosity() > 1) logResponseHeader(c, c.ctx.out.buf, c.ctx.out.pos - HEADER_LEN);
}

/** memcached's add_bin_header at -vv: the response header's 24 bytes, four to a line (its CAS as `cas`, if given). */
export function logResponseHeader(c: Conn, b: Buffer, p: number, cas?: number): void {
  const header = Buffer.from(b.subarray(p, p + HEADER_LEN));
  if (cas !== undefined) writeCas(header, 16, cas);
  let s = `>${c.id} Writing bin response:`;
  for (let i = 0; i < HEADER_LEN; i++) s += (i % 4 === 0 ? `\n>${c.id}  ` : '') + ` 0x${hex2(header[i])}`;
  c.ctx.log(s);
}

/** A response header and nothing else: `stats` lines, which memcached writes without add_bin_header (or its log). */
export function putBinHeader(c: Conn, st: BinState, status: number, extlen: number, keylen: number,
  bodylen: number, cas: number): void {
  const out = c.ctx.out;
  out.reserve(HEADER_LEN);
  const b = out.buf;
  const p = out.pos;
  b[p] = MAGIC_RES;
  b[p + 1] = st.opcode;
  b.writeUInt16BE(keylen, p + 2);
  b[p + 4] = extlen;
  b[p + 5] = 0; // PROTOCOL_BINARY_RAW_BYTES
  b.writeUInt16BE(status, p + 6);
  b.writeUInt32BE(bodylen >>> 0, p + 8);
  b.writeUInt32BE(st.opaque, p + 12);
  writeCas(b, p + 16, cas);
  out.pos = p + HEADER_LEN;
}

/** A CAS below 2^53 as a big-endian u64, without a BigInt. */
export function writeCas(b: Buffer, at: number, cas: number): void {
  b.writeUInt32BE(Math.floor(cas / 0x100000000) >>> 0, at);
  b.writeUInt32BE(cas >>> 0, at + 4);
}

/** An 8-byte big-endian field as a number (exact below 2^53; CAS values never get near). */
export function readU64Number(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 0x100000000 + b.readUInt32BE(at + 4);
}

/**
 * write_bin_error: the status with memcached's text (or `text`), sent even for quiet commands; then
 * `swallow` bytes of the request body are skipped (memcached's conn_swallow). memcached takes that
 * count as a C int, so a body length of 2^31 or more swallows nothing: the same here.
 */
export function writeBinError(c: Conn, st: BinState, status: number, swallow: number, text?: Buffer): void {
  const body = text ?? ERROR_TEXT[status];
  if (c.ctx.verbosity() > 1) c.ctx.log(`>${c.id} Writing an error: ${body.toString('latin1')}`);
  addBinHeader(c, st, status, 0, 0, body.length, 0);
  c.ctx.out.bytes(body);
  const asInt = swallow | 0;
  if (asInt > 0) {
    c.sbytes = asInt;
    connSetState(c, ConnState.swallow);
  } else {
    c.flushPoint(); // memcached sends an error at once (conn_mwrite)
  }
}

/**
 * write_bin_response: a success reply with an optional body, dropped for quiet commands. (memcached exempts
 * GET and GETK here; no get comes here: hits go through writeBinHit, misses through writeBinMiss.)
 */
export function writeBinResponse(c: Conn, st: BinState, body: Uint8Array | null, cas: number): void {
  if (st.noreply) return;
  addBinHeader(c, st, Status.SUCCESS, 0, 0, body === null ? 0 : body.length, cas);
  if (body !== null && body.length > 0) c.ctx.out.bytes(body);
}
