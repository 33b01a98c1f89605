// memcached's uriencode (util.c): how keys appear in `lru_crawler metadump` and in `watch` lines. Unreserved
// bytes (alphanumerics and - . _ ~) as they are, every other byte as %XX in upper-case hex.

import type { OutBuffer } from '../worker/out-buffer.ts';

const URI_ESCAPE: Array<Buffer | null> = Array.from({ length: 256 }, (_, b) =>
  /[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? null : Buffer.from(`%${b.toString(16).toUpperCase().padStart(2, '0')}`));

/** Append src[off, off + len) uri-encoded. */
export function uriEncodeInto(out: OutBuffer, src: Uint8Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const b = src[off + i], esc = URI_ESCAPE[b];
    if (esc === null) out.byte(b); else out.bytes(esc);
  }
}
