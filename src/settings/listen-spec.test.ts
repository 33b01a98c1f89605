// -l entries as memcached's server_sockets reads them (test/tls.test.ts starts servers with them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListenSpecs } from './listen-spec.ts';
import { defaultSettings } from './settings.ts';

function specs(listen: string[], tls = false): ReturnType<typeof parseListenSpecs> {
  const s = defaultSettings();
  s.listen = listen;
  s.tls.enabled = tls;
  return parseListenSpecs(s);
}

const one = (entry: string, tls = false): unknown => {
  const r = specs([entry], tls);
  return 'error' in r ? r.error : r.specs.map(({ host, port, tls: t, protocol }) => ({ host, port, tls: t, protocol }))[0];
};

test('hosts, ports and every interface', () => {
  assert.deepEqual(one('127.0.0.1'), { host: '127.0.0.1', port: null, tls: false, protocol: null });
  assert.deepEqual(one('127.0.0.1:11300'), { host: '127.0.0.1', port: 11300, tls: false, protocol: null });
  assert.deepEqual(one('[::1]:11300'), { host: '::1', port: 11300, tls: false, protocol: null });
  assert.deepEqual(one('::1'), { host: '::1', port: null, tls: false, protocol: null }, 'a bare IPv6 address has no port');
  assert.deepEqual(one('*:11300'), { host: null, port: 11300, tls: false, protocol: null });
});

test('prefixes: notls (with -Z only), proto[...] by prefix as strncmp compares, tag[...]', () => {
  assert.deepEqual(one('127.0.0.1', true), { host: '127.0.0.1', port: null, tls: true, protocol: null });
  assert.deepEqual(one('notls:127.0.0.1:1', true), { host: '127.0.0.1', port: 1, tls: false, protocol: null });
  assert.equal(one('notls:127.0.0.1'), "'notls' option is valid only when SSL is enabled\n");
  assert.deepEqual(one('proto[bin]:127.0.0.1'), { host: '127.0.0.1', port: null, tls: false, protocol: 'binary' });
  assert.deepEqual(one('proto[negotiating]:tag[web]:127.0.0.1:5'), { host: '127.0.0.1', port: 5, tls: false, protocol: 'auto' });
  assert.equal(one('proto[proxy]:127.0.0.1'), 'Server not built with proxy: "proto[proxy]:127.0.0.1"\n');
  assert.equal(one('proto[ascii:127.0.0.1'), 'Invalid protocol spec: "[ascii:127.0.0.1"\n');
  assert.equal(one('tag[]:127.0.0.1'), 'Listener tags must be between 1 and 8 characters: ""\n');
});

test('bad ports and brackets; entries split on , and ;', () => {
  assert.equal(one('127.0.0.1:x'), 'Invalid port number: "x"\n');
  assert.equal(one('[::1'), 'Invalid IPV6 address: "[::1"', 'memcached prints no newline after this one');
  const r = specs(['127.0.0.1;127.0.0.2,,127.0.0.3']);
  assert.deepEqual('specs' in r ? r.specs.map((x) => x.host) : r, ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
});
