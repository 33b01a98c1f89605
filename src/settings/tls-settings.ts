// memcached's TLS settings (-Z and the ssl_* sub-options of -o), read as memcached 1.6.18 reads
// them, with its messages. The values are kept as memcached keeps them, so `stats settings`
// prints the same numbers: the verify mode as OpenSSL's SSL_VERIFY_* bits, the key format as
// SSL_FILETYPE_*, the write buffer in bytes.

import { safeStrtol, safeStrtoul } from './c-numbers.ts';

export type TlsSettings = {
  enabled: boolean;        // -Z
  chainCert: string | null;
  key: string | null;
  verifyMode: number;      // SSL_VERIFY_* bits: 0 none, 1 peer, 3 + fail if no peer cert, 7 + client once
  keyFormat: number;       // SSL_FILETYPE_PEM (1) or SSL_FILETYPE_ASN1 (2); anything else fails to load
  ciphers: string | null;
  caCert: string | null;
  wbufSize: number;        // bytes
  sessionCache: boolean;
  kernelTls: boolean;
  minVersion: number;      // 0..3: tlsv1.0 .. tlsv1.3
};

export const SSL_VERIFY_PEER = 1;
export const SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2;
export const SSL_FILETYPE_PEM = 1;
export const SSL_FILETYPE_ASN1 = 2;
/** ssl_verify_mode's 0..3 as memcached turns them into OpenSSL's bits. */
const VERIFY_MODES = [0, SSL_VERIFY_PEER, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | 4];
export const TLS_VERSION_NAMES = ['tlsv1.0', 'tlsv1.1', 'tlsv1.2', 'tlsv1.3'] as const;

export function defaultTlsSettings(): TlsSettings {
  return {
    enabled: false, chainCert: null, key: null, verifyMode: 0, keyFormat: SSL_FILETYPE_PEM, ciphers: null,
    caCert: null, wbufSize: 16 * 1024, sessionCache: false, kernelTls: false, minVersion: 2,
  };
}

export function isTlsSubopt(name: string): boolean {
  return Object.hasOwn(TLS_SUBOPTS, name);
}

/** One ssl_* sub-option; memcached's message (it then exits 1) when the value is missing or bad. */
export function applyTlsSubopt(t: TlsSettings, name: string, value: string | null): string | null {
  return TLS_SUBOPTS[name](t, value);
}

type TlsSubopt = (t: TlsSettings, value: string | null) => string | null;

function text(name: string, set: (t: TlsSettings, v: string) => void): TlsSubopt {
  return (t, v) => {
    if (v === null) return `Missing ${name} argument`;
    set(t, v);
    return null;
  };
}

/** A 0..n choice read by safe_strtol and mapped through `table`. */
function choice(name: string, table: readonly number[], set: (t: TlsSettings, v: number) => void): TlsSubopt {
  return (t, v) => {
    if (v === null) return `Missing ${name} argument`;
    const n = safeStrtol(v);
    if (n === null) return `could not parse argument to ${name}`;
    if (n < 0 || n >= table.length) return `Invalid ${name}. Use help to see valid options.`;
    set(t, table[n]);
    return null;
  };
}

const TLS_SUBOPTS: Readonly<Record<string, TlsSubopt>> = {
  ssl_chain_cert: text('ssl_chain_cert', (t, v) => { t.chainCert = v; }),
  ssl_key: text('ssl_key', (t, v) => { t.key = v; }),
  ssl_verify_mode: choice('ssl_verify_mode', VERIFY_MODES, (t, v) => { t.verifyMode = v; }),
  ssl_keyformat: (t, v) => {
    if (v === null) return 'Missing ssl_keyformat argument';
    const n = safeStrtol(v);
    if (n === null) return 'could not parse argument to ssl_keyformat';
    t.keyFormat = n; // checked when the key is loaded, as OpenSSL does
    return null;
  },
  ssl_ciphers: text('ssl_ciphers', (t, v) => { t.ciphers = v; }),
  ssl_ca_cert: text('ssl_ca_cert', (t, v) => { t.caCert = v; }),
  ssl_wbuf_size: (t, v) => {
    if (v === null) return 'Missing ssl_wbuf_size argument';
    const kb = safeStrtoul(v);
    if (kb < 0) return 'could not parse argument to ssl_wbuf_size';
    t.wbufSize = (kb * 1024) >>> 0; // an unsigned int in memcached
    return null;
  },
  ssl_session_cache: (t) => { t.sessionCache = true; return null; },
  ssl_kernel_tls: (t) => { t.kernelTls = true; return null; },
  ssl_min_version: choice('ssl_min_version', [0, 1, 2, 3], (t, v) => { t.minVersion = v; }),
};
