// nginx (Debian's 1.22) in front of Cachalot and in front of a real memcached, unchanged: the way many sites
// serve pages from memcached. Two of nginx's modules speak to the server, each with a reply parser of its own:
// the core memcached module (`memcached_pass`: a get per request, the value as the page, 404 on a miss) and
// the memc module (libnginx-mod-http-memc: every storage, counter, delete, flush_all, version and stats
// command, over a pool of kept-alive upstream connections). One transcript of HTTP requests, with each
// answer's status and body, must read the same through both; then many requests at once through the pool.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerKind } from './support/server.ts';
import { kindsFor, serverFor } from './support/spec.ts';
import type { Listening } from './support/child.ts';
import { NGINX, NGINX_MODULES, nginxConfig, startNginx } from './support/nginx.ts';

const MEMC_MODULE = 'ngx_http_memc_module.so';

function config(dir: string, port: number, upstream: number): string {
  const memc = ['set $memc_cmd $arg_cmd;', 'set $memc_key $arg_key;', 'set $memc_value $arg_val;',
    'set $memc_flags $arg_flags;', 'set $memc_exptime $arg_exptime;', 'memc_pass backend;'].join(' ');
  return nginxConfig(dir, port, [MEMC_MODULE], [`upstream backend { server 127.0.0.1:${upstream}; keepalive 8; }`], [
    `location /page { set $memcached_key $arg_key; memcached_pass 127.0.0.1:${upstream}; default_type text/plain; }`,
    `location /memc { ${memc} }`]);
}

const LONG_KEY = 'k'.repeat(251);

/** Each request's path, as a client of the site would ask it. */
const TOUR = [
  '/memc?cmd=flush_all', '/memc?cmd=set&key=foo&val=bar', '/memc?cmd=get&key=foo', '/page?key=foo',
  '/page?key=missing', '/memc?cmd=get&key=missing', '/memc?cmd=add&key=foo&val=x',
  '/memc?cmd=add&key=new&val=x&flags=5&exptime=100', '/memc?cmd=get&key=new', '/memc?cmd=replace&key=missing&val=x',
  '/memc?cmd=replace&key=new&val=y', '/memc?cmd=append&key=foo&val=!', '/memc?cmd=prepend&key=foo&val=%3C', '/page?key=foo',
  '/memc?cmd=set&key=n&val=10', '/memc?cmd=incr&key=n&val=5', '/memc?cmd=decr&key=n&val=100',
  '/memc?cmd=incr&key=missing&val=1', '/memc?cmd=incr&key=foo&val=1', '/memc?cmd=incr&key=n&val=18446744073709551615',
  '/memc?cmd=delete&key=foo', '/memc?cmd=delete&key=foo', `/memc?cmd=set&key=${LONG_KEY}&val=x`, `/page?key=${LONG_KEY}`,
  '/memc?cmd=set&key=bad%20key&val=x', '/page?key=bad%20key', '/memc?cmd=set&key=f&val=x&flags=4294967296',
  '/memc?cmd=get&key=f', '/memc?cmd=set&key=big&val=' + 'v'.repeat(3000), '/page?key=big', '/memc?cmd=version',
  '/memc?cmd=flush_all&exptime=0', '/memc?cmd=get&key=n', '/page?key=new',
];

/** The tour through nginx in front of a fresh server of this kind: a line per request, status and body. */
async function tour(kind: ServerKind): Promise<{ lines: string[]; concurrent: string[] }> {
  const server = await serverFor(kind, ['-t', '2'], true);
  const dir = mkdtempSync(join(tmpdir(), 'cachalot-nginx-'));
  let nginx: Listening | null = null;
  try {
    nginx = await startNginx(dir, (port) => config(dir, port, server.port));
    const base = `http://127.0.0.1:${nginx.port}`;
    const lines: string[] = [];
    for (const path of TOUR) {
      const res = await fetch(base + path);
      const body = (await res.text()).replace(/\r\n/g, '~');
      lines.push(`${path.slice(0, 60)} -> ${res.status} ${body.length > 200 ? `<${body.length} bytes>` : body}`);
    }
    await fetch(`${base}/memc?cmd=set&key=shared&val=page`);
    // a burst of gets at once: nginx spreads them over new and kept-alive upstream connections
    const concurrent = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
      const res = await fetch(`${base}/${i % 2 === 0 ? 'page' : 'memc'}?${i % 2 === 0 ? '' : 'cmd=get&'}key=shared`);
      return `${res.status} ${await res.text()}`;
    }));
    return { lines, concurrent };
  } finally {
    await nginx?.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const skip = !existsSync(NGINX) || !existsSync(join(NGINX_MODULES, MEMC_MODULE)) ? 'nginx or libnginx-mod-http-memc is not installed'
  : kindsFor().length !== 2 ? 'memcached is not installed' : false;

test('nginx\'s memcached and memc modules see the same answers from Cachalot as from memcached', { skip }, async () => {
  const ours = await tour('cachalot');
  const theirs = await tour('memcached');
  for (let i = 0; i < Math.max(ours.lines.length, theirs.lines.length); i++) {
    assert.equal(ours.lines[i], theirs.lines[i], `request ${i + 1} of the tour`);
  }
  assert.ok(ours.lines.includes('/page?key=foo -> 200 %3Cbar!'), 'a page stored, appended and prepended, served by memcached_pass');
  assert.ok(ours.lines.includes('/memc?cmd=incr&key=n&val=5 -> 201 15~'), 'memc: a counter');
  assert.ok(ours.lines.some((l) => l.startsWith('/page?key=missing -> 404 ')), 'a miss is nginx\'s 404');
  assert.ok(ours.lines.includes('/page?key=big -> 200 <3000 bytes>'), 'a 3000-byte page');
  assert.deepEqual(ours.concurrent, Array<string>(200).fill('200 page'), 'every one of the burst answered');
});
