// -l entries as memcached 1.6.18's server_sockets reads them: `[notls:][proto[ascii|binary|negotiating]:]
// [tag[name]:]<host>[:port]`, the host an IPv4 address or name, `[IPv6]`, a bare IPv6 address, or `*` for
// every interface. Entries are separated by `,` or `;`. A bad entry fails the start with memcached's
// message (then "failed to listen on one of interface(s) ..." and exit 71, as memcached).

import dns from 'node:dns';
import net from 'node:net';
import { safeStrtol } from './c-numbers.ts';
import type { Protocol, Settings } from './settings.ts';

export type ListenSpec = {
  /** The entry as given (memcached prints the whole -l string in its errors). */
  entry: string;
  /**
   * null: every interface (`*`), until resolveListenSpecs makes it memcached's two wildcard addresses. An IPv6
   * address is listened on IPv6-only (v6Only), as memcached sets IPV6_V6ONLY on every AF_INET6 socket.
   */
  host: string | null;
  /** null: the -p (or -U) port. */
  port: number | null;
  /** Connections here speak TLS: -Z, unless the entry says notls. */
  tls: boolean;
  /** proto[...]: this listener's protocol; null: -B's. */
  protocol: Protocol | null;
  /**
   * The entry's place in -l. A host name gives an entry one spec per address it resolves to
   * (resolveListenSpecs); the entry fails only when none of them could be bound.
   */
  group: number;
};

export type ListenSpecs = { specs: ListenSpec[] } | { error: string };

export function parseListenSpecs(s: Settings): ListenSpecs {
  const specs: ListenSpec[] = [];
  for (const entry of s.listen.join(',').split(/[;,]/)) {
    if (entry === '') continue; // strtok skips empty fields
    const r = parseListenSpec(entry, s.tls.enabled, specs.length);
    if (typeof r === 'string') return { error: r };
    specs.push(r);
  }
  return { specs };
}

/**
 * memcached's server_socket binds every address getaddrinfo gives for an entry's host, so
 * `-l localhost` listens on 127.0.0.1 and ::1 where the hosts file names both. An entry whose host
 * is a name becomes one spec per address, in the resolver's order; a name that does not resolve
 * fails the start with memcached's `getaddrinfo()` line.
 */
export async function resolveListenSpecs(specs: ListenSpec[]): Promise<ListenSpecs> {
  const resolved: ListenSpec[] = [];
  for (const spec of specs) {
    if (spec.host === null) { resolved.push(...wildcards(spec)); continue; }
    if (net.isIP(spec.host) !== 0) { resolved.push(spec); continue; }
    try {
      const addrs = await dns.promises.lookup(spec.host, { all: true, order: 'verbatim' });
      for (const a of addrs) resolved.push({ ...spec, host: a.address });
    } catch (err) {
      return { error: `getaddrinfo(): ${gaiMessage(err as NodeJS.ErrnoException)}\n` };
    }
  }
  return { specs: resolved };
}

/**
 * `*`: memcached's getaddrinfo with no host (AI_PASSIVE) gives 0.0.0.0, then :: (glibc's order), a socket each,
 * the IPv6 one IPv6-only (v6Only), so an IPv4 client comes in on the IPv4 one (tcp:, not tcp6:[::ffff:...]) and each
 * has its row and descriptor. Where IPv6 is not to be had its socket fails and is passed over (Dispatcher).
 */
function wildcards(spec: ListenSpec): ListenSpec[] {
  return [{ ...spec, host: '0.0.0.0' }, { ...spec, host: '::' }];
}

/**
 * memcached's IPV6_V6ONLY on every AF_INET6 socket: `-l ::` takes no IPv4 client, and `-l [::]:p,0.0.0.0:p` binds
 * both (a dual-stack :: would have the IPv4 port already).
 */
export function v6Only(spec: ListenSpec): boolean { return spec.host !== null && net.isIPv6(spec.host); }

/** gai_strerror's words for the failures Node names by code (its ENOTFOUND is EAI_NONAME). */
function gaiMessage(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOTFOUND': return 'Name or service not known';
    case 'EAI_AGAIN': return 'Temporary failure in name resolution';
    default: return err.message;
  }
}

/** The message memcached prints when a listener cannot be set up, after the reason. */
export function listenFailureLine(s: Settings): string {
  return `failed to listen on one of interface(s) ${s.listen.join(',')}: Success\n`;
}

/** One entry, or memcached's message for it (with its newline, where memcached prints one). */
function parseListenSpec(entry: string, tlsEnabled: boolean, group: number): ListenSpec | string {
  let p = entry;
  let tls = tlsEnabled;
  if (p.startsWith('notls')) {
    if (!tlsEnabled) return "'notls' option is valid only when SSL is enabled\n";
    tls = false;
    p = p.slice('notls'.length + 1);
  }
  let protocol: Protocol | null = null;
  if (p.startsWith('proto')) {
    p = p.slice('proto'.length);
    const b = bracketed(p);
    if (b === null) return `Invalid protocol spec: "${p}"\n`;
    if (b !== undefined) {
      p = b.rest;
      // strncmp over the given length, as memcached compares: a prefix selects
      if ('ascii'.startsWith(b.inside)) protocol = 'ascii';
      else if ('binary'.startsWith(b.inside)) protocol = 'binary';
      else if ('negotiating'.startsWith(b.inside)) protocol = 'auto';
      else if ('proxy'.startsWith(b.inside)) return `Server not built with proxy: "${entry}"\n`;
    }
  }
  if (p.startsWith('tag')) {
    p = p.slice('tag'.length);
    const b = bracketed(p);
    if (b === null) return `Invalid tag in socket config: "${p}"\n`;
    if (b !== undefined) {
      if (b.inside.length < 1 || b.inside.length > 8) return `Listener tags must be between 1 and 8 characters: "${b.inside}"\n`;
      p = b.rest; // a tag only matters to memcached's proxy
    }
  }
  return hostAndPort(entry, p, tls, protocol, group);
}

/** `[inside]` and what follows its assumed ':'; undefined when p does not start with '['; null if unclosed. */
function bracketed(p: string): { inside: string; rest: string } | null | undefined {
  if (p[0] !== '[') return undefined;
  const e = p.indexOf(']');
  if (e < 0) return null;
  return { inside: p.slice(1, e), rest: p.slice(e + 2) };
}

function hostAndPort(entry: string, p: string, tls: boolean, protocol: Protocol | null, group: number): ListenSpec | string {
  let v6: string | null = null;
  if (p[0] === '[') {
    const e = p.indexOf(']');
    if (e < 0) return `Invalid IPV6 address: "${p}"`; // memcached prints no newline after this one
    v6 = p.slice(1, e);
    p = p.slice(e + 1);
  }
  let port: number | null = null;
  const colon = p.indexOf(':');
  // a second ':' without brackets: a bare IPv6 address, no port
  if (colon >= 0 && (v6 !== null || p.indexOf(':', colon + 1) < 0)) {
    const text = p.slice(colon + 1);
    port = safeStrtol(text);
    if (port === null) return `Invalid port number: "${text}"\n`;
    p = p.slice(0, colon);
  }
  const host = v6 ?? p;
  return { entry, host: host === '*' ? null : host, port, tls, protocol, group };
}
