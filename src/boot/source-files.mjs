// @ts-check
// The TypeScript sources the server runs: every .ts file under a folder but the tests, in a stable order.
// strip-types.mjs strips these; strip-once.mjs names its cache of them by their contents.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} dir
 * @returns {string[]} absolute paths, sorted
 */
export function sourceFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}
