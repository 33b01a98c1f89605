// nginx (Debian's) started in the foreground for a test, in a directory of its own, on a free port: the
// tests that put nginx's memcached modules or its Lua client in front of the servers share this.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLog, startListening, type Listening } from './child.ts';

export const NGINX = '/usr/sbin/nginx';
export const NGINX_MODULES = '/usr/lib/nginx/modules';

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
export function startNginx(dir: string, configFor: (port: number) => string): Promise<Listening> {
  const conf = join(dir, 'nginx.conf'), log = join(dir, 'error.log');
  return startListening('nginx', {
    command(port) {
      writeFileSync(conf, configFor(port));
      return [NGINX, ['-p', dir, '-c', conf, '-e', log, '-g', 'daemon off;']];
    },
    log, stopSignal: 'SIGQUIT', // its graceful stop
  });
}

/** nginx's error log, for a failure message. */
export function nginxLog(dir: string): string {
  return readLog(join(dir, 'error.log'));
}
