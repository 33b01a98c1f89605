// memcached's options, one letter at a time: main()'s getopt_long switch, and the helpers of the options
// that take more than an assignment (-l, -t, -B, -I). `-o` goes to suboptions.ts.

import { licenseText, usageText, versionLine } from './usage.ts';
import { atof, atoi, strtolOctal } from './c-numbers.ts';
import { largePagesRefusal } from '../main/large-pages.ts';
import { applySubopts } from './suboptions.ts';
import { exit, fail1, MB, usageFail, type Exit, type ParseState } from './parse-state.ts';

/** One option of memcached's getopt_long loop, as its switch in main() applies it. */
export function applyOption(st: ParseState, c: string, arg: string): Exit | null {
  const s = st.s;
  switch (c) {
    case 'A': s.shutdownEnabled = true; return null;
    case 'a': s.socketMask = strtolOctal(arg); return null;
    case 'U': s.udpPort = atoi(arg); st.udpSpecified = true; return null;
    case 'p': s.port = atoi(arg); st.tcpSpecified = true; return null;
    case 's': s.socketPath = arg; return null;
    case 'm': { // memcached's ((size_t)atoi(optarg)) * 1024 * 1024: a negative count wraps to a huge limit
      const n = atoi(arg);
      s.maxBytes = n >= 0 ? n * MB : 2 ** 64 + n * MB;
      return null;
    }
    case 'M': s.evictToFree = false; return null;
    case 'c':
      s.maxConns = atoi(arg);
      return s.maxConns <= 0 ? fail1('Maximum connections must be greater than 0') : null;
    case 'h': return exit(0, '', usageText());
    case 'i': return exit(0, '', licenseText());
    case 'V': return exit(0, '', versionLine());
    case 'k': s.lockMemory = true; return null;
    case 'v': s.verbose++; return null;
    case 'l': addListen(st, arg); return null;
    case 'r': s.enableCoredumps = true; return null;
    case 'R':
      s.reqsPerEvent = atoi(arg);
      // memcached refuses only 0, and with a negative count yields before every command: it answers nothing and
      // spins. Its own message says what it means, so a negative is refused with it too.
      return s.reqsPerEvent <= 0 ? fail1('Number of requests per event must be greater than 0') : null;
    case 'u': s.user = arg; return null;
    case 'P': s.pidFile = arg; return null;
    case 'd': s.daemonize = true; return null;
    case 'e': s.memoryFile = arg; return null;
    case 'f':
      s.factor = atof(arg);
      s.slabConfig = arg;
      // memcached's check lets NaN through (and then crashes): refused here with its words
      return !(s.factor > 1.0) ? fail1('Factor must be greater than 1') : null;
    case 'n':
      s.chunkSizeMin = atoi(arg);
      return s.chunkSizeMin === 0 ? fail1('Chunk size must be greater than 0') : null;
    case 't': return applyThreads(st, arg);
    case 'D':
      if (arg === '') return fail1('No delimiter specified');
      s.prefixDelimiter = arg[0]; s.detailEnabled = true; return null;
    case 'L': { // enable_large_pages: refused at once where the kernel offers no transparent huge pages
      const refusal = largePagesRefusal(st.thpEnabled());
      if (refusal !== null) return exit(1, refusal);
      s.preallocate = true; return null;
    }
    case 'C': s.useCas = false; return null;
    case 'b': s.backlog = atoi(arg); return null;
    case 'B': return applyProtocol(st, arg);
    case 'I': s.itemSizeMax = parseItemSize(arg); return null;
    case 'S': s.sasl = true; return null;
    case 'F': s.flushEnabled = false; return null;
    case 'X': s.dumpEnabled = false; return null;
    case 'W': s.watchEnabled = false; return null;
    case 'Y': s.authFile = arg; return null;
    case 'o': return applySubopts(st, arg);
    case 'Z': s.tls.enabled = true; return null;
    case 'N':
      s.napiIds = atoi(arg);
      return s.napiIds <= 0 ? fail1('Maximum number of NAPI IDs must be greater than 0') : null;
    default: return fail1(`Illegal argument "${c}"`);
  }
}

/**
 * memcached's -l (repeatable and comma-separated): appended to settings.inter after a comma, unless the argument is already part of it (strstr,
 * so an address inside one given before is skipped too); a list with a comma is several interfaces, which
 * gives each UDP port one worker (num_threads_per_udp).
 */
function addListen(st: ParseState, arg: string): void {
  const s = st.s;
  if (st.inter !== null && st.inter.includes(arg)) return;
  st.inter = st.inter === null ? arg : `${st.inter},${arg}`;
  if (!s.listenSpecified) { s.listen = []; s.listenSpecified = true; }
  for (const one of arg.split(',')) if (!s.listen.includes(one)) s.listen.push(one);
}

function applyThreads(st: ParseState, arg: string): Exit | null {
  st.s.threads = atoi(arg);
  if (st.s.threads <= 0) return fail1('Number of threads must be greater than 0');
  if (st.s.threads > 64) {
    // memcached's text, missing space included, so logs match.
    st.warnings.push('WARNING: Setting a high number of workerthreads is not recommended.\n' +
      ' Set this value to the number of cores in your machine or less.');
  }
  return null;
}

function applyProtocol(st: ParseState, arg: string): Exit | null {
  st.protocolSpecified = true;
  if (arg === 'auto' || arg === 'binary' || arg === 'ascii') { st.s.protocol = arg; return null; }
  return usageFail(`Invalid value for binding protocol: ${arg}\n -- should be one of auto, binary, or ascii`);
}

/** -I: a byte count, or k/m (K/M) suffixed; an int in memcached, so it wraps the same way. */
export function parseItemSize(arg: string): number {
  const unit = arg[arg.length - 1];
  if (unit === 'k' || unit === 'K') return (atoi(arg.slice(0, -1)) * 1024) | 0;
  if (unit === 'm' || unit === 'M') return (atoi(arg.slice(0, -1)) * MB) | 0;
  return atoi(arg);
}
