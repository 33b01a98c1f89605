// What the main thread asks of one load-generator thread, and what the thread reports back.

export type LoadMode =
  | 'mix'    // random keys in [0, keyCount), gets (of keysPerGet keys) and sets by getRatio
  | 'fill'   // every key in [keyFirst, keyEnd) set once, in order, then 'done'
  | 'churn'; // connect, one get, close, over and over

export type Job = {
  port: number;
  mode: LoadMode;
  conns: number;       // connections (churn: connections open at once)
  depth: number;       // requests in flight per connection (1 = no pipelining)
  getRatio: number;    // 0..1
  keysPerGet: number;  // 1 = single get; more = multi-get
  keyCount: number;
  keyFirst: number;
  keyEnd: number;
  keyLetter: string;
  valueSize: number;
  seed: number;
};

export type ToWorker = { type: 'mark' } | { type: 'report' } | { type: 'stop' };

export type Counters = {
  ops: number;          // replies received since the mark
  keysAsked: number;    // keys asked for by gets since the mark
  hits: number;         // VALUE lines since the mark
  errors: number;       // error replies, socket errors, failed connects
  notStored: number;
  lastError: string;
  elapsedMs: number;    // since the mark
  histogram: Float64Array; // latencies in µs since the mark
};

export type FromWorker =
  | { type: 'ready' }
  | { type: 'done' }
  | { type: 'report'; counters: Counters }
  | { type: 'stopped' }
  | { type: 'error'; message: string };
