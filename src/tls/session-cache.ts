// memcached's server-side TLS session cache (-o ssl_session_cache): OpenSSL's cache in memcached's one
// SSL_CTX, from which a TLS 1.2 client that takes no tickets resumes its session by id. Node keeps no
// such cache for a socket outside tls.Server, and a client's next connection may land on another
// worker, so every worker's TLS sockets share this one, in shared memory: Node tells it each new
// session ('newSession') and asks it for a session id a client offers ('resumeSession'). OpenSSL
// still checks the session it is handed (its lifetime, its id context) before it resumes it.
//
// A fixed table: SESSION_SLOTS slots of SLOT_BYTES, a session's slot picked by a hash of its id,
// a newer session taking the slot of an older one (OpenSSL's cache evicts the oldest at 20480
// sessions). Pages are backed as slots are first written: 8 MB at most, with -Z and
// ssl_session_cache only. A session too large for a slot (a long client certificate chain in it)
// is not kept; its client gets a full handshake next time, as after an eviction.

import net from 'node:net';

export const SESSION_SLOTS = 4096;
const SLOT_BYTES = 2048;
const HEADER_BYTES = 16; // Int32 words: lock, id length, session length, (spare)
const MAX_ID = 32; // SSL_MAX_SSL_SESSION_ID_LENGTH
const MAX_SESSION = SLOT_BYTES - HEADER_BYTES - MAX_ID;
const W = { lock: 0, idLength: 1, sessionLength: 2 } as const;

/** The shared table, made once by the main thread and handed to every worker. */
export function sessionCacheBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SESSION_SLOTS * SLOT_BYTES);
}

export class SessionCache {
  private declare readonly words: Int32Array;
  private declare readonly bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  /** Keep a new session under its id (skipped when another worker holds its slot this instant). */
  store(id: Uint8Array, session: Uint8Array): void {
    if (id.length === 0 || id.length > MAX_ID || session.length > MAX_SESSION) return;
    const slot = this.slotOf(id);
    const w = slot / 4;
    if (Atomics.compareExchange(this.words, w + W.lock, 0, 1) !== 0) return; // in use this instant: a cache may skip one
    this.bytes.set(id, slot + HEADER_BYTES);
    this.bytes.set(session, slot + HEADER_BYTES + MAX_ID);
    this.words[w + W.sessionLength] = session.length;
    this.words[w + W.idLength] = id.length;
    Atomics.store(this.words, w + W.lock, 0);
  }

  /** The session kept under id, copied out; null when there is none (or its slot is busy this instant). */
  fetch(id: Uint8Array): Buffer | null {
    if (id.length === 0 || id.length > MAX_ID) return null;
    const slot = this.slotOf(id);
    const w = slot / 4;
    if (Atomics.compareExchange(this.words, w + W.lock, 0, 1) !== 0) return null;
    let found: Buffer | null = null;
    if (this.words[w + W.idLength] === id.length && this.idMatches(slot, id)) {
      const from = slot + HEADER_BYTES + MAX_ID;
      found = Buffer.from(this.bytes.subarray(from, from + this.words[w + W.sessionLength]));
    }
    Atomics.store(this.words, w + W.lock, 0);
    return found;
  }

  /**
   * What a server-side TLSSocket takes as its `server`: Node turns on its session callbacks for a
   * socket whose server listens for these two events. It is never listening itself.
   */
  sessionServer(): net.Server {
    const server = new net.Server();
    server.on('newSession', (id: Buffer, session: Buffer, done: () => void) => { this.store(id, session); done(); });
    server.on('resumeSession', (id: Buffer, done: (err: Error | null, session: Buffer | null) => void) => {
      done(null, this.fetch(id));
    });
    return server;
  }

  private idMatches(slot: number, id: Uint8Array): boolean {
    const at = slot + HEADER_BYTES;
    for (let i = 0; i < id.length; i++) if (this.bytes[at + i] !== id[i]) return false;
    return true;
  }

  /** The byte offset of id's slot: FNV-1a over the id (OpenSSL's ids are random, so any spread does). */
  private slotOf(id: Uint8Array): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id[i], 0x01000193);
    return ((h >>> 0) % SESSION_SLOTS) * SLOT_BYTES;
  }
}
