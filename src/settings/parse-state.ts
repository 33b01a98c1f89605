// What memcached's main() carries while it reads its options (ParseState), and how a parse ends: with
// memcached's status 1 (fail1) or 64, EX_USAGE (usageFail), and its message. Shared by the option switch
// (options.ts), the -o table (suboptions.ts) and the checks after the options (checks.ts).

import type { ParseOutcome, Settings } from './settings.ts';

export type Exit = Extract<ParseOutcome, { kind: 'exit' }>;

export const MB = 1024 * 1024;
export const EX_USAGE = 64;

/** What main()'s locals hold while options are read, besides the settings themselves. */
export type ParseState = {
  s: Settings;
  warnings: string[];
  protocolSpecified: boolean;
  tcpSpecified: boolean;
  udpSpecified: boolean;
  slabChunkChanged: boolean;
  slabSizesUnparsed: string | null;
  /** memcached's settings.inter: the -l arguments joined with commas, each skipped when already a substring. */
  inter: string | null;
  /** The kernel's transparent huge page setting, read when -L asks (main/large-pages.ts readThpEnabled). */
  thpEnabled: () => string | null;
};

export function exit(code: number, stderr: string, stdout = ''): Exit {
  return { kind: 'exit', code, stdout, stderr };
}
export const fail1 = (msg: string): Exit => exit(1, msg + '\n');
export const usageFail = (msg: string): Exit => exit(EX_USAGE, msg + '\n');
