// -S's start (memcached's init_sasl), and where PLAIN's passwords come from then. Two ways, as memcached:
// - MEMCACHED_SASL_PWDB set (even empty): memcached's built-in password file (ENABLE_SASL_PWDB,
//   sasl-pwdb.ts), as Cachalot has always read it, without a Cyrus config.
// - otherwise Cyrus SASL, the one way of Debian's memcached: the config file memcached.conf, found as
//   memcached's sasl_getconf finds it, read as Cyrus reads it (sasl_config_init), and the sasldb it
//   names (sasldb.ts). memcached exits when there is no config path or the config is malformed.
// Cachalot implements PLAIN only: List Mechs offers the PLAIN entries of the config's mech_list, and
// nothing else, so that a client picks PLAIN (libmemcached takes the strongest mechanism offered).

import { existsSync, readFileSync } from 'node:fs';
import { SASLDB_DEFAULT_PATH } from './sasldb.ts';

export const SASL_PWDB_ENV = 'MEMCACHED_SASL_PWDB';
export const SASL_CONF_PATH_ENV = 'SASL_CONF_PATH';
/** Cyrus reads <dir>/<appname>.conf; memcached's appname is "memcached". */
const CONF_FILE = 'memcached.conf';
/** memcached's locations: each directory, or a directory named memcached.conf inside it. */
const CONF_DIRS = ['/etc/sasl', '/etc/sasl2'];

/** What a worker needs to answer SASL (plain data: it goes to every worker thread). */
export type SaslSetup = {
  /** List Mechs' answer: "PLAIN", as often as the config's mech_list names it; '' when none may be used. */
  mechs: string;
  /** The MEMCACHED_SASL_PWDB file (read at every authentication), or null: Cyrus's way below. */
  pwdb: string | null;
  /** Cyrus: the sasldb PLAIN checks passwords against, or null when the config gives it none (`noSource`). */
  sasldb: string | null;
  noSource: string;
  /** Cyrus's user realm, memcached's my_sasl_hostname (gethostname): appended to a user name without '@'. */
  realm: string;
};

export type SaslInit = { setup: SaslSetup; log: string } | { error: string; log: string };

/** init_sasl: the setup, and what memcached writes at -v on the way; or its error, and memcached exits 1. */
export function initSasl(env: NodeJS.ProcessEnv, hostname: string): SaslInit {
  const pwdb = env[SASL_PWDB_ENV];
  if (pwdb !== undefined) return { setup: { mechs: 'PLAIN', pwdb, sasldb: null, noSource: '', realm: hostname }, log: '' };
  const path = saslGetconf(env, existsSync);
  if (path === null) return { error: 'Error initializing sasl.\n', log: 'Failed to locate a config path\n' };
  let log = `Reading configuration from: <${path}>\n`;
  const conf = loadConfig(path);
  if (conf === null) return { error: 'Error initializing sasl.\n', log };
  const { setup, notes } = plainSetup(conf, hostname);
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

const words = (value: string): string[] => value.split(/[ \t\n\v\f\r]+/).filter((w) => w !== '');
const names = (value: string | undefined, name: string): boolean =>
  value === undefined || words(value).some((w) => w.toLowerCase() === name);

/**
 * What PLAIN takes from the config. mech_list: the mechanisms offered, in its order, names in any case
 * (without it, every mechanism Cyrus has, of which PLAIN is the one here). pwcheck_method (default
 * auxprop) and auxprop_plugin (default all of them): PLAIN's passwords come from the sasldb when they
 * let auxprop and its sasldb plugin check them; sasldb_path names the file.
 */
export function plainSetup(conf: Map<string, string>, realm: string): { setup: SaslSetup; notes: string[] } {
  const notes: string[] = [];
  const mechList = conf.get('mech_list');
  let mechs = 'PLAIN';
  if (mechList !== undefined) {
    const listed = words(mechList);
    mechs = listed.filter((m) => m.toUpperCase() === 'PLAIN').map(() => 'PLAIN').join(' ');
    const others = listed.filter((m) => m.toUpperCase() !== 'PLAIN');
    if (others.length > 0) notes.push(`mech_list: not offered, Cachalot implements PLAIN only: ${others.join(' ')}`);
  }
  let noSource = '';
  const pwcheck = conf.get('pwcheck_method');
  const auxprop = conf.get('auxprop_plugin');
  if (!names(pwcheck ?? 'auxprop', 'auxprop')) noSource = `pwcheck_method ${pwcheck}: Cachalot checks auxprop (the sasldb) only`;
  else if (!names(auxprop, 'sasldb')) noSource = `auxprop_plugin ${auxprop}: Cachalot reads the sasldb only`;
  if (noSource !== '') notes.push(noSource);
  const sasldb = noSource === '' ? conf.get('sasldb_path') ?? SASLDB_DEFAULT_PATH : null;
  return { setup: { mechs, pwdb: null, sasldb, noSource, realm }, notes };
}
