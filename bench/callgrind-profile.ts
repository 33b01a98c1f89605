// A callgrind dump read into self costs per function: the event counts callgrind writes against each function,
// less the inclusive costs of its calls (a `calls=` line's next cost line). Code V8 compiled has no symbol, and
// callgrind's functions follow calls: code entered by a jump (a builtin's tail call into the JavaScript function it
// calls, as Call_ReceiverIsAny enters the read callback) is counted to the function that jumped. So with
// --dump-instr=yes each cost line of that code is named by its own address instead, in the code ranges of Node's
// --perf-basic-prof map (/tmp/perf-<pid>.map).

export type FunctionCosts = {
  events: string[];        // Ir, and with --cache-sim I1mr, D1mr ... in callgrind's order
  total: number[];
  byGroup: Array<[string, number[]]>;    // 'JIT code' or the object's file name, most instructions first
  byFunction: Array<[string, number[]]>; // most instructions first
};

export function functionCosts(dump: string, perfMap: string | null): FunctionCosts {
  const jit = perfMap === null ? null : new JitNames(perfMap);
  const names = { ob: new Map<string, string>(), fn: new Map<string, string>() };
  const self = new Map<string, { group: string; cost: number[] }>();
  let events: string[] = ['Ir'];
  let positions = 1, byAddress = false, addr = 0;
  let ob = '?', fn = '?', skipNext = false;
  for (const line of dump.split('\n')) {
    if (line.startsWith('events:')) { events = line.slice(7).trim().split(/\s+/); continue; }
    if (line.startsWith('positions:')) {
      const kinds = line.slice(10).trim().split(/\s+/);
      positions = kinds.length;
      byAddress = kinds[0] === 'instr';
      continue;
    }
    if (line.startsWith('ob=')) { ob = compressed(names.ob, line.slice(3)); continue; }
    if (line.startsWith('cob=')) { compressed(names.ob, line.slice(4)); continue; }
    if (line.startsWith('fn=')) { fn = compressed(names.fn, line.slice(3)); continue; }
    if (line.startsWith('cfn=')) { compressed(names.fn, line.slice(4)); continue; }
    if (line.startsWith('calls=')) { skipNext = true; continue; }
    if (!/^[0-9+\-*]/.test(line)) continue;
    const fields = line.trim().split(/\s+/);
    if (byAddress) addr = position(fields[0], addr);
    if (skipNext) { skipNext = false; continue; } // the call's inclusive cost: the callee's, not this function's
    const jitFn = byAddress && ob === '???' ? jit?.at(addr) ?? null : null;
    const key = `${ob}\0${jitFn ?? fn}`;
    let entry = self.get(key);
    if (entry === undefined) {
      // code with no file behind it is what V8 generated: its compilers' output and its builtins
      entry = { group: ob === '???' ? 'JIT code' : ob.split('/').pop()!, cost: new Array(events.length).fill(0) };
      self.set(key, entry);
    }
    for (let i = 0; i < events.length; i++) entry.cost[i] += Number(fields[i + positions] ?? 0);
  }
  const total = new Array(events.length).fill(0);
  const groups = new Map<string, number[]>(), functions = new Map<string, number[]>();
  for (const [key, { group, cost }] of self) {
    const fnName = key.slice(key.indexOf('\0') + 1);
    add(groups, group, cost);
    add(functions, jitName(jit, fnName) ?? fnName, cost);
    for (let i = 0; i < cost.length; i++) total[i] += cost[i];
  }
  return { events, total, byGroup: byCost(groups), byFunction: byCost(functions) };
}

/** Several threads' costs as one: events, totals, objects and functions added up. */
export function mergeCosts(parts: FunctionCosts[]): FunctionCosts {
  const events = parts[0]?.events ?? ['Ir'];
  const total = new Array(events.length).fill(0);
  const groups = new Map<string, number[]>(), functions = new Map<string, number[]>();
  for (const part of parts) {
    for (let i = 0; i < events.length; i++) total[i] += part.total[i];
    for (const [name, cost] of part.byGroup) add(groups, name, cost);
    for (const [name, cost] of part.byFunction) add(functions, name, cost);
  }
  return { events, total, byGroup: byCost(groups), byFunction: byCost(functions) };
}

const byCost = (m: Map<string, number[]>): Array<[string, number[]]> => [...m].sort((a, b) => b[1][0] - a[1][0]);

/** A cost line's instruction address: absolute ("0x7f3a..."), or relative to the last line's ("+12", "-3", "*"). */
function position(field: string, last: number): number {
  if (field.startsWith('0x')) return parseInt(field, 16);
  if (field === '*') return last;
  return last + parseInt(field, field.startsWith('+0x') || field.startsWith('-0x') ? 16 : 10);
}

/** callgrind's name compression: "(12) name" defines 12, "(12)" uses it. */
function compressed(table: Map<string, string>, s: string): string {
  const m = /^\((\d+)\)(?: (.*))?$/.exec(s);
  if (m === null) return s;
  if (m[2] !== undefined) { table.set(m[1], m[2]); return m[2]; }
  return table.get(m[1]) ?? s;
}

function add(m: Map<string, number[]>, key: string, cost: number[]): void {
  const sum = m.get(key);
  if (sum === undefined) m.set(key, [...cost]);
  else for (let i = 0; i < cost.length; i++) sum[i] += cost[i];
}

function jitName(jit: JitNames | null, fn: string): string | null {
  const m = /^0x([0-9a-f]+)/.exec(fn);
  return jit === null || m === null ? null : jit.at(parseInt(m[1], 16));
}

/** The perf map's code ranges ("<start> <size> <name>" in hex), sorted for lookup. */
class JitNames {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly names: string[] = [];

  constructor(map: string) {
    const rows: Array<[number, number, string]> = [];
    for (const line of map.split('\n')) {
      const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
      if (m !== null) rows.push([parseInt(m[1], 16), parseInt(m[2], 16), m[3]]);
    }
    rows.sort((a, b) => a[0] - b[0]);
    for (const [start, size, name] of rows) { this.starts.push(start); this.ends.push(start + size); this.names.push(name); }
  }

  /** The code object holding addr (the last one that started at or before it), or null. */
  at(addr: number): string | null {
    let lo = 0, hi = this.starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= addr) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found >= 0 && addr < this.ends[found] ? this.names[found] : null;
  }
}
