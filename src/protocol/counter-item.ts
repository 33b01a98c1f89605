// A counter created on a miss: the item binary Increment/Decrement makes from its initial value (memcached's
// complete_incr_bin) and ma makes from J when N asks for it (process_marithmetic_command), both as memcached writes
// it: the number's decimal digits and "\r\n", client flags 0. Storing it stays with each: binary's is an add that
// takes the item lock (store_item), ma's is done under the lock its lookup already holds (do_store_item).

import type { Store } from '../store/store.ts';

/** The new counter's item, holding `value` (decimal digits), with our reference; 0 when it cannot be allocated. */
export function newCounterItem(st: Store, buf: Uint8Array, ks: number, nkey: number, exptimeRel: number, value: string): number {
  const it = st.itemAlloc(buf, ks, nkey, 0, exptimeRel, value.length + 2);
  if (it === 0) return 0;
  const bytes = Buffer.from(value + '\r\n', 'latin1'); // a miss that creates: not the hot path
  st.itemWriteValue(it, 0, bytes, 0, bytes.length);
  return it;
}
