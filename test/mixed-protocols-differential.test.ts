// The three protocols over one store, differential: seeded random sequences in which a text connection (text and
// meta commands) and a binary connection take turns on the same keys, to Cachalot and a real memcached 1.6, one
// request at a time, the same bytes back (CAS numbers and times masked). Each protocol's own differential pins its
// grammar; this one pins what they leave each other: flags, TTLs and CAS values set by one and read by another, a
// meta stale or win mark under a text or binary store, a key with bytes text cannot name (binary) read and written
// by meta as base64 (b) and answered by meta's k in base64 only where meta marked the key so, counters created by
// one protocol and counted by another.

import {
  BINARY_NOOP_SENTINEL, differentialAcross, keepBinaryStats, keepTextStats, maskMetaTimes, MN_SENTINEL, REQUEST_COUNTERS,
  type ConnRequest,
} from './support/differential.ts';
import { BINARY, everyKeyState, mixedScript, TEXT } from './support/mixed-protocols.ts';
import { binRequest } from '../src/protocol/binary/frame.ts';
import { Op } from '../src/protocol/binary/header.ts';

/** Every key as each protocol ends up seeing it, then the counters the requests alone decide. */
const finalState = (): ConnRequest[] =>
  [...everyKeyState(), { conn: TEXT, req: 'stats\r\n' }, { conn: BINARY, req: binRequest({ opcode: Op.STAT }) }];

const keepText = keepTextStats(REQUEST_COUNTERS);
const keepBinary = keepBinaryStats(REQUEST_COUNTERS);
const mask = (reply: Buffer): Buffer => keepBinary(keepText(maskMetaTimes(reply)));

for (const seed of [1, 2, 3, 4]) {
  differentialAcross(`mixed protocols: text, meta and binary on the same keys, seed ${seed}`, [MN_SENTINEL, BINARY_NOOP_SENTINEL],
    [...mixedScript(seed, 600), ...finalState()], { whole: true, mask });
}
