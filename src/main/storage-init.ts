// memcached's storage_init, in main() right after slabs_init when ext_path was given: the default compaction
// thresholds, then extstore_init's refusals in its order (the page and write buffer sizes, the files opened,
// locked and emptied, the total page count), each ending the start with "Failed to initialize external
// storage: <why>" and EXIT_FAILURE. What comes out is the files' descriptors, the extstore engine's input.

import { writeErr } from '../libc/stdio.ts';
import { ExtstoreOpenError, openExtstoreFiles } from '../extstore/files.ts';
import { uintIndex, type ExtSettings } from '../settings/ext-settings.ts';

const COMPACT_UNDER = uintIndex('ext_compact_under');
const DROP_UNDER = uintIndex('ext_drop_under');
const ALIGNMENT = 2 * 1024 * 1024; // extstore_init: "flash erasure block sizes" are not looked at, 2 MB is assumed
const PAGE_COUNT_LIMIT = 65535;    // extstore_init refuses a total of UINT16_MAX pages or more

/**
 * storage_init for `ext.paths` (not empty): sets what it defaults, then the files' descriptors in `ext.paths`'
 * order; on a refusal, memcached's lines on stderr and exit status 1.
 */
export function storageInit(ext: ExtSettings): number[] {
  storageDefaults(ext);
  const early = extstoreConfRefusal(ext);
  if (early !== null) fail(early);
  let fds: number[];
  try {
    fds = openExtstoreFiles(ext.paths);
  } catch (err) {
    if (!(err instanceof ExtstoreOpenError)) throw err;
    fail('failed to open file', `extstore open: ${err.why}\n`); // perror's line, after the message
  }
  const pages = ext.paths.reduce((sum, p) => sum + p.pageCount, 0);
  // checked once every file is open (and emptied), as extstore_init checks it
  if (pages >= PAGE_COUNT_LIMIT) fail('page_count must total to < 65536. Increase page_size or lower path sizes');
  return fds;
}

/**
 * ext_compact_under left at 0: it and ext_drop_under (whatever was given for it) become a quarter of the pages of
 * the first file in memcached's list, the last ext_path given, not of them all; `stats settings` shows them so.
 */
export function storageDefaults(ext: ExtSettings): void {
  if (ext.uints[COMPACT_UNDER] !== 0) return;
  const quarter = Math.floor(ext.paths[0].pageCount / 4);
  ext.uints[COMPACT_UNDER] = quarter;
  ext.uints[DROP_UNDER] = quarter;
}

/**
 * extstore_init's checks before it opens anything: a page holds whole write buffers, and both are a multiple of
 * 2 MB. (Its others, on the write buffer and page bucket counts, are on memcached's constants, 4 and 4.)
 */
export function extstoreConfRefusal(ext: ExtSettings): string | null {
  // ext_wbuf_size is never 0 here: storage_check_config wants it at least -I
  if (ext.wbufSize === 0 || ext.pageSize % ext.wbufSize !== 0) return 'page_size must be divisible by wbuf_size';
  if (ext.pageSize % ALIGNMENT !== 0 || ext.wbufSize % ALIGNMENT !== 0) {
    return 'page_size and wbuf_size must be divisible by 1024*1024*2';
  }
  return null;
}

function fail(why: string, more = ''): never {
  writeErr(`Failed to initialize external storage: ${why}\n${more}`);
  return process.exit(1);
}
