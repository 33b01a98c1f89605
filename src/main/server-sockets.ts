// memcached's server_sockets: the -l entries read and resolved, every listener opened (or the start ends with
// memcached's words and EX_OSERR), and MEMCACHED_PORT_FILENAME written with the ports bound.

import fs from 'node:fs';
import { errnoAfterPerror, writeErr } from '../libc/stdio.ts';
import type { Settings } from '../settings/settings.ts';
import type { Store } from '../store/store.ts';
import { socketErrorCode, strerrorOf, strerrorOfSocket } from '../libc/errno.ts';
import { Dispatcher, ListenError } from '../dispatcher/dispatcher.ts';
import type { Listener } from '../dispatcher/dispatcher.ts';
import { listenFailureLine, parseListenSpecs, resolveListenSpecs } from '../settings/listen-spec.ts';
import type { ListenSpec } from '../settings/listen-spec.ts';

/** The -l entries; a bad one ends the start as memcached's server_sockets does (EX_OSERR). */
export async function listenSpecsOrExit(settings: Settings): Promise<ListenSpec[]> {
  const parsed = parseListenSpecs(settings);
  const r = 'specs' in parsed ? await resolveListenSpecs(parsed.specs) : parsed;
  if ('specs' in r) return r.specs;
  writeErr(r.error + listenFailureLine(settings));
  return process.exit(71);
}

/** memcached's server_sockets: every listener open, or the start ends with its message (EX_OSERR). */
export async function serverSocketsOrExit(
  dispatcher: Dispatcher, settings: Settings, clock: Store, portFileOpen: boolean,
): Promise<Listener[]> {
  if (settings.socketPath === null && settings.port < -1) {
    // memcached's getaddrinfo takes port -1 as 0 (any free port); any other negative port names no service
    writeErr(`getaddrinfo(): Servname not supported for ai_socktype\nfailed to listen on ${listenWhere(settings, null)}: Success\n`);
    process.exit(71);
  }
  return dispatcher.listen(clock.currentTime(), portFileOpen).catch((err: unknown) => {
    if (err instanceof ListenError && err.transport === 'UNIX') { // server_socket_unix's perror, then main's vperror
      const why = strerrorOfSocket(err);
      writeErr(`${err.call}(): ${why}\nfailed to listen on UNIX socket: ${settings.socketPath}: ${errnoAfterPerror(why)}\n`);
      return process.exit(71);
    }
    // server_socket skips an address in use without a word; any other failure to bind it perrors first
    const why = strerrorOfSocket(err);
    const bindLine = socketErrorCode(err) !== 'EADDRINUSE';
    writeErr(bindLine ? `bind(): ${why}\nfailed to listen on ${listenWhere(settings, err)}: ${errnoAfterPerror(why)}\n`
      : `failed to listen on ${listenWhere(settings, err)}: ${why}\n`);
    return process.exit(71); // EX_OSERR
  });
}

/** What memcached's vperror after server_sockets names: the -l list when one was given, else the port. */
function listenWhere(settings: Settings, err: unknown): string {
  if (settings.listenSpecified) return `one of interface(s) ${settings.listen.join(',')}`;
  return err instanceof ListenError ? `${err.transport} port ${err.port}` : `TCP port ${settings.port}`;
}

/**
 * MEMCACHED_PORT_FILENAME: memcached writes "<TCP|UDP> INET: <port>" lines via a .lck file; one it cannot open
 * is reported, and the server goes on.
 */
export function writePortFile(path: string, listeners: Listener[]): void {
  const lines = listeners.filter((l) => l.transport !== 'unix').map((l) => `${l.transport.toUpperCase()} ${l.family}: ${l.port}\n`);
  try {
    fs.writeFileSync(`${path}.lck`, lines.join(''));
  } catch (err) {
    writeErr(`Failed to open "${path}.lck": ${strerrorOf(err)}\n`);
    return;
  }
  try { fs.renameSync(`${path}.lck`, path); } catch { /* memcached's rename is unchecked too */ }
}
