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
