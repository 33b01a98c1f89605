// The daemon leaves its directory for / (daemonChdir): the preloads its threads load must not depend on it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { absolutePreloads } from './daemon.ts';

test('absolutePreloads: relative preload paths become absolute in both forms; other flags and bare names stay', () => {
  assert.deepEqual(absolutePreloads(['--import', './src/boot/strip-once.mjs', '--require=../x.cjs', '-r', 'dotenv/config',
    '--loader', 'file:///a/b.mjs', '--max-old-space-size=64', '--import=/abs.mjs', '--cpu-prof-dir', './prof'], '/home/me/app'),
  ['--import', '/home/me/app/src/boot/strip-once.mjs', '--require=/home/me/x.cjs', '-r', 'dotenv/config',
    '--loader', 'file:///a/b.mjs', '--max-old-space-size=64', '--import=/abs.mjs', '--cpu-prof-dir', './prof']);
});
