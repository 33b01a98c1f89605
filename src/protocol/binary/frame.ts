// Building requests and reading responses of the binary protocol: for tests, tools and the bench,
// never the server's hot path. Any header field can be overridden, so malformed frames are as easy
// to write as good ones.

import { HEADER_LEN, MAGIC_REQ, MAGIC_RES } from './header.ts';

export type BinRequest = {
  opcode: number;
  key?: string | Buffer;
  extras?: Buffer;
  value?: string | Buffer;
  opaque?: number;
  cas?: bigint;
  /** Overrides of what the parts imply, for malformed frames. */
  magic?: number;
  keylen?: number;
  extlen?: number;
  bodylen?: number;
};

export type BinResponse = {
  magic: number; opcode: number; status: number; opaque: number; cas: bigint;
  extras: Buffer; key: Buffer; value: Buffer;
};

const bin = (b: string | Buffer | undefined): Buffer => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b ?? Buffer.alloc(0));

export function binRequest(r: BinRequest): Buffer {
  const key = bin(r.key);
  const extras = r.extras ?? Buffer.alloc(0);
  const value = bin(r.value);
  const h = Buffer.alloc(HEADER_LEN);
  h[0] = r.magic ?? MAGIC_REQ;
  h[1] = r.opcode;
  h.writeUInt16BE(r.keylen ?? key.length, 2);
  h[4] = r.extlen ?? extras.length;
  h.writeUInt32BE(r.bodylen ?? extras.length + key.length + value.length, 8);
  h.writeUInt32BE(r.opaque ?? 0, 12);
  h.writeBigUInt64BE(r.cas ?? 0n, 16);
  return Buffer.concat([h, extras, key, value]);
}

/** Set/Add/Replace extras: flags, expiration. */
export function setExtras(flags: number, exptime: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(flags >>> 0, 0);
  b.writeUInt32BE(exptime >>> 0, 4);
  return b;
}

/** Increment/Decrement extras: delta, initial value, expiration (0xffffffff: no auto-create). */
export function incrExtras(delta: bigint, initial: bigint, exptime: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeBigUInt64BE(delta, 0);
  b.writeBigUInt64BE(initial, 8);
  b.writeUInt32BE(exptime >>> 0, 16);
  return b;
}

/** A 4-byte expiration (Touch, GAT, Flush). */
export function u32Extras(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** The complete response packets at the start of `buf`, and how many bytes they took. */
export function parseBinResponses(buf: Buffer): { packets: BinResponse[]; used: number } {
  const packets: BinResponse[] = [];
  let at = 0;
  while (at + HEADER_LEN <= buf.length && buf[at] === MAGIC_RES) {
    const keylen = buf.readUInt16BE(at + 2);
    const extlen = buf[at + 4];
    const bodylen = buf.readUInt32BE(at + 8);
    if (at + HEADER_LEN + bodylen > buf.length) break;
    const body = at + HEADER_LEN;
    packets.push({
      magic: buf[at], opcode: buf[at + 1], status: buf.readUInt16BE(at + 6), opaque: buf.readUInt32BE(at + 12),
      cas: buf.readBigUInt64BE(at + 16),
      extras: buf.subarray(body, body + extlen),
      key: buf.subarray(body + extlen, body + extlen + keylen),
      value: buf.subarray(body + extlen + keylen, body + bodylen),
    });
    at = body + bodylen;
  }
  return { packets, used: at };
}
