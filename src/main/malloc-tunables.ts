// The C allocator's settings the server runs with (glibc's tunables, GLIBC_TUNABLES). glibc reads them once, at
// exec: bin/cachalot (which `npm start` runs), the tests and the bench set them before Node starts, and main.ts execs itself once more,
// early, when one is missing (a plain `node src/main.ts`) (the same pid, arguments and descriptors). A libc without them ignores them.
//
// - mmap_threshold: a reply buffer of 128 KB or more gets a mapping of its own, given back to the system when it
//   is freed. glibc's default threshold rises to the size of the last such buffer freed, and then they come from
//   the worker threads' malloc arenas, which keep freed memory: clients that never read their replies left each
//   arena at the high-water mark of its buffers (~200 MB a worker after a crowd of 950; README's Memory section).

export type Tunable = readonly [name: string, value: string];

export const MMAP_THRESHOLD: Tunable = ['glibc.malloc.mmap_threshold', String(128 * 1024)];

/** The environment with each wanted tunable added where GLIBC_TUNABLES does not name it; null when it names them all. */
export function tunablesEnv(env: NodeJS.ProcessEnv, wanted: readonly Tunable[]): NodeJS.ProcessEnv | null {
  const given = (env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t !== '');
  const missing = wanted.filter(([name]) => !given.some((t) => t.startsWith(name + '='))); // the user's say stands
  if (missing.length === 0) return null;
  return { ...env, GLIBC_TUNABLES: [...given, ...missing.map(([name, value]) => `${name}=${value}`)].join(':') };
}

/** Exec this process again with the wanted tunables; returns when they are all set, or when this Node cannot exec. */
export function reexecWithTunables(wanted: readonly Tunable[]): void {
  const env = tunablesEnv(process.env, wanted);
  if (env === null || typeof process.execve !== 'function') return;
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  } catch {
    // execve(2) failed and this process goes on unchanged, with glibc's defaults
  }
}
