// SASL List Mechs, Auth and Step: memcached's bin_list_sasl_mechs, process_bin_sasl_auth and
// process_bin_complete_sasl_auth, with PLAIN, CRAM-MD5, SCRAM-SHA-* and LOGIN built in (src/auth/sasl-plain.ts,
// sasl-cram.ts, sasl-scram.ts, sasl-login.ts)
// where memcached calls Cyrus SASL, and the connection's exchange kept as Cyrus's sasl_server_start and
// sasl_server_step keep it (serverStart, serverStep). Mechanism names are matched without regard to case.
// List Mechs answers the mechanisms the config offers (src/auth/sasl-conf.ts), or, when it offers none, an
// auth error as memcached's does; every Auth is then refused too.
// The SASL data is read as memcached reads it: into an item keyed by the mechanism (conn_nread), so what
// memcached cannot allocate, or only as a chunked item, is Out of memory here too, and nothing larger waits
// in the read buffer.

import type { Conn } from '../../worker/conn.ts';
import { Proto } from '../../worker/conn.ts';
import { connStartNread } from '../../worker/drive-machine.ts';
import { StoreOp } from '../../store/results.ts';
import { itemSizeOk } from '../item-size.ts';
import { ThreadStat } from '../../stats/thread-stats.ts';
import { saslMechs, saslOffered, saslPlain, saslSetup } from '../../auth/sasl-plain.ts';
import { cramChallenge, cramVerify } from '../../auth/sasl-cram.ts';
import { scramStart, scramStep, SCRAM_MECHS, type ScramExchange, type ScramMech } from '../../auth/sasl-scram.ts';
import { loginStart, loginStep } from '../../auth/sasl-login.ts';
import type { CramExchange, SaslContext } from '../../auth/sasl-context.ts';
import { SaslCode, SaslLog, saslFail, saslLogged, saslWhy, type SaslStep } from '../../auth/sasl-result.ts';
import { Op, Status, BinState, BinSubstate, addBinHeader, writeBinError, writeBinResponse } from './header.ts';

/** memcached's MAX_SASL_MECH_LEN. */
const MAX_SASL_MECH_LEN = 32;
const PLAIN = 'PLAIN';
const CRAM_MD5 = 'CRAM-MD5';
const LOGIN = 'LOGIN';
const EMPTY = Buffer.alloc(0);
const AUTHENTICATED = Buffer.from('Authenticated');

export function binListSaslMechs(c: Conn, st: BinState): void {
  if (!c.ctx.settings.sasl) { writeBinError(c, st, Status.UNKNOWN_COMMAND, st.bodylen - st.keylen); return; }
  c.authenticated = false; // memcached's init_sasl_conn starts over
  const mechs = saslMechs();
  if (mechs === null) {
    if (c.ctx.verbosity() > 0) c.ctx.log('Failed to list SASL mechanisms.');
    writeBinError(c, st, Status.AUTH_ERROR, 0);
    return;
  }
  writeBinResponse(c, st, mechs, 0);
}

/** memcached's process_bin_sasl_auth: the data goes into an item (flags 0, no expiry) keyed by the mechanism. */
export function processBinSaslAuth(c: Conn, st: BinState): void {
  const vlen = (st.bodylen - st.keylen) | 0; // a C int, as memcached's
  if (!c.ctx.settings.sasl) { writeBinError(c, st, Status.UNKNOWN_COMMAND, vlen); return; }
  if (st.keylen > MAX_SASL_MECH_LEN) { writeBinError(c, st, Status.EINVAL, vlen); return; }
  const store = c.ctx.store;
  const fits = vlen >= 0 && itemSizeOk(c.ctx.settings, st.keylen, 0, vlen + 2);
  // a chunked item gets its header alone: memcached chains the chunks as the data comes, and refuses it first
  const it = fits ? store.itemAlloc(c.rbuf, st.keyStart, st.keylen, 0, 0, vlen + 2, /* chainLater */ true) : 0;
  // memcached cannot hand a chunked item's data to Cyrus: past the slab chunk size that is Out of memory too
  if (it === 0 || store.itemChunked(it)) {
    if (it !== 0) store.itemRelease(it);
    writeBinError(c, st, Status.ENOMEM, vlen);
    return;
  }
  st.substate = BinSubstate.readingSaslAuthData;
  connStartNread(c, it, vlen, StoreOp.SET, 0, Proto.binary); // (the store op is unused: completeNreadBinary routes)
}

