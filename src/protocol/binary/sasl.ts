// SASL List Mechs, Auth and Step: memcached's bin_list_sasl_mechs, process_bin_sasl_auth and
// process_bin_complete_sasl_auth, with PLAIN built in (src/auth/sasl-plain.ts) where memcached calls
// Cyrus SASL. As Cyrus's, PLAIN takes its data with the Auth, or, sent without any, answers "continue"
// and takes it with the next Step; mechanism names are matched without regard to case. List Mechs
// answers the mechanisms the config offers (src/auth/sasl-conf.ts), or, when it offers none, an auth
// error as memcached's does; PLAIN is then refused too.
// The SASL data is small: it is read whole from the read buffer (bounded by MAX_SASL_DATA) instead
// of through an item as memcached does.

import type { Conn } from '../../worker/conn.ts';
import { ThreadStat } from '../../stats/thread-stats.ts';
import { saslMechs, saslPlain, saslPlainOffered } from '../../auth/sasl-plain.ts';
import { Op, Status, BinState, addBinHeader, writeBinError, writeBinResponse } from './header.ts';

/** memcached's MAX_SASL_MECH_LEN. */
const MAX_SASL_MECH_LEN = 32;
/** Larger SASL data is refused as memcached refuses data it cannot allocate (Out of memory). */
export const MAX_SASL_DATA = 4096;
const PLAIN = 'PLAIN';
const AUTHENTICATED = Buffer.from('Authenticated');

/** How many value bytes must be in the read buffer, beyond extras and key, before dispatch. */
export function saslBodyNeeded(c: Conn, opcode: number, keylen: number, extlen: number, bodylen: number): number {
  // with extras the frame is refused (a protocol error) before any data is read
  if (!c.ctx.settings.sasl || (opcode !== Op.SASL_AUTH && opcode !== Op.SASL_STEP) || extlen !== 0) return 0;
  const vlen = bodylen - keylen;
  return keylen > 0 && keylen <= MAX_SASL_MECH_LEN && vlen <= MAX_SASL_DATA ? vlen : 0;
}

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

export function processBinSaslAuth(c: Conn, st: BinState): void {
  const vlen = st.bodylen - st.keylen;
  if (!c.ctx.settings.sasl) { writeBinError(c, st, Status.UNKNOWN_COMMAND, vlen); return; }
  if (st.keylen > MAX_SASL_MECH_LEN) { writeBinError(c, st, Status.EINVAL, vlen); return; }
  if (vlen > MAX_SASL_DATA) { writeBinError(c, st, Status.ENOMEM, vlen); return; }
  const data = c.rbuf.subarray(c.rpos, c.rpos + vlen); // in the buffer: saslBodyNeeded waited for it
  c.rpos += vlen;
  c.authenticated = false;
  const mech = c.rbuf.subarray(st.keyStart, st.keyStart + st.keylen);
  if (c.ctx.verbosity() > 0) c.ctx.log(`mech:  \`\`${mech.toString('latin1')}'' with ${vlen} bytes of data`);
  const why = { reason: 'unknown mechanism' };
  let ok = false;
  if (st.cmd === Op.SASL_AUTH) {
    // sasl_server_start: an unknown mechanism fails at once; PLAIN without data continues; with data it is
    // PLAIN's step, refused after a success (Cyrus's doneflag); a failed start clears the doneflag
    const plain = mech.toString('latin1').toUpperCase() === PLAIN && saslPlainOffered();
    if (plain && vlen === 0) { saslContinue(c, st); return; }
    if (plain && c.saslDone) why.reason = 'attempting server step after doneflag';
    ok = plain && !c.saslDone && saslPlain(data, why);
    c.saslStarted = c.saslDone = ok;
  } else if (!c.saslStarted) {
    why.reason = 'SASL_STEP called but sasl_server_start not called for this connection!';
  } else if (c.saslDone) {
    why.reason = 'attempting server step after doneflag';
  } else {
    ok = c.saslDone = saslPlain(data, why);
  }
  const row = c.ctx.stats.row;
  row[ThreadStat.auth_cmds]++;
  if (ok) {
    c.authenticated = true;
    writeBinResponse(c, st, AUTHENTICATED, 0);
    return;
  }
  row[ThreadStat.auth_errors]++;
  // The reason never includes the credentials.
  if (c.ctx.verbosity() > 0) c.ctx.log(`${c.id}: SASL authentication failed: ${why.reason}`);
  writeBinError(c, st, Status.AUTH_ERROR, 0);
}

/** SASL_CONTINUE: a header with nothing more to say (PLAIN's server sends no challenge), sent at once. */
function saslContinue(c: Conn, st: BinState): void {
  c.saslStarted = true;
  addBinHeader(c, st, Status.AUTH_CONTINUE, 0, 0, 0, 0);
  c.flushPoint();
}
