// The worker's read buffer: every connection's reads land here (handle-io.ts) unless a value's rest is read straight
// into its item, and the text protocol parses its lines in place. A module of its own so that a parser can hold it as
// a module const: V8 compiles a loop over such a buffer with its address and length built in (docs/architecture.md,
// "What the compiler is told"), where a buffer passed in is checked and loaded again at each loop's entry.

export const readBuffer: Buffer = Buffer.allocUnsafe(64 * 1024);
