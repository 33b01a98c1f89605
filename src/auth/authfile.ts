// The -Y auth file of memcached's ascii authentication (authfile.c): "user:password" lines; the
// password runs to the end of the line (':' included, a "\r" ends it). A line without ':' makes the
// whole file malformed, and memcached refuses to start.

import { readFileSync } from 'node:fs';
import { Credentials } from './credentials.ts';

export const AuthfileResult = { OK: 0, OPENFAIL: 1, MALFORMED: 2 } as const;
export type AuthfileLoad = { result: number; creds: Credentials | null; error: string };

function strerror(code: string | undefined): string {
  switch (code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': return 'Permission denied';
    case 'EISDIR': return 'Is a directory';
    default: return code ?? 'Unknown error';
  }
}

/**
 * authfile_load: the file's entries, or why it cannot be used, in memcached's words: at start-up
 * memcached writes `error` to stderr as it is (the malformed message has no newline) and exits 1.
 */
export function authfileLoad(path: string): AuthfileLoad {
  let text: Buffer;
  try { text = readFileSync(path); } catch (e) {
    const why = strerror((e as NodeJS.ErrnoException).code);
    return { result: AuthfileResult.OPENFAIL, creds: null, // memcached's vperror appends ": strerror"
      error: `Could not open authfile [${path}] for reading, error ${why}: ${why}\n` };
  }
  const creds = new Credentials();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    if (end < 0) end = text.length;
    const line = text.subarray(start, end);
    const colon = line.indexOf(0x3a);
    if (colon < 0) {
      return { result: AuthfileResult.MALFORMED, creds: null,
        error: `Authfile [${path}] has a malformed entry. Should be 'user:password'` };
    }
    let passEnd = colon + 1;
    while (passEnd < line.length && line[passEnd] !== 0x0d) passEnd++;
    creds.add(line.subarray(0, colon), line.subarray(colon + 1, passEnd));
    start = end + 1;
  }
  return { result: AuthfileResult.OK, creds, error: '' };
}

/** This thread's copy of the -Y file, loaded on first use. */
let loaded: { path: string; creds: Credentials | null } | null = null;

/** authfile_check: any line with this user and password. An unusable file lets nobody in. */
export function authfileCheck(path: string, user: Uint8Array, pass: Uint8Array): boolean {
  if (loaded === null || loaded.path !== path) loaded = { path, creds: authfileLoad(path).creds };
  return loaded.creds !== null && loaded.creds.check(user, pass, false);
}
