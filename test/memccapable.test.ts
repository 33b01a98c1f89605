// libmemcached's own conformance suite, memccapable (Debian's libmemcached-tools), run against
// Cachalot: every ascii test must pass. Skipped, with the reason, where the tool is not installed.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { startServer, type Server } from './support/server.ts';

function installed(tool: string): boolean {
  try { execFileSync('which', [tool], { stdio: 'ignore' }); return true; } catch { return false; }
}

const servers: Server[] = [];
after(async () => { for (const s of servers) await s.stop(); });

/** Run memccapable with the given protocol flag; its output and exit status. */
function memccapable(port: number, flag: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('memccapable', ['-h', '127.0.0.1', '-p', String(port), '-t', '5', flag]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const bound = setTimeout(() => child.kill('SIGKILL'), 60_000); // a failure bound, not a timing assertion
    child.on('exit', (code) => { clearTimeout(bound); resolve({ code, out }); });
  });
}

test('memccapable -a (ascii) passes every test', { skip: installed('memccapable') ? false : 'memccapable is not installed' }, async () => {
  const s = await startServer('cachalot', ['-t', '4']);
  servers.push(s);
  const { code, out } = await memccapable(s.port, '-a');
  assert.doesNotMatch(out, /\[fail\]/, out);
  assert.match(out, /All tests passed/, out);
  assert.equal(code, 0, out);
});
