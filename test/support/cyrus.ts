// Cyrus SASL's setup for tests that run memcached and Cachalot side by side with -S: a temp dir holding a
// sasldb made by Debian's saslpasswd2 and SASL_CONF_PATH directories with their memcached.conf, and the
// binary protocol's SASL calls.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from './client.ts';
import { memcachedAvailable, startServer, type Server, type ServerKind } from './server.ts';
import { binRequest, parseBinResponses, type BinRequest, type BinResponse } from '../../src/protocol/binary/frame.ts';
import { Op } from '../../src/protocol/binary/header.ts';

const SASLPASSWD2 = ['/usr/sbin/saslpasswd2', '/usr/bin/saslpasswd2'].find((p) => existsSync(p)) ?? null;

/** Why a side-by-side Cyrus test cannot run here, or false. */
export const cyrusSkip: string | false = SASLPASSWD2 === null ? 'saslpasswd2 is not installed (Debian: sasl2-bin)'
  : memcachedAvailable() === null ? 'memcached is not installed'
    : process.env.MEMCACHED_SASL_PWDB !== undefined ? 'MEMCACHED_SASL_PWDB is set: the servers would not use Cyrus' : false;

/** memcached's user realm: its host name (gethostname), appended to a login without "@"; saslpasswd2's default realm. */
export const REALM = hostname();

export const KINDS: ServerKind[] = ['memcached', 'cachalot'];

/** A temp dir with a sasldb in it; `remove` when done. */
export class CyrusDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'cachalot-sasl-cyrus-'));
  readonly sasldb = join(this.dir, 'sasldb2');

  /** saslpasswd2 -a memcached: add (or change) a user, or delete one (pass null), in `realm` or the default one. */
  saslpasswd2(user: string, pass: string | null, realm: string | null): void {
    const args = ['-a', 'memcached', '-f', this.sasldb, ...(realm === null ? [] : ['-u', realm])];
    const r = pass === null ? spawnSync(SASLPASSWD2!, [...args, '-d', user])
      : spawnSync(SASLPASSWD2!, [...args, '-c', '-p', user], { input: pass });
    assert.equal(r.status, 0, `saslpasswd2 ${user}: ${r.stderr}`);
  }

  /** A SASL_CONF_PATH directory with this memcached.conf. */
  confDir(name: string, conf: string): string {
    const d = join(this.dir, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'memcached.conf'), conf);
    return d;
  }

  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

/** memcached and Cachalot, in that order, started with -S on one config directory. */
export async function startBoth(conf: string, args: string[] = []): Promise<Server[]> {
  return Promise.all(KINDS.map((k) => startServer(k, ['-S', ...args], { env: { SASL_CONF_PATH: conf } })));
}

export async function readPacket(c: Client): Promise<BinResponse> {
  const h = await c.read(24);
  const body = await c.read(h.readUInt32BE(8));
  return parseBinResponses(Buffer.concat([h, body])).packets[0];
}

export async function call(c: Client, req: BinRequest): Promise<BinResponse> {
  await c.send(binRequest(req));
  return readPacket(c);
}

/** auth_cmds and auth_errors, read with a binary STAT (on a connection that may run it: authenticated). */
export async function authCounts(c: Client): Promise<number[]> {
  await c.send(binRequest({ opcode: Op.STAT }));
  const m = new Map<string, string>();
  for (let p = await readPacket(c); p.key.length > 0; p = await readPacket(c)) m.set(p.key.toString(), p.value.toString());
  return [Number(m.get('auth_cmds')), Number(m.get('auth_errors'))];
}

/** A server's -v lines of SASL: memcached's, Cyrus's messages through its sasl_log, with the connection id as "fd". */
export const saslLines = (s: Server): string[] => s.stderr().split('\n')
  .filter((l) => /^(mech: |SASL \(severity|sasl result code|Unknown sasl response|\d+: SASL_STEP)/.test(l))
  .map((l) => l.replace(/^\d+:/, 'fd:'));

const PYTHON = '/usr/bin/python3'; // Debian's, with python3-pylibmc
/** Why pylibmc (libmemcached with Cyrus's client) cannot run here, or false. */
export const noPylibmc: string | false = spawnSync(PYTHON, ['-c', 'import pylibmc'], { stdio: 'ignore' }).status !== 0
  && 'python3-pylibmc is not installed';
const PYLIBMC = `
import sys, pylibmc
c = pylibmc.Client(['127.0.0.1:' + sys.argv[1]], binary=True, username=sys.argv[2], password=sys.argv[3])
try:
    print(c.set('py', 'v'), c.get('py'))
except pylibmc.Error as e:
    print(type(e).__name__, 'AUTHENTICATION FAILURE' in str(e))
`;

/** pylibmc logs in as `user` and sets and gets a key: "True v", or "Error True" for libmemcached's AUTHENTICATION FAILURE. */
export function pylibmcLogin(port: number, user: string, pass: string): string {
  return spawnSync(PYTHON, ['-c', PYLIBMC, String(port), user, pass], { encoding: 'utf8' }).stdout.trim();
}
