// The logger's rings without a server: what a reader sees of what writers write, its flags and gid filter, and
// what it counts lost when a ring laps it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogBuffer, LogEvent, LogFlag, LogWriter, nextGid, NSLOTS } from './logger.ts';
import { LogReader } from './reader.ts';
import { formatEntry } from './format.ts';
import { OutBuffer } from '../worker/out-buffer.ts';
import { ROW_FIELDS, ThreadStat } from '../stats/thread-stats.ts';

const key = (s: string): Buffer => Buffer.from(s, 'latin1');

function setup(nrings = 3): { buf: SharedArrayBuffer; i32: Int32Array; writers: LogWriter[]; stats: Float64Array } {
  const buf = createLogBuffer(nrings);
  const stats = new Float64Array(ROW_FIELDS);
  const writers = Array.from({ length: nrings }, (_, t) => new LogWriter(buf, t, stats));
  return { buf, i32: new Int32Array(buf), writers, stats };
}

/** Every wanted entry as its line (without ts and gid). */
function drain(reader: LogReader, i32: Int32Array, buf: SharedArrayBuffer): string[] {
  const out = new OutBuffer(() => {}, () => {});
  const u8 = new Uint8Array(buf);
  const lines: string[] = [];
  for (let w = reader.next(); w >= 0; w = reader.next()) {
    out.truncate(0);
    formatEntry(out, i32, u8, w);
    assert.ok(reader.commit());
    lines.push(out.pending().toString('latin1').replace(/^ts=\d+\.\d+ gid=\d+ /, '').trimEnd());
  }
  return lines;
}

test('logger: a reader gets the kinds it watches, ring by ring, each in memcached\'s words', () => {
  const { buf, i32, writers, stats } = setup();
  const fetchers = new LogReader(i32, 3, LogFlag.FETCHERS, nextGid(i32));
  const all = new LogReader(i32, 3, LogFlag.FETCHERS | LogFlag.MUTATIONS | LogFlag.EVICTIONS | LogFlag.CONNEVENTS, nextGid(i32));
  writers[1].cfd = 7;
  writers[1].itemGet(1, key('a b'), 0, 3, 12, 2);
  writers[2].itemStore(1, 2, key('k'), 0, 1, 3, -5, 1, 9);
  writers[1].eviction(key('~x'), 0, 2, true, 0, 100, 3, 4, 7);
  writers[2].connEvent(LogEvent.CONN_CLOSE, '127.0.0.1', 5000, 1, 2, 9);
  writers[1].itemGet(3, key('gone'), 0, 4, 0, 0);
  writers[1].itemGet(2, key('flushed'), 0, 7, 0, 0);
  assert.equal(stats[ThreadStat.log_worker_written], 6);
  assert.deepEqual(drain(fetchers, i32, buf), [
    'type=item_get key=a%20b status=found clsid=2 cfd=7 size=10',
    'type=item_get key=gone status=expired clsid=0 cfd=7 size=0',
    'type=item_get key=flushed status=flushed clsid=0 cfd=7 size=0',
  ]);
  assert.deepEqual(drain(all, i32, buf), [
    'type=item_get key=a%20b status=found clsid=2 cfd=7 size=10',
    'type=eviction key=~x fetch=yes ttl=-1 la=3 clsid=4 size=5',
    'type=item_get key=gone status=expired clsid=0 cfd=7 size=0',
    'type=item_get key=flushed status=flushed clsid=0 cfd=7 size=0',
    'type=item_store key=k status=stored cmd=set ttl=4294967291 clsid=1 cfd=9 size=1',
    'type=conn_close rip=127.0.0.1 rport=5000 transport=tcp reason=idle_timeout cfd=9',
  ]);
  assert.equal(fetchers.hasNew(), false);
  writers[0].itemGet(0, key('z'), 0, 1, 0, 0);
  assert.equal(fetchers.hasNew(), true);
  assert.deepEqual(drain(fetchers, i32, buf), ['type=item_get key=z status=not_found clsid=0 cfd=0 size=0']);
});

test('logger: a reader sees nothing written before it came, nor entries older than its gid', () => {
  const { buf, i32, writers } = setup();
  writers[1].itemGet(0, key('before'), 0, 6, 0, 0);
  // a min gid past the next entry's: as if that entry had taken its gid before the reader came, and written after
  const reader = new LogReader(i32, 3, LogFlag.FETCHERS, nextGid(i32) + 2);
  writers[1].itemGet(0, key('older'), 0, 5, 0, 0);
  writers[1].itemGet(0, key('after'), 0, 5, 0, 0);
  assert.deepEqual(drain(reader, i32, buf), ['type=item_get key=after status=not_found clsid=0 cfd=0 size=0']);
});

test('logger: a lapped reader counts what it lost of the kinds it watches, and no more', () => {
  const { buf, i32, writers } = setup(2);
  const fetchers = new LogReader(i32, 2, LogFlag.FETCHERS, nextGid(i32));
  const total = NSLOTS * 3 + 17;
  for (let i = 0; i < total; i++) {
    if (i % 3 === 0) writers[1].itemGet(1, key(`k${i}`), 0, `k${i}`.length, 3, 1);
    else writers[1].itemStore(1, 2, key(`k${i}`), 0, `k${i}`.length, 3, 0, 1, 0);
  }
  const fetches = Math.ceil(total / 3);
  const lines = drain(fetchers, i32, buf);
  const lost = fetchers.takeLost();
  assert.ok(lost > 0, 'lapped');
  assert.equal(lines.length + lost, fetches);
  assert.ok(lines.every((l) => l.startsWith('type=item_get ')));
  assert.equal(lines.at(-1), `type=item_get key=k${total - 1 - ((total - 1) % 3)} status=found clsid=1 cfd=0 size=1`);
  // caught up: nothing more, nothing lost
  assert.equal(fetchers.next(), -1);
  assert.equal(fetchers.takeLost(), 0);
});
