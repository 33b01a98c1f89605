// Base64 for meta keys (the `b` flag), with the exact acceptance rules of memcached's base64.c
// (Jouni Malinen's decoder): bytes outside the alphabet are skipped, the rest must come in whole
// 4-character blocks, and decoding stops after the first padded block. Works in place: the decoded
// key is never longer than its text, so the request line is overwritten, as memcached does.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const SKIP = 0x80;
const PAD = 0x3d; // '='

const ENCODE = Buffer.from(ALPHABET, 'latin1');
const DECODE = (() => {
  const t = new Uint8Array(256).fill(SKIP);
  for (let i = 0; i < ALPHABET.length; i++) t[ALPHABET.charCodeAt(i)] = i;
  t[PAD] = 0;
  return t;
})();

/**
 * Decode buf[s, s + len) into buf at s; returns the decoded length, 0 on failure (no characters,
 * a count not a multiple of 4, or a block with more than two '=').
 */
export function base64DecodeInPlace(buf: Uint8Array, s: number, len: number): number {
  let count = 0;
  for (let i = 0; i < len; i++) if (DECODE[buf[s + i]] !== SKIP) count++;
  if (count === 0 || count % 4 !== 0) return 0;
  let pos = s;
  let n = 0;
  let pad = 0;
  let b0 = 0, b1 = 0, b2 = 0;
  for (let i = 0; i < len; i++) {
    const ch = buf[s + i];
    const v = DECODE[ch];
    if (v === SKIP) continue;
    if (ch === PAD) pad++;
    if (n === 0) b0 = v;
    else if (n === 1) b1 = v;
    else if (n === 2) b2 = v;
    n++;
    if (n < 4) continue;
    // pos never passes s + i: three bytes out per four characters in
    buf[pos++] = ((b0 << 2) | (b1 >> 4)) & 0xff;
    buf[pos++] = ((b1 << 4) | (b2 >> 2)) & 0xff;
    buf[pos++] = ((b2 << 6) | v) & 0xff;
    n = 0;
    if (pad !== 0) {
      if (pad > 2) return 0;
      pos -= pad;
      break;
    }
  }
  return pos - s;
}

/** Append the base64 text of src[s, s + len) to dst at `at`; returns the bytes written. */
export function base64Encode(src: Uint8Array, s: number, len: number, dst: Uint8Array, at: number): number {
  const start = at;
  const end = s + len;
  let i = s;
  for (; end - i >= 3; i += 3) {
    dst[at++] = ENCODE[src[i] >> 2];
    dst[at++] = ENCODE[((src[i] & 0x03) << 4) | (src[i + 1] >> 4)];
    dst[at++] = ENCODE[((src[i + 1] & 0x0f) << 2) | (src[i + 2] >> 6)];
    dst[at++] = ENCODE[src[i + 2] & 0x3f];
  }
  if (end - i > 0) {
    dst[at++] = ENCODE[src[i] >> 2];
    if (end - i === 1) {
      dst[at++] = ENCODE[(src[i] & 0x03) << 4];
      dst[at++] = PAD;
    } else {
      dst[at++] = ENCODE[((src[i] & 0x03) << 4) | (src[i + 1] >> 4)];
      dst[at++] = ENCODE[(src[i + 1] & 0x0f) << 2];
    }
    dst[at++] = PAD;
  }
  return at - start;
}

/** Encoded size of len bytes. */
export function base64Length(len: number): number {
  return Math.ceil(len / 3) * 4;
}
