// How `npm start` runs the server, for the tests and the bench to start it the way its users do. package.json's
// start script is START_SCRIPT, the launcher, which sets glibc's tunables and runs node with serverNodeArgs
// (strip-once.test.ts holds the three together); setting the tunables before node starts spares the server
// exec'ing itself again for them (src/main/malloc-tunables.ts), about half a second of its start.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const START_SCRIPT = 'bin/cachalot';

/** node's arguments that preload strip-once.mjs from the source tree at root (none for a tree without it). */
export function preloadArgs(root: string): string[] {
  const preload = join(root, 'src', 'boot', 'strip-once.mjs');
  return existsSync(preload) ? ['--import', pathToFileURL(preload).href] : [];
}

/** node's arguments before memcached's flags for the tree at root; the bench also runs old commits' trees. */
export function serverNodeArgs(root: string): string[] {
  return [...preloadArgs(root), join(root, 'src', 'main.ts')];
}
