// -S's start (memcached's init_sasl), and where PLAIN's passwords come from then. Two ways, as memcached:
// - MEMCACHED_SASL_PWDB set (even empty): memcached's built-in password file (ENABLE_SASL_PWDB,
//   sasl-pwdb.ts), as Cachalot has always read it, without a Cyrus config.
// - otherwise Cyrus SASL, the one way of Debian's memcached: the config file memcached.conf, found as
//   memcached's sasl_getconf finds it, read as Cyrus reads it (sasl_config_init), and the sasldb it
//   names (sasldb.ts). memcached exits when there is no config path or the config is malformed.
// Cachalot implements SCRAM-SHA-*, CRAM-MD5, PLAIN and LOGIN: List Mechs offers those of the config's mech_list, and
// nothing else, so that a client never picks a mechanism Cachalot cannot finish (libmemcached takes the
// strongest mechanism offered). src/auth/README.md says why DIGEST-MD5 and the others are not offered.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { SASLDB_DEFAULT_PATH } from './sasldb.ts';
import { DEFAULT_ITERATIONS, SALT_KEY_BYTES } from './sasl-scram.ts';
import { SASLAUTHD_DEFAULT_PATH } from './saslauthd.ts';
import { AUTHDAEMOND_DEFAULT_PATH } from './authdaemond.ts';

/** The password verifiers of Debian's Cyrus that PLAIN's pwcheck_method may name (checkpw.c's, as built). */
const VERIFIERS = ['auxprop', 'saslauthd', 'authdaemond'];

export const SASL_PWDB_ENV = 'MEMCACHED_SASL_PWDB';
export const SASL_CONF_PATH_ENV = 'SASL_CONF_PATH';
/** Cyrus reads <dir>/<appname>.conf; memcached's appname is "memcached". */
const CONF_FILE = 'memcached.conf';
/** memcached's locations: each directory, or a directory named memcached.conf inside it. */
const CONF_DIRS = ['/etc/sasl', '/etc/sasl2'];

/** What a worker needs to answer SASL (plain data: it goes to every worker thread). */
export type SaslSetup = {
  /** List Mechs' answer: the mechanisms offered, in Cyrus's order, space-separated; '' when none may be used. */
  mechs: string;
  /** The MEMCACHED_SASL_PWDB file (read at every authentication), or null: Cyrus's way below. */
  pwdb: string | null;
  /** Cyrus: auxprop's sasldb, where CRAM-MD5 and SCRAM read passwords; null when auxprop_plugin leaves it out. */
  sasldb: string | null;
  /** pwcheck_method as configured (default auxprop): the verifiers PLAIN's password goes to, in order. */
  pwcheck: string;
  /** saslauthd_path: the socket of saslauthd, the verifier that asks it (saslauthd.ts). */
  saslauthdPath: string;
  /** authdaemond_path: the socket of Courier's authdaemond (authdaemond.ts). */
  authdaemondPath: string;
  /** Cyrus's user realm, memcached's my_sasl_hostname (gethostname): appended to a user name without '@'. */
  realm: string;
  /** SCRAM's iteration count: the config's scram_iteration_counter, as Cyrus reads it (sasl-scram.ts). */
  scramIterations: number;
  /**
   * The key SCRAM's salts are made with (hex), drawn once at start as Cyrus's scram plugin draws it: a user's
   * salt stays the same, on every worker, until the server restarts.
   */
  scramSaltKey: string;
};

export type SaslInit = { setup: SaslSetup; log: string } | { error: string; log: string };

/** init_sasl: the setup, and what memcached writes at -v on the way; or its error, and memcached exits 1. */
export function initSasl(env: NodeJS.ProcessEnv, hostname: string): SaslInit {
  const pwdb = env[SASL_PWDB_ENV];
  if (pwdb !== undefined) {
    return { setup: { mechs: 'PLAIN', pwdb, sasldb: null, pwcheck: '', saslauthdPath: '', authdaemondPath: '', realm: hostname, ...scramDefaults() }, log: '' };
  }
  const path = saslGetconf(env, existsSync);
  if (path === null) return { error: 'Error initializing sasl.\n', log: 'Failed to locate a config path\n' };
  let log = `Reading configuration from: <${path}>\n`;
  const conf = loadConfig(path);
  if (conf === null) return { error: 'Error initializing sasl.\n', log };
  const { setup, notes } = cyrusSetup(conf, hostname);
  for (const n of notes) log += `SASL: ${n}\n`;
  return { setup, log: log + 'Initialized SASL.\n' };
}

/**
 * memcached's sasl_getconf (the HAVE_SASL_CB_GETCONFPATH branch, the one a current Cyrus builds): SASL_CONF_PATH
 * as it is, else the first of /etc/sasl, /etc/sasl2 that holds memcached.conf (a directory memcached.conf
 * holding one is taken itself), else null: no config path, and sasl_server_init fails.
 */
export function saslGetconf(env: NodeJS.ProcessEnv, exists: (path: string) => boolean): string | null {
  const fromEnv = env[SASL_CONF_PATH_ENV];
  if (fromEnv !== undefined) return fromEnv;
  for (const dir of CONF_DIRS) {
    if (exists(`${dir}/${CONF_FILE}/${CONF_FILE}`)) return `${dir}/${CONF_FILE}`;
    if (exists(`${dir}/${CONF_FILE}`)) return dir;
  }
  return null;
}

/**
 * Cyrus's load_config: `path` is a ':'-separated list of directories; the first <dir>/memcached.conf that
 * opens is the config (a directory opens and reads as empty). No file at all is an empty config; a
 * malformed one is null.
 */
