// V8's inlining budgets, raised before any worker thread compiles its request path. TurboFan inlines a callee only
// while it stays under three budgets of bytecode: the callee's own size, what the function has inlined so far, and the
// function's whole size. With V8's defaults (460, 920 and 4600 bytes) the request path's larger steps (the state
// machine's drive, a get's lookupKeys) stop inlining part way, and every call left pays its frame, its argument checks
// and the loss of what the compiler knew across it. Under callgrind, workload 1's compiled code ran 11% fewer
// instructions a request with the budgets below (bench/RESULTS.md, round 55).
//
// V8's flags are the process's: set here, in the main thread, before it starts a worker, they hold for every thread.
// Node keeps the flags open to change after start (v8.setFlagsFromString); these are read when a function is
// compiled, so nothing compiled before them depends on the old values.

import { setFlagsFromString } from 'node:v8';

const INLINING_FLAGS = [
  '--max-inlined-bytecode-size=2000',
  '--max-inlined-bytecode-size-cumulative=6000',
  '--max-inlined-bytecode-size-absolute=12000',
] as const;

for (const flag of INLINING_FLAGS) setFlagsFromString(flag);
