// @ts-check
// The child process strip-once.mjs runs at start: it strips the types from every TypeScript
// source under the folder it is given (tests excepted) and prints them as one JSON object,
// { [file URL]: JavaScript }. Node's type stripper is then loaded into this short-lived process
// once, instead of into every thread of the server for the server's whole life.
//
//   node --disable-warning=ExperimentalWarning src/boot/strip-types.mjs <folder>

import { readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { pathToFileURL } from 'node:url';
import { sourceFiles } from './source-files.mjs';

/**
 * Every source under dir, stripped as Node itself strips it (types become spaces: lines and
 * columns stay where they were, so stack traces point at the real source).
 * @param {string} dir
 * @returns {Record<string, string>}
 */
function stripTree(dir) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const path of sourceFiles(dir)) out[pathToFileURL(path).href] = stripTypeScriptTypes(readFileSync(path, 'utf8'));
  return out;
}

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: strip-types.mjs <folder>\n');
  process.exit(2);
}
process.stdout.write(JSON.stringify(stripTree(dir)));