export function loadConfig(path: string): Map<string, string> | null {
  for (const dir of path.split(':')) {
    let text: string;
    try { text = readFileSync(`${dir}/${CONF_FILE}`, 'latin1'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EISDIR') return new Map();
      continue;
    }
    return parseConfig(text);
  }
  return new Map();
}

const isSpace = (c: string): boolean => c === ' ' || (c >= '\t' && c <= '\r'); // C's isspace

/**
 * sasl_config_init: "key: value" lines; blank lines and '#' lines are skipped; keys are letters, digits,
 * '-' and '_', matched in any case; the value is trimmed and may not be empty. The first line of a key counts.
 */
export function parseConfig(text: string): Map<string, string> | null {
  const conf = new Map<string, string>();
  for (const line of text.split('\n')) {
    let p = 0;
    while (p < line.length && isSpace(line[p])) p++;
    if (p === line.length || line[p] === '#') continue;
    const keyStart = p;
    while (p < line.length && /[A-Za-z0-9_-]/.test(line[p])) p++;
    if (line[p] !== ':') return null;
    const key = line.slice(keyStart, p).toLowerCase();
    p++;
    while (p < line.length && isSpace(line[p])) p++;
    if (p === line.length) return null;
    let end = line.length;
    while (end > p + 1 && isSpace(line[end - 1])) end--;
    if (!conf.has(key)) conf.set(key, line.slice(p, end));
  }
  return conf;
}

/** A config value's white-space-separated words. */
export const words = (value: string): string[] => value.split(/[ \t\n\v\f\r]+/).filter((w) => w !== '');
const names = (value: string | undefined, name: string): boolean =>
  value === undefined || words(value).some((w) => w.toLowerCase() === name);

/** The mechanisms Cachalot implements, in the order Cyrus offers them without a mech_list (by strength). */
export const MECHS = ['SCRAM-SHA-512', 'SCRAM-SHA-384', 'SCRAM-SHA-256', 'SCRAM-SHA-224', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN'] as const;
export type Mech = (typeof MECHS)[number];

/**
 * Cyrus's _sasl_is_equal_mech: the name in any case, a "-PLUS" suffix (channel binding) dropped when `plus`
 * allows it. The implemented mechanism it names, or null.
 */
export function findMech(name: string, plus = true): Mech | null {
  const n = plus && name.length > 5 && name.slice(-5).toUpperCase() === '-PLUS' ? name.slice(0, -5) : name;
  return MECHS.find((m) => m === n.toUpperCase()) ?? null;
}

/**
 * What -S takes from the config. mech_list: the mechanisms offered, in its order (each name as often as
 * listed); without it, every one Cyrus has, in its order. auxprop_plugin (default all of them): CRAM-MD5 and
 * SCRAM read passwords through auxprop, from the sasldb when auxprop_plugin lets its sasldb plugin in (sasldb_path
 * names the file). pwcheck_method (default auxprop): the verifiers PLAIN's password goes to, auxprop (that
 * sasldb), saslauthd (at saslauthd_path) or authdaemond (at authdaemond_path).
 */
export function cyrusSetup(conf: Map<string, string>, realm: string): { setup: SaslSetup; notes: string[] } {
  const notes: string[] = [];
  const mechList = conf.get('mech_list');
  let offered: string[] = [...MECHS];
  if (mechList !== undefined) {
    // Cyrus looks for the "-PLUS" suffix at the end of the rest of the list, not of the word: only the last
    // name may carry it
    const listed = words(mechList);
    const mechs = listed.map((w, i) => findMech(w, i === listed.length - 1));
    offered = mechs.filter((m) => m !== null);
    const others = listed.filter((_, i) => mechs[i] === null);
    if (others.length > 0) notes.push(`mech_list: not offered, Cachalot implements ${MECHS.join(' ')} only: ${others.join(' ')}`);
  }
  const pwcheck = conf.get('pwcheck_method') ?? 'auxprop';
  const auxprop = conf.get('auxprop_plugin');
  const sasldb = names(auxprop, 'sasldb') ? conf.get('sasldb_path') ?? SASLDB_DEFAULT_PATH : null;
  if (sasldb === null) notes.push(`auxprop_plugin ${auxprop}: Cachalot reads the sasldb only, so no password is found through auxprop`);
  const unknown = words(pwcheck).filter((w) => !VERIFIERS.includes(w.toLowerCase()));
  if (unknown.length > 0) notes.push(`pwcheck_method: Cachalot has the ${VERIFIERS.join(', ')} verifiers only, as Debian's Cyrus: ${unknown.join(' ')}`);
  const saslauthdPath = conf.get('saslauthd_path') ?? SASLAUTHD_DEFAULT_PATH;
  const authdaemondPath = conf.get('authdaemond_path') ?? AUTHDAEMOND_DEFAULT_PATH;
  const iterations = conf.get('scram_iteration_counter');
  const scram = scramDefaults();
  if (iterations !== undefined) scram.scramIterations = cyrusStrtoul(iterations) ?? DEFAULT_ITERATIONS;
  return { setup: { mechs: offered.join(' '), pwdb: null, sasldb, pwcheck, saslauthdPath, authdaemondPath, realm, ...scram }, notes };
}

function scramDefaults(): { scramIterations: number; scramSaltKey: string } {
  return { scramIterations: DEFAULT_ITERATIONS, scramSaltKey: randomBytes(SALT_KEY_BYTES).toString('hex') };
}

/**
 * scram.c's reading of scram_iteration_counter: strtoul over the whole value (a sign allowed, "-1" wrapping
 * round), kept in an unsigned int; null (Cyrus then takes its default) for anything else or out of range.
 */
export function cyrusStrtoul(value: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)$/.exec(value);
  if (m === null) return null;
  const v = BigInt(m[2]);
  if (v > 0xffffffffffffffffn) return null; // ERANGE
  return Number(BigInt.asUintN(32, m[1] === '-' ? -v : v));
}
