// The binary protocol, differential: seeded random sequences of every request memcached's binary protocol
// answers without hanging up (stores with and without a CAS, their quiet forms, counters that create or refuse,
// touches, gets of every kind, flushes, unknown opcodes, values past 16 KB and past -I), over a small key space,
// to Cachalot and a real memcached 1.6: the same bytes back, CAS numbers masked. The counters they leave are
// compared at the end. binary.test.ts walks the same ground scripted; this finds the orders no script thought of.

import { BINARY_NOOP_SENTINEL, differential, keepBinaryStats, pipelined, REQUEST_COUNTERS } from './support/differential.ts';
import { mulberry32 as rng } from './support/rng.ts';
import { binRequest, incrExtras, setExtras, u32Extras, type BinRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

const U64_MAX = 18446744073709551615n;


/**
 * Keys that are fetched (get, touch, gat) and keys that are counted (incr, decr); stores, appends and deletes take
 * either. Never both on one key: memcached bumps a fetched item of its COLD LRU through its maintainer thread, which
 * holds a reference until it gets to it (lru_bump_async, up to a second when idle), and an incr that finds a
 * reference held links a new item where it would rewrite the number in place, padded with spaces. When that
 * happens depends on the maintainer's timing, so no client can count on either; Cachalot moves the item at once (bench/RESULTS.md, round 17).
 */
const FETCHED_KEYS = [...Array.from({ length: 16 }, (_, i) => `k${i}`), 'K'.repeat(250), 'with space', 'nul\0key', 'crlf\r\n'];
const COUNTER_KEYS = ['n0', 'n1', 'n2', 'n 3', 'N'.repeat(250)];
const ALL_KEYS = [...FETCHED_KEYS, ...COUNTER_KEYS];

/**
 * n requests, each one a whole frame (the differential sends each with a NoOp after it). Expirations are none, far,
 * 100 s or a unix time long past (expired at once), so no clock tick moves a reply during the run; CAS values are
 * small, so a request now and then names the item's real one (both servers count CAS alike from 1). memcached
 * 1.6.18 reads past a counter of 2^63 or more into its chunk's old bytes, and on into the next chunk's pointers,
 * looking for a '-': where ASLR puts one there, the differential runs memcached again (againWhileStaleScan). A
 * seed may still differ where an earlier value left a '-' in the chunk, as memcached then refuses on every run
 * (seed 119 under -n 5 -f 2; test/text-differential.test.ts).
 */
function randomBinaryScript(seed: number, n: number): Buffer[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const key = (): string => pick(ALL_KEYS);
  const NUMBERS = ['0', '1', '99', '100', '1000', '18446744073709551615', '18446744073709551614', '9223372036854775808',
    '007', '12345678901234567890', ' 5', '5 ', '-1', 'abc', ''];
  const value = (): string | Buffer => {
    const roll = r();
    if (roll < 0.35) return pick(NUMBERS);
    if (roll < 0.97) return 'v'.repeat(Math.floor(r() * 300));
    if (roll < 0.995) return Buffer.alloc(16_000 + Math.floor(r() * 40_000), 0x77); // past memcached's 16 KB read
    return Buffer.alloc(1_048_577 + Math.floor(r() * 1000), 0x78); // past -I: refused, swallowed
  };
  const exptime = (): number => pick([0, 0, 0, 0, 100, 0xffffffff, 0x80000000, 1_000_000_000]);
  const flags = (): number => pick([0, 0, 0, 1, 0xffffffff, Math.floor(r() * 70000)]);
  const cas = (i: number): bigint => (r() < 0.75 ? 0n : BigInt(1 + Math.floor(r() * (i + 2))));
  const delta = (): bigint => pick([1n, 1n, 5n, 100n, 1n << 63n, U64_MAX]);
  const initial = (): bigint => pick([0n, 10n, 100n, U64_MAX]);
  const deltaExptime = (): number => pick([0, 0, 0xffffffff, 0xffffffff, 100, 1_000_000_000]);
  const script: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const req: BinRequest = (() => {
      switch (pick(['store', 'store', 'concat', 'get', 'get', 'get', 'delete', 'delta', 'delta', 'touch', 'misc'] as const)) {
        case 'store':
          return { opcode: pick([Op.SET, Op.SETQ, Op.ADD, Op.ADDQ, Op.REPLACE, Op.REPLACEQ]), key: key(), value: value(),
            extras: setExtras(flags(), exptime()), cas: cas(i) };
        case 'concat':
          return { opcode: pick([Op.APPEND, Op.APPENDQ, Op.PREPEND, Op.PREPENDQ]), key: key(), value: value(), cas: cas(i) };
        case 'get': return { opcode: pick([Op.GET, Op.GETQ, Op.GETK, Op.GETKQ]), key: pick(FETCHED_KEYS) };
        case 'delete': return { opcode: pick([Op.DELETE, Op.DELETEQ]), key: key(), cas: cas(i) };
        case 'delta':
          return { opcode: pick([Op.INCREMENT, Op.INCREMENTQ, Op.DECREMENT, Op.DECREMENTQ]), key: pick(COUNTER_KEYS),
            extras: incrExtras(delta(), initial(), deltaExptime()), cas: cas(i) };
        case 'touch':
          return { opcode: pick([Op.TOUCH, Op.GAT, Op.GATQ, Op.GATK, Op.GATKQ]), key: pick(FETCHED_KEYS), extras: u32Extras(exptime()) };
        case 'misc': return pick<BinRequest>([
          { opcode: Op.NOOP }, { opcode: Op.VERSION }, { opcode: 0x55, value: 'a body' }, { opcode: Op.SASL_LIST_MECHS },
          { opcode: 0x1b }, r() < 0.1 ? { opcode: pick([Op.FLUSH, Op.FLUSHQ]) } : { opcode: Op.NOOP },
        ]);
      }
    })();
    const frame = binRequest({ opaque: i, ...req });
    if (r() < 0.05) frame.writeUInt16BE(Math.floor(r() * 65536), 6); // a vbucket: memcached reads past it
    if (r() < 0.05) frame[5] = 1 + Math.floor(r() * 255); // a data type other than raw bytes: read past too
    script.push(frame);
  }
  return script;
}

/** Every key's item as it ends, then the counters. */
function finalState(): Buffer[] {
  return [
    Buffer.concat(ALL_KEYS.map((key) => binRequest({ opcode: Op.GETK, key }))),
    binRequest({ opcode: Op.STAT }),
  ];
}

const mask = keepBinaryStats(new Set([...REQUEST_COUNTERS, 'bytes_read']));

for (const seed of [1, 2, 3]) {
  differential(`binary differential: a seeded random sequence, seed ${seed}`, [...randomBinaryScript(seed, 700), ...finalState()],
    { sentinel: BINARY_NOOP_SENTINEL, whole: true, mask });
}

differential('binary differential: a seeded random sequence, pipelined', [...pipelined(randomBinaryScript(77, 1200), 77), ...finalState()],
  { sentinel: BINARY_NOOP_SENTINEL, whole: true, mask });

differential('binary differential: a seeded random sequence, pipelined, -R 1', [...pipelined(randomBinaryScript(5, 600), 5), ...finalState()],
  { sentinel: BINARY_NOOP_SENTINEL, whole: true, mask, args: ['-R', '1'] });
