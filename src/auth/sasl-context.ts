// A connection's SASL exchange in progress: what its mechanism keeps between steps (Cyrus's conn->context),
// made by an Auth naming the mechanism (sasl_server_start) and dropped by any failure. PLAIN keeps nothing.

import type { ScramExchange } from './sasl-scram.ts';
import type { LoginExchange } from './sasl-login.ts';

/** CRAM-MD5's: the challenge its first step sent, which the answer must answer. */
export type CramExchange = { kind: 'cram'; challenge: Buffer | null };

export type SaslContext = CramExchange | ScramExchange | LoginExchange;
