// nginx (Debian's) started in the foreground for a test, in a directory of its own, on a free port: the
// tests that put nginx's memcached modules or its Lua client in front of the servers share this.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './server.ts';
import { acceptsWhileRunning, readLog } from './child.ts';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_MODULES = '/usr/lib/nginx/modules';

export type Nginx = { port: number; stop(): Promise<void> };

/**
 * A whole nginx.conf: the dynamic modules loaded, everything nginx writes kept in `dir`, and `server`'s
 * lines inside the http block's one server, which listens on `port`.
 */
export function nginxConfig(dir: string, port: number, modules: string[], http: string[], server: string[]): string {
  return [
    ...modules.map((m) => `load_module ${join(NGINX_MODULES, m)};`),
    'user root;', 'worker_processes 1;', `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} info;`, 'events { worker_connections 512; }',
    'http {', '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
    ...http.map((l) => `  ${l}`),
    `  server { listen 127.0.0.1:${port};`, ...server.map((l) => `    ${l}`), '  }', '}', ''].join('\n');
}

/** nginx in the foreground on a free port with the config `configFor(port)`, once that port accepts connections. */
export async function startNginx(dir: string, configFor: (port: number) => string): Promise<Nginx> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), configFor(port));
    const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
      { stdio: 'ignore' });
    const killOnExit = (): void => { child.kill('SIGKILL'); };
    process.on('exit', killOnExit);
    const exited = new Promise<void>((resolve) => {
      child.once('close', () => { process.off('exit', killOnExit); resolve(); });
      child.once('error', () => resolve());
    });
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGQUIT'); await exited; }
    };
    if (await acceptsWhileRunning(port, child)) return { port, stop };
    await stop();
    if (attempt === 3) throw new Error(`nginx never listened on 127.0.0.1:${port}; its log:\n${readLog(join(dir, 'error.log'))}`);
  }
}

/** nginx's error log, for a failure message. */
export function nginxLog(dir: string): string {
  return readLog(join(dir, 'error.log'));
}
