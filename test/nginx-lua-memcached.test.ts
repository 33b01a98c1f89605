// OpenResty's memcached client, lua-resty-memcached (Debian's lua-nginx-memcached), unchanged, inside nginx's
// Lua module in front of Cachalot and of a real memcached: the way OpenResty and Kong applications use
// memcached. Its parser matches whole reply lines and reads values by their announced length over nginx's
// non-blocking cosockets; an error it returns is the server's reply line itself, so the transcript shows
// memcached's error strings as the application sees them. The tour (test/fixtures/lua-resty-memcached.lua)
// must read the same in front of both; then a burst of requests at once through the client's kept-alive pool.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, type ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import type { Listening } from './support/child.ts';
import { NGINX, NGINX_MODULES, nginxConfig, nginxLog, startNginx } from './support/nginx.ts';

const LUA_MODULES = ['ndk_http_module.so', 'ngx_http_lua_module.so']; // the Lua module needs the devel kit first
const CLIENT = '/usr/share/lua/5.1/nginx/memcached.lua';
const SCRIPT = join(REPO_ROOT, 'test/fixtures/lua-resty-memcached.lua');
const BURST = 200;

function config(dir: string, port: number, upstream: number): string {
  return nginxConfig(dir, port, LUA_MODULES, [], [
    `location /tour { set $memcached_port ${upstream}; default_type text/plain; content_by_lua_file ${SCRIPT}; }`]);
}

/** The tour's transcript, the burst's answers and the counter they kept, through nginx in front of a fresh server. */
async function tour(kind: ServerKind): Promise<{ lines: string[]; burst: string[]; count: string }> {
  const server = await serverFor(kind, ['-t', '2'], true);
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-nginx-lua-'));
  let nginx: Listening | null = null;
  try {
    nginx = await startNginx(dir, (port) => config(dir, port, server.port));
    const base = `http://127.0.0.1:${nginx.port}/tour`;
    const res = await fetch(base);
    const body = await res.text();
    assert.equal(res.status, 200, `the tour failed against ${kind}: ${body}\n${nginxLog(dir)}`);
    const burst = await Promise.all(Array.from({ length: BURST }, async (_, i) => (await fetch(`${base}?burst=${i}`)).text()));
    const count = await (await fetch(`${base}?count=1`)).text();
    return { lines: body.trimEnd().split('\n'), burst: burst.map((b) => b.trimEnd()), count: count.trimEnd() };
  } finally {
    await nginx?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const skip = !existsSync(NGINX) || !LUA_MODULES.every((m) => existsSync(join(NGINX_MODULES, m))) || !existsSync(CLIENT)
  ? 'nginx, libnginx-mod-http-lua or lua-nginx-memcached is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('lua-resty-memcached inside nginx sees the same results from Cachalot as from memcached', { skip }, async () => {
  const ours = await tour('cachalot');
  const theirs = await tour('memcached');
  for (let i = 0; i < Math.max(ours.lines.length, theirs.lines.length); i++) {
    assert.equal(ours.lines[i], theirs.lines[i], `line ${i + 1} of the transcript differs`);
  }
  // the script got through every call, and the calls did real work
  assert.equal(ours.lines.at(-1), '== done');
  assert.ok(ours.lines.includes('get raw all bytes -> "true"'), 'a value holding every byte and the reply framing came back whole');
  assert.ok(ours.lines.includes('cas foo stale -> "nil" "EXISTS"'), 'a stale CAS was refused');
  assert.ok(ours.lines.includes('get mb -> <1048476 bytes> "0"'), 'a value near -I 1m');
  assert.ok(ours.lines.includes('set toobig -> "nil" "SERVER_ERROR object too large for cache"'), 'the value over -I refused');
  assert.deepEqual(ours.burst, Array<string>(BURST).fill('ok'), 'every request of the burst stored, read and counted');
  assert.equal(ours.count, `get burst-count -> "${BURST}" "0"`, 'every increment of the shared counter counted');
});
