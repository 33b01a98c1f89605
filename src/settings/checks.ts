// What memcached's main() checks once every option is read, in its order and with its messages: -I against
// -m and slab_chunk_max, external storage against -I and -U, slab_sizes, the LRU percentages, -S and -Y
// against -B, the ports, -Z.

import { safeStrtoul } from './c-numbers.ts';
import { EX_USAGE, exit, MB, usageFail, type Exit, type ParseState } from './parse-state.ts';

const ITEM_SIZE_MAX_LOWER_LIMIT = 1024;
const ITEM_SIZE_MAX_UPPER_LIMIT = 1024 * MB;
const CHUNK_ALIGN_BYTES = 8;
const MAX_NUMBER_OF_SLAB_CLASSES = 64;

function checkItemSize(st: ParseState): Exit | null {
  const s = st.s;
  if (s.itemSizeMax < ITEM_SIZE_MAX_LOWER_LIMIT) return usageFail('Item max size cannot be less than 1024 bytes.');
  if (s.itemSizeMax > s.maxBytes / 2) return usageFail('Cannot set item size limit higher than 1/2 of memory max.');
  if (s.itemSizeMax > ITEM_SIZE_MAX_UPPER_LIMIT) return usageFail('Cannot set item size limit higher than a gigabyte.');
  if (s.itemSizeMax > MB && !st.slabChunkChanged) s.slabChunkMax = s.slabPageSize / 2;
  if (s.slabChunkMax > s.itemSizeMax) {
    return usageFail(`slab_chunk_max (bytes: ${s.slabChunkMax}) cannot be larger than -I (item_size_max ${s.itemSizeMax})`);
  }
  if (s.slabChunkMax <= 0 || s.itemSizeMax % s.slabChunkMax !== 0) {
    return usageFail(`-I (item_size_max: ${s.itemSizeMax}) must be evenly divisible by slab_chunk_max (bytes: ${s.slabChunkMax})`);
  }
  if (s.slabPageSize % s.slabChunkMax !== 0) {
    return usageFail(`slab_chunk_max (bytes: ${s.slabChunkMax}) must divide evenly into ${s.slabPageSize} (slab_page_size)`);
  }
  return null;
}

/**
 * memcached's storage_check_config, with ext_path given: every item must fit one write buffer (an item goes to
 * flash whole, through one), and UDP must be off (memcached serves external storage over streams only).
 */
function storageCheckConfig(st: ParseState): Exit | null {
  const s = st.s;
  if (s.ext.paths.length === 0) return null;
  if (s.itemSizeMax > s.ext.wbufSize) {
    return usageFail(`-I (item_size_max: ${s.itemSizeMax}) cannot be larger than ext_wbuf_size: ${s.ext.wbufSize}`);
  }
  if (s.udpPort !== 0) return usageFail('Cannot use UDP with extstore enabled (-U 0 to disable)');
  return null;
}

/** memcached's _parse_slab_sizes: dash-separated, rising by more than CHUNK_ALIGN_BYTES each. */
function parseSlabSizes(st: ParseState, text: string): Exit | null {
  const sizes: number[] = [];
  let last = 0;
  for (const part of text.split('-').filter((p) => p !== '')) {
    const size = safeStrtoul(part);
    const shown = size < 0 ? 0 : size;
    if (size < 0 || size < st.s.chunkSizeMin || size > st.s.slabChunkMax) {
      return usageFail(`slab size ${shown} is out of valid range`);
    }
    if (last >= size) return usageFail(`slab size ${size} cannot be lower than or equal to a previous class size`);
    if (size <= last + CHUNK_ALIGN_BYTES) {
      return usageFail(`slab size ${size} must be at least ${CHUNK_ALIGN_BYTES} bytes larger than previous class`);
    }
    sizes.push(size);
    last = size;
    if (sizes.length >= MAX_NUMBER_OF_SLAB_CLASSES - 1) return usageFail('too many slab classes specified');
  }
  if (sizes.length === 0) return exit(EX_USAGE, '');
  st.s.slabSizes = sizes;
  return null;
}

function checkLru(st: ParseState): Exit | null {
  const s = st.s;
  if (s.hotLruPct + s.warmLruPct > 80) return usageFail('hot_lru_pct + warm_lru_pct cannot be more than 80% combined');
  if (s.tempLru && !s.lruMaintainer) return usageFail('temporary_ttl requires lru_maintainer to be enabled');
  return null;
}

/** SASL forces the binary protocol and -Y the ascii one, unless -B chose otherwise (then it is an error). */
function checkAuth(st: ParseState): Exit | null {
  const s = st.s;
  if (s.sasl) {
    if (!st.protocolSpecified) s.protocol = 'binary';
    else if (s.protocol !== 'binary') return usageFail('ERROR: You cannot allow the ASCII protocol while using SASL.');
    if (s.udpPort) return usageFail('ERROR: Cannot enable UDP while using binary SASL authentication.');
  }
  if (s.authFile) {
    if (!st.protocolSpecified) s.protocol = 'ascii';
    else if (s.protocol !== 'ascii') {
      return usageFail('ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.');
    }
  }
  return null;
}

function checkPorts(st: ParseState): Exit | null {
  const s = st.s;
  // memcached: -U alone also moves TCP to that port.
  if (st.udpSpecified && s.udpPort !== 0 && !st.tcpSpecified) s.port = s.udpPort;
  if (s.port > 65535) return usageFail(`ERROR: Invalid port number ${s.port}.`);
  // Ours: memcached 1.6.18 takes these and listens on the number cut to 16 bits (-U 70000 is UDP port 4464).
  if (s.udpPort > 65535 || s.udpPort < -1) return usageFail(`ERROR: Invalid UDP port number ${s.udpPort}.`); // -1: any free port
  return null;
}

/** memcached's checks after its option loop, in its order; the first to fail ends the parse. */
export function validate(st: ParseState): Exit | null {
  if (st.s.napiIds > st.s.threads) {
    return usageFail(`Number of napi_ids(${st.s.napiIds}) cannot be greater than number of threads(${st.s.threads})`);
  }
  const r = checkItemSize(st)
    ?? storageCheckConfig(st)
    ?? (st.slabSizesUnparsed !== null ? parseSlabSizes(st, st.slabSizesUnparsed) : null)
    ?? checkLru(st);
  if (r) return r;
  st.s.numThreadsPerUdp = st.inter !== null && st.inter.includes(',') ? 1 : st.s.threads;
  return checkAuth(st) ?? checkPorts(st) ?? checkTls(st);
}

/** memcached checks -Z against the port just before it loads the certificates (tls/secure-context.ts). */
function checkTls(st: ParseState): Exit | null {
  const t = st.s.tls;
  if (!t.enabled) return null;
  if (st.s.port === 0) return usageFail('ERROR: You cannot enable SSL without a TCP port.');
  // memcached turns on OpenSSL's kernel offload (SSL_OP_ENABLE_KTLS); Node has no such switch. It changes how
  // records are encrypted, not what is sent: taken, so that memcached's command lines start, and said.
  if (t.kernelTls) st.warnings.push('WARNING: ssl_kernel_tls is not applied: Node offers no kernel TLS offload');
  return null;
}
