// A worker's share of memcached's one SSL_CTX: the certificates its new TLS connections take, and the
// counters `stats` reports. `refresh_certs` loads the files again in the worker that got it; the other
// workers see the generation word move and load them for their next connection. A connection keeps
// the certificates it started with, as memcached's do.

import type net from 'node:net';
import type tls from 'node:tls';
import { Ctl } from '../server-ctl.ts';
import type { ServerCtl } from '../server-ctl.ts';
import type { TlsSettings } from '../settings/tls-settings.ts';
import { loadServerCertificates } from './secure-context.ts';
import type { CertFiles } from './secure-context.ts';
import { sessionsIssued } from './new-sessions.ts';
import { SessionCache } from './session-cache.ts';
import type { TlsListener } from './tls-io.ts';

export class WorkerCertificates implements TlsListener {
  private declare readonly settings: TlsSettings;
  private declare readonly ctl: ServerCtl;
  private declare readonly ticketKeys: Buffer;
  private declare current: tls.SecureContext;
  private declare generation: number;
  /** With ssl_session_cache: what each TLS socket takes as its server, for the sessions every worker shares. */
  declare readonly sessionServer: net.Server | null;

  /** Loaded at the worker's start from the files as the main thread read them, and loaded without error. */
  constructor(settings: TlsSettings, ctl: ServerCtl, ticketKeys: Uint8Array, sessionCache: SharedArrayBuffer | null, files: CertFiles) {
    this.settings = settings;
    this.ctl = ctl;
    this.sessionServer = sessionCache !== null ? new SessionCache(sessionCache).sessionServer() : null;
    this.ticketKeys = Buffer.from(ticketKeys);
    this.generation = ctl.get(Ctl.certGeneration);
    const r = loadServerCertificates(settings, this.ticketKeys, files);
    if ('error' in r) throw new Error(r.error);
    this.current = r.context;
  }

  get verifyMode(): number { return this.settings.verifyMode; }

  context(): tls.SecureContext {
    const generation = this.ctl.get(Ctl.certGeneration);
    if (generation !== this.generation) {
      this.generation = generation;
      const r = loadServerCertificates(this.settings, this.ticketKeys);
      if ('context' in r) this.current = r.context; // else the files changed again since: keep what there is
    }
    return this.current;
  }

  /** refresh_certs: null when the certificates are loaded, else memcached's message (nothing changes). */
  refresh(now: number): string | null {
    const r = loadServerCertificates(this.settings, this.ticketKeys);
    if ('error' in r) return r.error;
    this.current = r.context;
    this.generation = this.ctl.add(Ctl.certGeneration, 1);
    this.ctl.set(Ctl.certRefreshTime, now);
    return null;
  }

  handshakeFailed(): void { this.ctl.add(Ctl.sslHandshakeErrors, 1); }

  /** ssl_new_sessions: with -o ssl_session_cache, the sessions memcached's OpenSSL would issue for it (new-sessions.ts). */
  handshakeDone(socket: tls.TLSSocket): void {
    if (!this.settings.sessionCache) return;
    const issued = sessionsIssued(socket);
    if (issued > 0) this.ctl.add(Ctl.sslNewSessions, issued);
  }
}
