// Latency histogram, log-linear like HdrHistogram: exact below 64 µs, then 32 buckets per power of
// two (about 3% wide), so a percentile costs one pass over ~900 counters and recording costs a clz.
// Values are whole microseconds. Histograms from several worker threads merge by adding counters.

const EXACT = 64;
const SUB_BITS = 5; // 32 sub-buckets per power of two
const SUB = 1 << SUB_BITS;
export const HISTOGRAM_BUCKETS = (31 - SUB_BITS) * SUB + 2 * SUB;

export function bucketOf(us: number): number {
  const v = us < 0 ? 0 : us > 0x7fffffff ? 0x7fffffff : us | 0;
  if (v < EXACT) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS; // >= 1 here
  return shift * SUB + (v >>> shift);
}

/** The smallest value that lands in bucket i. */
export function bucketLow(i: number): number {
  if (i < EXACT) return i;
  const shift = Math.floor(i / SUB) - 1;
  return (SUB + (i % SUB)) * 2 ** shift;
}

/** A representative value of bucket i: its middle. */
export function bucketMid(i: number): number {
  if (i < EXACT) return i;
  return (bucketLow(i) + bucketLow(i + 1)) / 2;
}

export function newHistogram(): Float64Array {
  return new Float64Array(HISTOGRAM_BUCKETS);
}

export function record(h: Float64Array, us: number, count = 1): void {
  h[bucketOf(us)] += count;
}

export function mergeInto(into: Float64Array, from: Float64Array): void {
  for (let i = 0; i < into.length; i++) into[i] += from[i];
}

export function totalCount(h: Float64Array): number {
  let n = 0;
  for (let i = 0; i < h.length; i++) n += h[i];
  return n;
}

/** The value at quantile q (0..1), NaN when the histogram is empty. */
export function percentile(h: Float64Array, q: number): number {
  const total = totalCount(h);
  if (total === 0) return NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i];
    if (seen >= rank) return bucketMid(i);
  }
  return bucketMid(h.length - 1);
}
