// A small table of user:password pairs, checked without leaking through timing which user exists
// or how much of a password matched: both sides are hashed to fixed-length digests and compared with
// crypto.timingSafeEqual, and every entry is looked at whatever matched before. Passwords are kept
// only as digests and are never logged.

import { createHash, timingSafeEqual } from 'node:crypto';

type Entry = { user: Buffer; pass: Buffer };

function digest(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

export class Credentials {
  private readonly entries: Entry[] = [];

  add(user: Uint8Array, pass: Uint8Array): void {
    this.entries.push({ user: digest(user), pass: digest(pass) });
  }

  get size(): number { return this.entries.length; }

  /**
   * True when `user` is listed with `pass`. `firstLineDecides`: only the first line naming the user
   * counts (memcached's SASL password file); otherwise any matching line will do (its -Y auth file).
   */
  check(user: Uint8Array, pass: Uint8Array, firstLineDecides: boolean): boolean {
    const u = digest(user);
    const p = digest(pass);
    let found = false;
    let ok = false;
    for (const e of this.entries) {
      const userMatch = timingSafeEqual(u, e.user);
      const passMatch = timingSafeEqual(p, e.pass);
      if (!userMatch || (found && firstLineDecides)) continue;
      found = true;
      ok = ok || passMatch;
    }
    return ok;
  }
}
