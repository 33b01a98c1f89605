// ad hoc: PORT SECS VALUESIZE GETRATIO -> fill, warm, MARK, run SECS, print OPS
import { LoadRun } from './loadgen/driver.ts';
const [port, secs, vs, gr] = process.argv.slice(2).map(Number);
const keyCount = vs > 1000 ? 10000 : 100000;
const keyLetter = vs > 1000 ? 'b' : 'k';
const fill = await LoadRun.start({ port, mode: 'fill', threads: 2, conns: 10, depth: 16, getRatio: 0, keysPerGet: 1, keyCount, valueSize: vs, keyLetter, keyFirst: 0, keyEnd: keyCount });
await fill.allDone(); await fill.stop();
const run = await LoadRun.start({ port, mode: 'mix', threads: 2, conns: 50, depth: 1, getRatio: gr, keysPerGet: 1, keyCount, valueSize: vs, keyLetter });
await new Promise((r) => setTimeout(r, 3000));
run.mark();
console.log('MARK');
await new Promise((r) => setTimeout(r, secs * 1000));
const t = await run.report();
console.log('OPS', Math.round(t.ops / (t.wallMs / 1000)), 'errors', t.errors, 'hits', t.hits / t.keysAsked);
await run.stop();
process.exit(0);
