// getopt_long over memcached 1.6.18's option table: the same short and long options, the same
// argument rules, and getopt's own error lines.

type ArgKind = 0 | 1 | 2; // no_argument, required_argument, optional_argument
const SHORT_OPTS = 'a:AZp:s:U:m:Mc:khiVrvdl:u:P:f:n:t:D:LR:Cb:B:I:SFXWY:e:o:N:';
const LONG_OPTS: ReadonlyArray<readonly [string, string, ArgKind]> = [
  ['unix-mask', 'a', 1], ['enable-shutdown', 'A', 0], ['enable-ssl', 'Z', 0], ['port', 'p', 1],
  ['unix-socket', 's', 1], ['udp-port', 'U', 1], ['memory-limit', 'm', 1],
  ['disable-evictions', 'M', 0], ['conn-limit', 'c', 1], ['lock-memory', 'k', 0], ['help', 'h', 0],
  ['license', 'i', 0], ['version', 'V', 0], ['enable-coredumps', 'r', 0], ['verbose', 'v', 2],
  ['daemon', 'd', 0], ['listen', 'l', 1], ['user', 'u', 1], ['pidfile', 'P', 1],
  ['slab-growth-factor', 'f', 1], ['slab-min-size', 'n', 1], ['threads', 't', 1],
  ['enable-largepages', 'L', 0], ['max-reqs-per-event', 'R', 1], ['disable-cas', 'C', 0],
  ['listen-backlog', 'b', 1], ['protocol', 'B', 1], ['max-item-size', 'I', 1],
  ['enable-sasl', 'S', 0], ['disable-flush-all', 'F', 0], ['disable-dumping', 'X', 0],
  ['disable-watch', 'W', 0], ['auth-file', 'Y', 1], ['memory-file', 'e', 1], ['extended', 'o', 1],
  ['napi-ids', 'N', 1],
];

/** One getopt result: an option letter with its argument, or getopt's own complaint. */
export type Opt = { c: string; arg: string | null } | { error: string };

function shortTakesArg(c: string): boolean | null {
  const i = SHORT_OPTS.indexOf(c);
  if (i < 0 || c === ':') return null;
  return SHORT_OPTS[i + 1] === ':';
}

/** GNU getopt_long with argument permutation: non-options are skipped, `--` ends options. */
export function getoptLong(argv: readonly string[], prog: string): Opt[] {
  const out: Opt[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('--')) i = longOpt(argv, i, prog, out);
    else if (a.length > 1 && a[0] === '-') i = shortOpts(argv, i, prog, out);
  }
  return out;
}

function longOpt(argv: readonly string[], i: number, prog: string, out: Opt[]): number {
  const body = argv[i].slice(2);
  const eq = body.indexOf('=');
  const name = eq < 0 ? body : body.slice(0, eq);
  const exact = LONG_OPTS.find((o) => o[0] === name);
  const found = exact ? [exact] : LONG_OPTS.filter((o) => o[0].startsWith(name));
  if (found.length === 0) {
    out.push({ error: `${prog}: unrecognized option '--${body}'` });
    return i;
  }
  if (found.length > 1) {
    const list = found.map((o) => `'--${o[0]}'`).join(' ');
    out.push({ error: `${prog}: option '--${name}' is ambiguous; possibilities: ${list}` });
    return i;
  }
  const [full, c, kind] = found[0];
  if (eq >= 0 && kind === 0) {
    out.push({ error: `${prog}: option '--${full}' doesn't allow an argument` });
  } else if (eq >= 0 || kind === 2) {
    out.push({ c, arg: eq >= 0 ? body.slice(eq + 1) : null });
  } else if (kind === 0) {
    out.push({ c, arg: null });
  } else if (i + 1 < argv.length) {
    out.push({ c, arg: argv[i + 1] });
    return i + 1;
  } else {
    out.push({ error: `${prog}: option '--${full}' requires an argument` });
  }
  return i;
}

function shortOpts(argv: readonly string[], i: number, prog: string, out: Opt[]): number {
  const a = argv[i];
  for (let j = 1; j < a.length; j++) {
    const c = a[j];
    const takes = shortTakesArg(c);
    if (takes === null) { out.push({ error: `${prog}: invalid option -- '${c}'` }); continue; }
    if (!takes) { out.push({ c, arg: null }); continue; }
    if (j + 1 < a.length) { out.push({ c, arg: a.slice(j + 1) }); return i; }
    if (i + 1 < argv.length) { out.push({ c, arg: argv[i + 1] }); return i + 1; }
    out.push({ error: `${prog}: option requires an argument -- '${c}'` });
    return i;
  }
  return i;
}

