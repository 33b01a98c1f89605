// The TLS session cache every worker shares (-o ssl_session_cache): what is stored under an id is what
// that id fetches, copied out; anything else fetches nothing. Resumption through it, across workers and
// against memcached: test/tls.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SESSION_SLOTS, SessionCache, sessionCacheBuffer } from './session-cache.ts';

const id = (n: number): Buffer => Buffer.alloc(32, n);

test('a session comes back under its id only, as a copy of what was stored', () => {
  const buffer = sessionCacheBuffer();
  const cache = new SessionCache(buffer);
  const session = Buffer.from('a DER session, as Node hands it over');
  cache.store(id(1), session);
  const found = cache.fetch(id(1));
  assert.deepEqual(found, session);
  assert.equal(cache.fetch(id(2)), null);
  assert.equal(cache.fetch(id(1).subarray(0, 16)), null, 'a prefix of the id is another id');
  found!.fill(0);
  assert.deepEqual(new SessionCache(buffer).fetch(id(1)), session, 'another worker\'s view reads the same; the copy was the caller\'s');
});

test('a newer session takes its slot; ids and sessions too large are not kept', () => {
  const cache = new SessionCache(sessionCacheBuffer());
  for (let n = 0; n < 3 * SESSION_SLOTS; n++) cache.store(Buffer.from(`id ${n}`), Buffer.from(`session ${n}`));
  const last = 3 * SESSION_SLOTS - 1;
  assert.deepEqual(cache.fetch(Buffer.from(`id ${last}`)), Buffer.from(`session ${last}`));
  const kept = Array.from({ length: 3 * SESSION_SLOTS }, (_, n) => cache.fetch(Buffer.from(`id ${n}`)) !== null).filter(Boolean).length;
  assert.ok(kept <= SESSION_SLOTS, `${kept} kept in ${SESSION_SLOTS} slots`);
  cache.store(id(7), Buffer.alloc(4096));
  assert.equal(cache.fetch(id(7)), null);
  cache.store(Buffer.alloc(33, 1), Buffer.from('x'));
  assert.equal(cache.fetch(Buffer.alloc(33, 1)), null);
  assert.equal(cache.fetch(Buffer.alloc(0)), null);
});
