// A reader of Cyrus SASL's sasldb2: a Berkeley DB hash database (Debian's libsasl2-modules-db uses
// libdb5.3), one entry per user and property, key "authid NUL realm NUL property" -> the value; PLAIN's
// password is the property "userPassword", as `saslpasswd2` writes it. Cyrus opens the file at every
// lookup, so Cachalot reads it whole at every authentication: a few pages, scanned in order, every
// key/data pair of every hash page taken. Anything this reader does not know is refused with a
// SasldbError (the authentication then fails), never guessed at.
//
// The layout (Berkeley DB's db_page.h), in the byte order the meta page's magic shows:
//   page 0, the hash meta page: 12 magic (0x061561), 16 version, 20 page size, 24 encryption,
//     25 page type (8), 26 meta flags (1: checksums), 32 last page number, 48 flags (1: duplicates)
//   every page: 16 next page, 20 entries (u16), 22 high free offset (u16), 25 page type, 26.. index (u16
//     offsets of its items, which sit at the page's end, each item ending where the one before it starts)
//   a hash page (type 13, or 2 before DB 4.6): items in key, data pairs; an item is one type byte and
//     then the bytes (1, H_KEYDATA), or an overflow reference (3, H_OFFPAGE: 4 first page, 8 length)
//   an overflow page (type 7): the 22 field counts its bytes, which start at 26; 16 links the next one

import { readFileSync } from 'node:fs';
import { SaslCode, SaslLog, saslFail, type SaslWhy } from './sasl-result.ts';

const HASH_MAGIC = 0x061561;
/** Hash versions 8 (DB 4.2-4.5) and 9 (DB 4.6-5.3) share this layout; 10 (DB 6) adds items of its own. */
const HASH_VERSIONS = [8, 9];
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;
/** The generic page header's size: the item index starts there, as does an overflow page's data. */
const PAGE_HEADER = 26;
const DBMETA_CHKSUM = 0x01;
const DBMETA_PARTITIONED = 0x06;
const DB_HASH_DUP = 0x01;
const DB_HASH_SUBDB = 0x02;
const HOFFPAGE_SIZE = 12;

/** The default sasldb of Debian's Cyrus (its SASL_DB_PATH), when the config names none. */
export const SASLDB_DEFAULT_PATH = '/etc/sasldb2';
/** The property `saslpasswd2` stores a plaintext password under (Cyrus's SASL_AUX_PASSWORD_PROP). */
export const USER_PASSWORD = 'userPassword';

export class SasldbError extends Error {}

type Db = { file: Buffer; le: boolean; pageSize: number; lastPgno: number };

/** Every key/data pair of a sasldb file's bytes, in page order. Throws SasldbError on what it does not read. */
export function readSasldb(file: Buffer): Array<[Buffer, Buffer]> {
  const db = openMeta(file);
  const pairs: Array<[Buffer, Buffer]> = [];
  for (let pgno = 1; pgno <= db.lastPgno; pgno++) {
    const page = pageAt(db, pgno);
    const type = page[25];
    if (type === P_HASH || type === P_HASH_UNSORTED) readHashPage(db, page, pairs);
    // other pages: overflow pages (read through their references), free and never-used bucket pages
  }
  return pairs;
}

/** The meta page: byte order, page size, how many pages; a file not plainly a hash database is refused. */
function openMeta(file: Buffer): Db {
  if (file.length < 512) throw new SasldbError('not a Berkeley DB file (too short)');
  const le = file.readUInt32LE(12) === HASH_MAGIC;
  if (!le && file.readUInt32BE(12) !== HASH_MAGIC) throw new SasldbError('not a Berkeley DB hash database');
  const u32 = (off: number): number => (le ? file.readUInt32LE(off) : file.readUInt32BE(off));
  const version = u32(16);
  if (!HASH_VERSIONS.includes(version)) throw new SasldbError(`unsupported hash version ${version}`);
  const pageSize = u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw new SasldbError(`bad page size ${pageSize}`);
  if (file[24] !== 0) throw new SasldbError('encrypted database');
  if (file[25] !== P_HASHMETA) throw new SasldbError(`page 0 is no hash meta page (type ${file[25]})`);
  if ((file[26] & DBMETA_CHKSUM) !== 0) throw new SasldbError('database with checksums');
  if ((file[26] & DBMETA_PARTITIONED) !== 0) throw new SasldbError('partitioned database');
  if ((u32(48) & (DB_HASH_DUP | DB_HASH_SUBDB)) !== 0) throw new SasldbError('database with duplicates or subdatabases');
  const lastPgno = u32(32);
  if ((lastPgno + 1) * pageSize > file.length) throw new SasldbError('truncated database');
  return { file, le, pageSize, lastPgno };
}

