// `stats detail`: per key-prefix counts of gets, hits, sets and deletes (memcached's stats_prefix.c).
// TODO: the table is per worker thread for now, so `stats detail dump` shows the counts of the
// worker that answers it; memcached keeps one global table. A shared-memory table is the fix.

type Counts = { get: number; hit: number; set: number; del: number };

class PrefixStats {
  private enabled = false;
  private readonly table = new Map<string, Counts>();
  setEnabled(on: boolean): void { this.enabled = on; }
  isEnabled(): boolean { return this.enabled; }
  clear(): void { this.table.clear(); }
  private entry(prefix: string): Counts {
    let e = this.table.get(prefix);
    if (!e) { e = { get: 0, hit: 0, set: 0, del: 0 }; this.table.set(prefix, e); }
    return e;
  }
  recordGet(prefix: string, hit: boolean): void { const e = this.entry(prefix); e.get++; if (hit) e.hit++; }
  recordSet(prefix: string): void { this.entry(prefix).set++; }
  recordDelete(prefix: string): void { this.entry(prefix).del++; }
  dump(): string {
    let s = '';
    for (const [p, e] of [...this.table].reverse()) s += `PREFIX ${p} get ${e.get} hit ${e.hit} set ${e.set} del ${e.del}\r\n`;
    return s;
  }
}

export const prefixStats = new PrefixStats();
