// The -Y auth file of memcached's ascii authentication (authfile.c): "user:password" lines; the
// password runs to the end of the line (':' included, a "\r" ends it). A line without ':' makes the
// whole file malformed, and memcached refuses to start. What else memcached keeps or drops follows
// from how it reads the file (readEntries).

import { readFileSync } from 'node:fs';
import { Credentials } from './credentials.ts';

export const AuthfileResult = { OK: 0, OPENFAIL: 1, MALFORMED: 2 } as const;
/** The file's user:password entries as read, in a form that passes between threads. */
export type AuthEntries = Array<[Uint8Array, Uint8Array]>;
export type AuthfileLoad = { result: number; entries: AuthEntries | null; error: string };

function strerror(code: string | undefined): string {
  switch (code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': return 'Permission denied';
    default: return code ?? 'Unknown error';
  }
}

/**
 * authfile_load: the file's entries, or why it cannot be used, in memcached's words: at start-up
 * memcached writes `error` to stderr as it is (the malformed message has no newline) and exits 1; on a
 * reload (SIGHUP) it keeps the entries it had.
 */
export function authfileLoad(path: string): AuthfileLoad {
  let text: Buffer;
  try { text = readFileSync(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // fopen opens a directory for reading, and its first fgets fails: memcached goes on with no users
    if (code === 'EISDIR') return { result: AuthfileResult.OK, entries: [], error: '' };
    const why = strerror(code);
    return { result: AuthfileResult.OPENFAIL, entries: null, // memcached's vperror appends ": strerror"
      error: `Could not open authfile [${path}] for reading, error ${why}: ${why}\n` };
  }
  const entries = readEntries(text);
  if (entries === null) {
    return { result: AuthfileResult.MALFORMED, entries: null,
      error: `Authfile [${path}] has a malformed entry. Should be 'user:password'` };
  }
  return { result: AuthfileResult.OK, entries, error: '' };
}

const MAX_ENTRY_LEN = 256;
const MAX_ENTRIES = 8;

/**
 * authfile_load's reading, step by step, since what it keeps follows from how it reads: fgets of at most
 * MAX_ENTRY_LEN - 1 bytes, and of fewer near the end of a buffer the size of the file, into which each entry
 * advances by its length without its newline. So a line over 255 bytes is cut there and ends the file, as a NUL
 * does; a file of one line without a newline loses its last byte (each newline read leaves a byte of room for
 * the lines after it); only the first MAX_ENTRIES entries count; and a line without ':' before any NUL (an empty
 * line too) makes the whole file malformed (null). A read writes past the entries before it, never over them.
 */
function readEntries(file: Buffer): Array<[Buffer, Buffer]> | null {
  const buf = Buffer.alloc(file.length + 1), end = file.length, entries: Array<[Buffer, Buffer]> = [];
  let cur = 0, filePos = 0;
  for (;;) {
    const n = Math.min(end - cur, MAX_ENTRY_LEN);
    if (n <= 0 || (n > 1 && filePos >= file.length)) break; // fgets: NULL
    let k = 0;
    while (k < n - 1 && filePos < file.length) if ((buf[cur + k++] = file[filePos++]) === 0x0a) break;
    buf[cur + k] = 0;
    const entry = parseEntry(buf, cur);
    if (entry === null) return null;
    entries.push([buf.subarray(cur, cur + entry.ulen), buf.subarray(cur + entry.ulen + 1, cur + entry.x)]);
    if (entries.length === MAX_ENTRIES || buf[cur + entry.x] === 0) break; // "EOF"
    cur += entry.x;
  }
  return entries;
}

/** One entry at buf[cur]: its user's length and where its password ends (x), or null when no ':' comes first. */
function parseEntry(buf: Buffer, cur: number): { ulen: number; x: number } | null {
  let ulen = -1, x = 0;
  for (; x < MAX_ENTRY_LEN; x++) {
    const ch = buf[cur + x] ?? 0;
    if (ulen < 0) {
      if (ch === 0) return null;
      if (ch === 0x3a) ulen = x;
    } else if (ch === 0x0a || ch === 0x0d || ch === 0) {
      break;
    }
  }
  return ulen < 0 ? null : { ulen, x };
}

/**
 * This thread's copy of the -Y file's entries: the main thread reads the file at start and again after a
 * SIGHUP (memcached's authfile_load from clock_handler), and hands every worker what it read.
 */
let table = new Credentials();

export function authfileInstall(entries: AuthEntries): void {
  const creds = new Credentials();
  for (const [user, pass] of entries) creds.add(user, pass);
  table = creds;
}

/** authfile_check: any line with this user and password. */
export function authfileCheck(user: Uint8Array, pass: Uint8Array): boolean {
  return table.check(user, pass, false);
}