function pageAt(db: Db, pgno: number): Buffer {
  return db.file.subarray(pgno * db.pageSize, (pgno + 1) * db.pageSize);
}

function u16(db: Db, page: Buffer, off: number): number {
  return db.le ? page.readUInt16LE(off) : page.readUInt16BE(off);
}

function u32(db: Db, page: Buffer, off: number): number {
  return db.le ? page.readUInt32LE(off) : page.readUInt32BE(off);
}

function readHashPage(db: Db, page: Buffer, pairs: Array<[Buffer, Buffer]>): void {
  const entries = u16(db, page, 20);
  if (entries % 2 !== 0 || PAGE_HEADER + 2 * entries > db.pageSize) throw new SasldbError('bad hash page index');
  for (let i = 0; i < entries; i += 2) pairs.push([itemAt(db, page, entries, i), itemAt(db, page, entries, i + 1)]);
}

/** Item i of a hash page: on the page, or the overflow chain it refers to. */
function itemAt(db: Db, page: Buffer, entries: number, i: number): Buffer {
  const start = u16(db, page, PAGE_HEADER + 2 * i);
  const end = i === 0 ? db.pageSize : u16(db, page, PAGE_HEADER + 2 * (i - 1));
  if (start < PAGE_HEADER + 2 * entries || end > db.pageSize || start >= end) throw new SasldbError('bad hash item offset');
  switch (page[start]) {
    case H_KEYDATA: return Buffer.from(page.subarray(start + 1, end));
    case H_OFFPAGE:
      if (end - start < HOFFPAGE_SIZE) throw new SasldbError('short overflow reference');
      return readOverflow(db, u32(db, page, start + 4), u32(db, page, start + 8));
    default: throw new SasldbError(`unsupported hash item type ${page[start]}`);
  }
}

/** An overflow item: `length` bytes over a chain of overflow pages from `pgno`. */
function readOverflow(db: Db, pgno: number, length: number): Buffer {
  if (length > db.file.length) throw new SasldbError('overflow item longer than the file');
  const out = Buffer.alloc(length);
  let have = 0;
  for (let hops = 0; have < length; hops++) {
    if (pgno === 0 || pgno > db.lastPgno || hops > db.lastPgno) throw new SasldbError('broken overflow chain');
    const page = pageAt(db, pgno);
    if (page[25] !== P_OVERFLOW) throw new SasldbError(`overflow chain reaches a page of type ${page[25]}`);
    const n = u16(db, page, 22);
    if (n > db.pageSize - PAGE_HEADER || have + n > length) throw new SasldbError('bad overflow page length');
    page.copy(out, have, PAGE_HEADER, PAGE_HEADER + n);
    have += n;
    pgno = u32(db, page, 16);
  }
  return out;
}

/** Cyrus's sasldb key (_sasldb_alloc_key): "authid NUL realm NUL property". */
export function sasldbKey(authid: Uint8Array, realm: Uint8Array, property: string): Buffer {
  return Buffer.concat([authid, Buffer.of(0), realm, Buffer.of(0), Buffer.from(property)]);
}

/**
 * The pairs of the sasldb at `path`, read now; an empty list when the file does not exist (Cyrus: no
 * such user), null when it cannot be read or understood (the reason goes to `why`).
 */
export function loadSasldb(path: string, why: { reason: string }): Array<[Buffer, Buffer]> | null {
  let file: Buffer;
  try { file = readFileSync(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    why.reason = `unable to open Berkeley db ${path}: ${code ?? 'error'}`;
    return null;
  }
  try { return readSasldb(file); } catch (e) {
    if (!(e instanceof SasldbError)) throw e;
    why.reason = `unable to read Berkeley db ${path}: ${e.message}`;
    return null;
  }
}

/**
 * The secret stored under `key` in the sasldb at `path`, read now, as Cyrus's auxprop reads it: a C string, up to
 * its first NUL. Null when there is none (SASL_NOUSER, which Cyrus reports without a message of its own) or the
 * file cannot be read (SASL_FAIL, with the reason).
 */
export function sasldbSecret(path: string, key: Buffer, why: SaslWhy): Buffer | null {
  const pairs = loadSasldb(path, why);
  if (pairs === null) { why.code = SaslCode.FAIL; why.level = SaslLog.FAIL; return null; }
  const found = pairs.find(([k]) => k.equals(key));
  if (found === undefined) { saslFail(why, SaslCode.NOUSER, SaslLog.NONE, 'no such user'); return null; }
  const nul = found[1].indexOf(0);
  return nul < 0 ? found[1] : found[1].subarray(0, nul);
}
