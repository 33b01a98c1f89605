// memcached's load_server_certificates (tls.c): the certificate chain, the private key, the check that
// they belong together and the CA certificates for client verification, read in that order and
// failing with memcached's messages and OpenSSL's error strings. At start a failure ends the
// server (exit 64); `refresh_certs` sends it to the client and keeps the certificates it had.

import fs from 'node:fs';
import tls from 'node:tls';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { strerror, strerrorOf } from '../libc/errno.ts';
import { SSL_FILETYPE_ASN1, SSL_FILETYPE_PEM } from '../settings/tls-settings.ts';
import type { TlsSettings } from '../settings/tls-settings.ts';

export type CertLoad = { context: tls.SecureContext } | { error: string };
/**
 * The files -Z names as the main thread read them at start, by path: the workers build their first contexts
 * from these, since a server started as root with -u can no longer read a key only root may read (memcached
 * reads it once, before it switches). `refresh_certs` reads the files again, as whoever the server now is.
 */
export type CertFiles = ReadonlyMap<string, Uint8Array>;

const MIN_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
// OpenSSL's reasons, as ERR_error_string_n prints them (OpenSSL 3, which Debian's memcached links)
const NO_START_LINE = 'error:0480006C:PEM routines::no start line';
const DECODER_UNSUPPORTED = 'error:1E08010C:DECODER routines::unsupported';
const BAD_FILETYPE = 'error:0A00007C:SSL routines::bad ssl filetype';
const KEY_MISMATCH = 'error:05800074:x509 certificate routines::key values mismatch';
const NO_CERTIFICATE = 'error:05800088:x509 certificate routines::no certificate or crl found';
const EFAULT = 14; // what fopen(NULL) sets: memcached started without ssl_chain_cert or ssl_key
/** OpenSSL's default session lifetime for TLS (memcached sets none); Node's own default is 300 s. */
const SESSION_TIMEOUT = 7200;
const CERT_BLOCK = /-----BEGIN (?:TRUSTED |X509 )?CERTIFICATE-----/;

/**
 * Load the certificates -Z names into a context for new connections, or memcached's message. Every
 * context of the server takes the same session ticket keys, as memcached's one SSL_CTX has one set:
 * a client resumes its session whichever worker its next connection lands on.
 */
export function loadServerCertificates(t: TlsSettings, ticketKeys?: Buffer, files?: CertFiles): CertLoad {
  const readFile = (path: string | null): Buffer | { error: string } => {
    const held = path !== null ? files?.get(path) : undefined;
    return held !== undefined ? Buffer.from(held) : readFromDisk(path);
  };
  const readPem = (path: string | null): string | { error: string } => {
    const bytes = readFile(path);
    return Buffer.isBuffer(bytes) ? bytes.toString('latin1') : bytes;
  };
  const chain = readPem(t.chainCert);
  if (typeof chain !== 'string') return { error: `Error loading the certificate chain: ${shown(t.chainCert)} : ${chain.error}` };
  const leaf = firstCertificate(chain);
  if (typeof leaf === 'string') return { error: `Error loading the certificate chain: ${shown(t.chainCert)} : ${leaf}` };
  const key = readKey(readFile, t.key, t.keyFormat, leaf);
  if ('error' in key) return { error: `Error loading the key: ${shown(t.key)} : ${key.error}` };
  let ca: string | undefined;
  if (t.caCert !== null) {
    const text = readPem(t.caCert);
    const bad = typeof text !== 'string' ? text.error : CERT_BLOCK.test(text) ? null : NO_CERTIFICATE;
    if (bad !== null) return { error: `Error loading the CA certificate: ${t.caCert} : ${bad}` };
    ca = text as string;
  }
  try {
    return { context: tls.createSecureContext({ ...contextOptions(t, chain, key.pem, ca), ticketKeys }) };
  } catch (err) {
    // the files were checked above: what is left to refuse is the cipher list, memcached's next check
    return { error: checkCiphers(t) ?? `Error loading the certificate chain: ${shown(t.chainCert)} : ${opensslReason(err, NO_START_LINE)}` };
  }
}

