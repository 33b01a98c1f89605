// A generator of seeded random sequences in which a text connection (text and meta commands) and a binary
// connection take turns on the same keys: what one protocol leaves (flags, TTLs, CAS, stale and win marks, binary
// keys meta names in base64, counters) another reads. mixed-protocols-differential.test.ts compares the replies with
// memcached's, watch.test.ts the log lines.

import { binRequest, incrExtras, setExtras, u32Extras } from '../../src/protocol/binary/frame.ts';
import { Op } from '../../src/protocol/binary/header.ts';
import type { ConnRequest } from './differential.ts';
import { mulberry32 as rng } from './rng.ts';

/** The connections of a mixed script, indexes into its sentinels. */
export const TEXT = 0;
export const BINARY = 1;

/** Keys every protocol names (meta now plainly, now in base64 with b). Fetched, never counted. */
const TEXT_KEYS = ['a', 'b', 'c', 'K'.repeat(250)];
/** Keys only binary names as they are, and meta in base64. Fetched, never counted. */
const RAW_KEYS = ['raw key', 'cr\r\nlf', '\x00\xff\x80'];
/**
 * Keys that are counted, never fetched before the end: memcached bumps a fetched item through its maintainer
 * (lru_bump_async), which holds a reference meanwhile, and an incr that finds one held links a new item where it
 * would rewrite the number in place, padded; when is timing (bench/RESULTS.md, round 17).
 */
const COUNTER_KEYS = ['n', 'm'];
const FETCHED_KEYS = [...TEXT_KEYS, ...RAW_KEYS];
const ALL_KEYS = [...FETCHED_KEYS, ...COUNTER_KEYS];

const b64 = (key: string): string => Buffer.from(key, 'latin1').toString('base64');