/** memcached's process_bin_complete_sasl_auth: the data is in c.item; start or step the exchange. */
export function processBinCompleteSaslAuth(c: Conn, st: BinState): void {
  const store = c.ctx.store;
  const it = c.item;
  c.item = 0;
  try { completeSaslAuth(c, st, it); } finally { store.itemRelease(it); }
}

function completeSaslAuth(c: Conn, st: BinState, it: number): void {
  const store = c.ctx.store;
  const vlen = store.itemNbytes(it) - 2;
  const data = Buffer.allocUnsafe(vlen); // a cold path: a login's data, copied out of the item
  store.itemCopyValue(it, data, 0, 0, vlen);
  c.authenticated = false; // init_sasl_conn
  // the mechanism is the item's key (the read buffer may have moved on while the data came)
  const key = Buffer.allocUnsafe(store.itemNkey(it));
  store.itemCopyKey(it, key, 0);
  const nul = key.indexOf(0);
  const mech = key.subarray(0, nul < 0 ? key.length : nul).toString('latin1'); // memcached hands Cyrus a C string
  if (c.ctx.verbosity() > 0) c.ctx.log(`mech:  \`\`${mech}'' with ${vlen} bytes of data`);
  const res: SaslStep = { ...saslWhy(), out: null };
  let result: number;
  if (st.cmd === Op.SASL_AUTH) {
    result = serverStart(c, mech, vlen === 0 ? null : data, res);
    c.saslStarted = result === SaslCode.OK || result === SaslCode.CONTINUE;
  } else if (!c.saslStarted) {
    if (c.ctx.verbosity() > 0) c.ctx.log(`${c.id}: SASL_STEP called but sasl_server_start not called for this connection!`);
    result = SaslCode.FAIL;
  } else {
    result = serverStep(c, data, res);
  }
  logSaslResult(c, res, result);
  if (result === SaslCode.CONTINUE) { saslContinue(c, st, res.out); return; }
  const row = c.ctx.stats.row;
  row[ThreadStat.auth_cmds]++;
  if (result === SaslCode.OK) {
    c.authenticated = true;
    writeBinResponse(c, st, AUTHENTICATED, 0);
    return;
  }
  row[ThreadStat.auth_errors]++;
  writeBinError(c, st, Status.AUTH_ERROR, 0);
}

/**
 * memcached's lines for a step: Cyrus's messages through sasl_log (what it noted on the way, a failure's, which
 * never include the credentials), then at -v the result code, and for a failure "Unknown sasl response".
 */
function logSaslResult(c: Conn, res: SaslStep, result: number): void {
  const v = c.ctx.verbosity();
  for (const [level, text] of res.notes) if (saslLogged(level, v)) c.ctx.log(`SASL (severity ${level}): ${text}`);
  if (result < 0 && saslLogged(res.level, v)) c.ctx.log(`SASL (severity ${res.level}): ${res.reason}`);
  if (v === 0) return;
  c.ctx.log(`sasl result code:  ${result}`);
  if (result < 0) c.ctx.log(`Unknown sasl response:  ${result}`);
}

/**
 * sasl_server_start: the mechanism must be offered ("Couldn't find mech"); the previous exchange's context is
 * dropped and the mechanism's own made. PLAIN wants the client first: without data it answers "continue" and
 * nothing else, with data that is its step. CRAM-MD5 speaks first: data is refused, else its step makes the
 * challenge. SCRAM and LOGIN take either: a step with or without the client's first message. Any failure, a
 * step refused after a success included, ends the exchange.
 */
function serverStart(c: Conn, name: string, data: Buffer | null, res: SaslStep): number {
  const mech = saslOffered(name);
  if (mech === null) return fail(c, res, SaslCode.NOMECH, SaslLog.FAIL, `Couldn't find mech ${name}`);
  c.saslMech = mech;
  c.saslContext = mechNew(mech);
  if (mech === CRAM_MD5 && data !== null) {
    return fail(c, res, SaslCode.BADPROT, SaslLog.FAIL, 'Remote sent first but mech does not allow it.');
  }
  if (mech === PLAIN && data === null) return SaslCode.CONTINUE;
  const result = serverStep(c, data, res);
  return result === SaslCode.OK || result === SaslCode.CONTINUE ? result : fail(c, res, res.code, res.level, res.reason);
}

