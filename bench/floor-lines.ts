// What the two floors (floor.ts over libuv, floor-uring.ts over io_uring) share: their command line, the
// protocol words they answer, and how they tell the bench their port. Only their I/O differs.

import { renameSync, writeFileSync } from 'node:fs';

export const LF = 0x0a;
export const SPACE = 0x20;
export const GET = Buffer.from('get ', 'latin1');
export const SET = Buffer.from('set ', 'latin1');

export type FloorArgs = { port: number; host: string; threads: number };

/** `-p PORT|-1 -t THREADS [-l ADDR]`; memcached's other flags are ignored. */
export function parseFloorArgs(argv: string[]): FloorArgs {
  const args: FloorArgs = { port: 11211, host: '127.0.0.1', threads: 4 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-p') args.port = Number(argv[++i]);
    else if (argv[i] === '-t') args.threads = Number(argv[++i]);
    else if (argv[i] === '-l') args.host = argv[++i];
  }
  if (args.port < 0) args.port = 0; // memcached's -p -1: any free port, told through the port file
  return args;
}

/** " <flags> <bytes>\r\n<data>\r\n", what follows "VALUE <key>" for a value of n bytes. */
export function valueBlock(n: number): Buffer {
  return Buffer.from(` 0 ${n}\r\n${'v'.repeat(n)}\r\n`, 'latin1');
}

export function startsWith(line: Uint8Array, from: number, to: number, word: Uint8Array): boolean {
  if (to - from < word.length) return false;
  for (let i = 0; i < word.length; i++) if (line[from + i] !== word[i]) return false;
  return true;
}

/** MEMCACHED_PORT_FILENAME, written as the servers write it (through a .lck file, renamed). */
export function writeFloorPortFile(port: number): void {
  const portFile = process.env.MEMCACHED_PORT_FILENAME;
  if (portFile === undefined) return;
  writeFileSync(`${portFile}.lck`, `TCP INET: ${port}\n`);
  renameSync(`${portFile}.lck`, portFile);
}

/** What a floor keeps of a connection's input between reads: a line cut by a read, and a set's data still to skip. */
export type LineConn = { carry: Buffer | null; skip: number };

/**
 * Every whole line of `data` (a set's data block skipped) handed to `answer` without its CRLF; a line the read cut
 * is kept in c.carry for the next.
 */
export function forEachLine<C extends LineConn>(c: C, bytes: Uint8Array,
  answer: (c: C, line: Uint8Array, from: number, to: number) => void): void {
  let data = bytes;
  if (c.carry !== null) { data = Buffer.concat([c.carry, data]); c.carry = null; }
  let at = 0;
  while (at < data.length) {
    if (c.skip > 0) {
      const take = Math.min(c.skip, data.length - at);
      c.skip -= take;
      at += take;
      continue;
    }
    const lf = data.indexOf(LF, at);
    if (lf < 0) { c.carry = Buffer.from(data.subarray(at)); break; }
    const end = lf > at && data[lf - 1] === 0x0d ? lf - 1 : lf;
    answer(c, data, at, end);
    at = lf + 1;
  }
}

/**
 * `set <key> <flags> <exptime> <bytes> [noreply]`: its data block and CRLF are to be skipped (c.skip); true when
 * a STORED is owed (no noreply after the byte count).
 */
export function skipSetData(c: LineConn, line: Uint8Array, from: number, to: number): boolean {
  let at = from, spaces = 0;
  while (at < to && spaces < 4) if (line[at++] === SPACE) spaces++;
  let bytes = 0;
  while (at < to && line[at] !== SPACE) bytes = bytes * 10 + line[at++] - 0x30;
  c.skip = bytes + 2;
  return at === to;
}

/** In a get line: where the next key starts, at or after `at` (past the spaces). */
export function keyStart(line: Uint8Array, at: number, to: number): number {
  while (at < to && line[at] === SPACE) at++;
  return at;
}

/** In a get line: where the key that starts at `at` ends. */
export function keyEnd(line: Uint8Array, at: number, to: number): number {
  while (at < to && line[at] !== SPACE) at++;
  return at;
}