export function mixedScript(seed: number, n: number): ConnRequest[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const some = (xs: readonly string[], p: number): string[] => xs.filter(() => r() < p);
  const value = (): string => (r() < 0.4 ? String(Math.floor(r() * 1000)) : 'v'.repeat(Math.floor(r() * 200)));
  const number = (): string => String(Math.floor(r() * 1000));
  const flags = (): number => pick([0, 0, 1, 70000, 0xffffffff]);
  const cas = (i: number): number => (r() < 0.7 ? 0 : 1 + Math.floor(r() * (i + 2)));
  /**
   * How meta names a key, and the flag that says so: a raw key always in base64, a short text key now and then (the
   * 250-byte one is too long in base64, and memcached checks the length before it decodes).
   */
  const metaKey = (key: string): [string, string[]] =>
    (RAW_KEYS.includes(key) || (key.length < 10 && r() < 0.25) ? [b64(key), ['b']] : [key, []]);
  const meta = (cmd: string, key: string, ...rest: string[]): string => [cmd, key, ...rest].join(' ') + '\r\n';
  const noreply = (): string => (r() < 0.1 ? ' noreply' : '');
  const script: ConnRequest[] = [];
  const text = (req: string): void => { script.push({ conn: TEXT, req: Buffer.from(req, 'latin1') }); };
  const binary = (req: Buffer): void => { script.push({ conn: BINARY, req }); };

  for (let i = 0; i < n; i++) {
    switch (pick(['text', 'text', 'meta', 'meta', 'meta', 'binary', 'binary', 'binary'] as const)) {
      case 'text': textCommand(i); break;
      case 'meta': metaCommand(i); break;
      case 'binary': binaryCommand(i); break;
    }
  }
  return script;

  function textCommand(i: number): void {
    const exptime = pick(['0', '0', '100', '-1']);
    switch (pick(['store', 'store', 'cas', 'get', 'touch', 'delete', 'delta', 'flush'] as const)) {
      case 'store': {
        const counter = r() < 0.3;
        const key = counter ? pick(COUNTER_KEYS) : pick(TEXT_KEYS);
        const v = counter ? number() : value();
        const cmd = counter ? pick(['set', 'set', 'add', 'append']) : pick(['set', 'add', 'replace', 'append', 'prepend']);
        return text(`${cmd} ${key} ${flags()} ${exptime} ${v.length}${noreply()}\r\n${v}\r\n`);
      }
      case 'cas': {
        const v = value();
        return text(`cas ${pick(TEXT_KEYS)} ${flags()} ${exptime} ${v.length} ${cas(i)}${noreply()}\r\n${v}\r\n`);
      }
      case 'get': return text(`${pick(['get', 'gets'])} ${pick(TEXT_KEYS)} ${pick(TEXT_KEYS)}\r\n`);
      case 'touch': return text(r() < 0.5 ? `touch ${pick(TEXT_KEYS)} ${exptime}${noreply()}\r\n` : `${pick(['gat', 'gats'])} ${exptime} ${pick(TEXT_KEYS)}\r\n`);
      case 'delete': return text(`delete ${pick([...TEXT_KEYS, ...COUNTER_KEYS])}${noreply()}\r\n`);
      case 'delta': return text(`${pick(['incr', 'decr'])} ${pick(COUNTER_KEYS)} ${pick(['1', '7', '18446744073709551615'])}${noreply()}\r\n`);
      case 'flush': return text(r() < 0.1 ? 'flush_all\r\n' : 'version\r\n');
    }
  }

  function metaCommand(i: number): void {
    const ttl = (): string => pick(['T0', 'T100', 'T-1']);
    switch (pick(['mg', 'mg', 'ms', 'ms', 'md', 'ma', 'me'] as const)) {
      case 'mg': {
        const f = some(['v', 's', 'f', 'k', 'c', 'h', 'l', 't', 'q', 'Oo'], 0.35);
        if (r() < 0.2) f.push(pick(['T100', 'T-1', 'N100', 'R50', 'R500']));
        const [key, b] = metaKey(pick(FETCHED_KEYS));
        return text(meta('mg', key, ...b, ...f));
      }
      case 'ms': {
        const counter = r() < 0.25;
        const v = counter ? number() : value();
        const f = some(['q', 'k', 'c', 'Oo'], 0.2);
        if (!counter && r() < 0.2) f.push('I');
        if (r() < 0.3) f.push(ttl());
        if (r() < 0.3) f.push(`F${flags()}`);
        if (r() < 0.3) f.push(pick(counter ? ['ME', 'MS'] : ['ME', 'MA', 'MP', 'MR', 'MS']));
        if (r() < 0.3) f.push(`C${cas(i)}`);
        const [key, b] = counter ? [pick(COUNTER_KEYS), []] : metaKey(pick(FETCHED_KEYS));
        return text(meta('ms', key, String(v.length), ...b, ...f) + `${v}\r\n`);
      }
      case 'md': {
        const counter = r() < 0.2;
        const f = some(['q', 'k', 'Oo'], 0.25);
        if (!counter && r() < 0.4) f.push('I');
        if (r() < 0.2) f.push('T100');
        if (r() < 0.2) f.push(`C${cas(i)}`);
        const [key, b] = counter ? [pick(COUNTER_KEYS), []] : metaKey(pick(FETCHED_KEYS));
        return text(meta('md', key, ...b, ...f));
      }
      case 'ma': {
        const f = some(['q', 'v', 'c', 'k', 'Oo'], 0.3);
        if (r() < 0.3) f.push(pick(['N0', 'N100']));
        if (r() < 0.3) f.push(`J${Math.floor(r() * 100)}`);
        if (r() < 0.3) f.push(pick(['D1', 'D1000', 'D18446744073709551615']));
        if (r() < 0.3) f.push(pick(['MI', 'MD']));
        return text(meta('ma', pick(COUNTER_KEYS), ...f));
      }
      case 'me': {
        const [key, b] = metaKey(pick(FETCHED_KEYS));
        return text(meta('me', key, ...b));
      }
    }
  }

  function binaryCommand(i: number): void {
    const exptime = (): number => pick([0, 0, 100, 1_000_000_000]); // the last a unix time long past: expired at once
    const casOf = (): bigint => BigInt(cas(i));
    switch (pick(['store', 'store', 'concat', 'get', 'get', 'touch', 'delete', 'delta', 'flush'] as const)) {
      case 'store': {
        const counter = r() < 0.3;
        return binary(binRequest({ opcode: pick([Op.SET, Op.SETQ, Op.ADD, Op.ADDQ, Op.REPLACE, Op.REPLACEQ]),
          key: counter ? pick(COUNTER_KEYS) : pick(FETCHED_KEYS), value: counter ? number() : value(),
          extras: setExtras(flags(), exptime()), cas: casOf(), opaque: i }));
      }
      case 'concat':
        return binary(binRequest({ opcode: pick([Op.APPEND, Op.APPENDQ, Op.PREPEND, Op.PREPENDQ]), key: pick(FETCHED_KEYS),
          value: value(), cas: casOf(), opaque: i }));
      case 'get': return binary(binRequest({ opcode: pick([Op.GET, Op.GETQ, Op.GETK, Op.GETKQ]), key: pick(FETCHED_KEYS), opaque: i }));
      case 'touch':
        return binary(binRequest({ opcode: pick([Op.TOUCH, Op.GAT, Op.GATQ, Op.GATK, Op.GATKQ]), key: pick(FETCHED_KEYS),
          extras: u32Extras(exptime()), opaque: i }));
      case 'delete':
        return binary(binRequest({ opcode: pick([Op.DELETE, Op.DELETEQ]), key: pick(ALL_KEYS), cas: casOf(), opaque: i }));
      case 'delta':
        return binary(binRequest({ opcode: pick([Op.INCREMENT, Op.INCREMENTQ, Op.DECREMENT, Op.DECREMENTQ]), key: pick(COUNTER_KEYS),
          extras: incrExtras(pick([1n, 5n, 1n << 63n]), pick([0n, 10n, 18446744073709551615n]), pick([0, 0xffffffff, 100])),
          cas: casOf(), opaque: i }));
      case 'flush': return binary(binRequest({ opcode: r() < 0.1 ? Op.FLUSH : Op.VERSION, opaque: i }));
    }
  }
}

/** Every key as each protocol sees it: binary GetK, meta's mg (with h: fetched before) and, for text keys, me. */
export function everyKeyState(): ConnRequest[] {
  return [
    { conn: BINARY, req: Buffer.concat(ALL_KEYS.map((key) => binRequest({ opcode: Op.GETK, key }))) },
    { conn: TEXT, req: ALL_KEYS.map((key) => `mg ${RAW_KEYS.includes(key) ? `${b64(key)} b` : key} k v f s c t h\r\n`).join('') },
    { conn: TEXT, req: ALL_KEYS.filter((key) => !RAW_KEYS.includes(key)).map((key) => `me ${key}\r\n`).join('') },
  ];
}