/** The mechanism's mech_new: the context its steps go on with (PLAIN's holds nothing). */
function mechNew(mech: string): SaslContext | null {
  if (isScram(mech)) return scramStart(mech);
  if (mech === CRAM_MD5) return { kind: 'cram', challenge: null };
  return mech === LOGIN ? loginStart() : null;
}

/**
 * sasl_server_step: once a SCRAM success has been sent as "continue" (Cyrus's sent_last), every step on the
 * connection succeeds, and that is all it does; after any other success (Cyrus's doneflag) every step fails;
 * otherwise the started mechanism's step, on its context. A step that fails ends the exchange: the context is
 * dropped, so a CRAM-MD5, SCRAM or LOGIN Step then has nothing to go on with, and Cyrus says nothing of it
 * (PLAIN, which keeps nothing, steps anew).
 */
function serverStep(c: Conn, data: Buffer | null, res: SaslStep): number {
  if (c.saslSentLast) return SaslCode.OK;
  if (c.saslDone) { saslFail(res, SaslCode.FAIL, SaslLog.ERR, 'attempting server step after doneflag'); return res.code; }
  if (c.saslMech === PLAIN) return saslPlain(data ?? EMPTY, res) ? done(c) : fail(c, res, res.code, res.level, res.reason);
  const x = c.saslContext;
  if (x === null) return fail(c, res, SaslCode.BADPROT, SaslLog.NONE, 'no exchange to go on with');
  if (x.kind === 'scram') return scramServerStep(c, x, data ?? EMPTY, res);
  const result = x.kind === 'login' ? loginStep(x, data ?? EMPTY, res) : cramServerStep(x, data, res);
  if (result === SaslCode.CONTINUE) return result;
  return result === SaslCode.OK ? done(c) : fail(c, res, res.code, res.level, res.reason);
}

/** CRAM-MD5: the first step (from serverStart, without data) makes the challenge, the next checks the answer. */
function cramServerStep(x: CramExchange, data: Buffer | null, res: SaslStep): number {
  if (x.challenge === null) {
    x.challenge = res.out = cramChallenge(saslSetup()?.realm ?? '');
    return SaslCode.CONTINUE;
  }
  return cramVerify(x.challenge, data ?? EMPTY, res) ? SaslCode.OK : res.code;
}

/**
 * SCRAM's step. Its success comes with data ("v=", the server's signature), which memcached's protocol has no
 * room for: Cyrus sends it as "continue" and remembers that it did (sent_last), so that the client's next,
 * empty, Step succeeds.
 */
function scramServerStep(c: Conn, x: ScramExchange, data: Buffer, res: SaslStep): number {
  const result = scramStep(x, data, res);
  if (result === SaslCode.CONTINUE) return result;
  if (result !== SaslCode.OK) return fail(c, res, res.code, res.level, res.reason);
  done(c);
  c.saslSentLast = true;
  return SaslCode.CONTINUE;
}

const isScram = (mech: string): mech is ScramMech => Object.hasOwn(SCRAM_MECHS, mech);

function done(c: Conn): number {
  c.saslDone = true;
  return SaslCode.OK;
}

/** A failure ends the exchange: Cyrus disposes the mechanism's context and clears its doneflag. Its code. */
function fail(c: Conn, res: SaslStep, code: number, level: number, reason: string): number {
  saslFail(res, code, level, reason);
  c.saslContext = null;
  c.saslDone = false;
  return code;
}

/** SASL_CONTINUE: the header and the server's data (CRAM-MD5's challenge, SCRAM's messages, LOGIN's questions), sent at once. */
function saslContinue(c: Conn, st: BinState, out: Buffer | null): void {
  addBinHeader(c, st, Status.AUTH_CONTINUE, 0, 0, out === null ? 0 : out.length, 0);
  if (out !== null) c.ctx.out.bytes(out);
  c.flushPoint();
}