/** A cipher list OpenSSL does not know (ssl_ciphers): memcached's message. */
function checkCiphers(t: TlsSettings): string | null {
  if (t.ciphers === null) return null;
  try {
    tls.createSecureContext({ ciphers: t.ciphers });
    return null;
  } catch {
    return `Error setting the provided cipher(s): ${t.ciphers}`;
  }
}

function contextOptions(t: TlsSettings, chain: string, key: string, ca: string | undefined): tls.SecureContextOptions {
  return {
    cert: chain, key,
    // memcached's context trusts no one unless ssl_ca_cert names whom (Node's would trust Mozilla's roots)
    ca: ca ?? [],
    minVersion: MIN_VERSIONS[t.minVersion],
    sessionTimeout: SESSION_TIMEOUT,
    ...(t.ciphers !== null ? { ciphers: t.ciphers } : {}),
    ...(t.sessionCache ? { sessionIdContext: 'memcached' } : {}), // memcached's SESSION_ID_CONTEXT
  };
}

/** glibc's printf("%s", NULL). */
function shown(path: string | null): string { return path ?? '(null)'; }

/** The files a successful load read, for the workers' first contexts (CertFiles). */
export function readCertFiles(t: TlsSettings): CertFiles {
  const files = new Map<string, Uint8Array>();
  for (const path of [t.chainCert, t.key, t.caCert]) {
    const bytes = path !== null ? readFromDisk(path) : null;
    if (path !== null && Buffer.isBuffer(bytes)) files.set(path, bytes);
  }
  return files;
}

function readFromDisk(path: string | null): Buffer | { error: string } {
  if (path === null) return { error: systemError(EFAULT, strerror(EFAULT)) };
  try {
    return fs.readFileSync(path);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).errno;
    return { error: systemError(typeof errno === 'number' ? -errno : EFAULT, strerrorOf(err)) };
  }
}

/** OpenSSL 3's system error line: ERR_LIB_SYS with the errno, and strerror's text. */
function systemError(errno: number, text: string): string {
  const code = (0x80000000 | errno) >>> 0;
  return `error:${code.toString(16).toUpperCase().padStart(8, '0')}:system library::${text}`;
}

function firstCertificate(pem: string): X509Certificate | string {
  const start = pem.search(CERT_BLOCK);
  if (start < 0) return NO_START_LINE;
  try {
    return new X509Certificate(pem.slice(start));
  } catch (err) {
    return opensslReason(err, NO_START_LINE);
  }
}

/** The private key (PEM or DER, as ssl_keyformat says) as PEM, checked against the certificate. */
function readKey(
  readFile: (path: string | null) => Buffer | { error: string }, path: string | null, format: number, leaf: X509Certificate,
): { pem: string } | { error: string } {
  if (format !== SSL_FILETYPE_PEM && format !== SSL_FILETYPE_ASN1) return { error: BAD_FILETYPE };
  const bytes = readFile(path);
  if (!Buffer.isBuffer(bytes)) return bytes;
  const key = format === SSL_FILETYPE_PEM ? pemKey(bytes) : derKey(bytes);
  if (key === null) return { error: DECODER_UNSUPPORTED };
  if (!sameKey(createPublicKey(key), leaf.publicKey)) return { error: KEY_MISMATCH };
  return { pem: key.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function pemKey(bytes: Buffer): KeyObject | null {
  try { return createPrivateKey({ key: bytes, format: 'pem' }); } catch { return null; }
}

/** d2i_PrivateKey reads PKCS#8 and the traditional forms alike. */
function derKey(bytes: Buffer): KeyObject | null {
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try { return createPrivateKey({ key: bytes, format: 'der', type }); } catch { /* the next form */ }
  }
  return null;
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

/** OpenSSL's own reason when Node passes it on ("error:..."), else `fallback`. */
function opensslReason(err: unknown, fallback: string): string {
  const m = err instanceof Error ? /error:[0-9A-F]{8}:[^\n]*/.exec(err.message) : null;
  return m !== null ? m[0] : fallback;
}
