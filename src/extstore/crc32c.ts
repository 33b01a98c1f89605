// CRC-32C (Castagnoli), the checksum memcached's extstore puts on every object it writes and checks on every
// read back (its crc32c.c): a value that comes back different from what was written is a miss, never sent.
// Table-driven, a byte at a time: it runs once per object written or read, beside a pread or pwrite of it.

const TABLE = makeTable();

function makeTable(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
}

/** crc32c(crc, bytes[start, end)): continue a running checksum (0 to start one), as memcached's crc32c(). */
export function crc32c(crc: number, bytes: Uint8Array, start: number, end: number): number {
  let c = ~crc;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
