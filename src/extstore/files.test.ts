// openExtstoreFiles, in process: the files extstore_init opens, made and emptied, and the lock that keeps a
// second opener out until the first descriptor is closed (two servers: test/extstore-start.test.ts).

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closeSync, fstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ExtstoreOpenError, openExtstoreFiles } from './files.ts';

const dir = mkdtempSync(join(tmpdir(), 'extstore-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const paths = (...files: string[]): Array<{ file: string; pageCount: number }> => files.map((f) => ({ file: join(dir, f), pageCount: 1 }));

function refusal(files: string[]): string {
  try {
    const fds = openExtstoreFiles(paths(...files));
    for (const fd of fds) closeSync(fd);
  } catch (err) {
    assert.ok(err instanceof ExtstoreOpenError);
    return err.why;
  }
  return assert.fail(`${files.join(', ')} opened`);
}

test('one descriptor per file, in order: each made 0644 (less the umask) or emptied, open for reading and writing', () => {
  writeFileSync(join(dir, 'old'), 'a previous start\'s pages');
  const fds = openExtstoreFiles(paths('new', 'old'));
  try {
    assert.equal(fds.length, 2);
    assert.deepEqual(fds.map((fd) => fstatSync(fd).ino), ['new', 'old'].map((f) => statSync(join(dir, f)).ino));
    assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o644 & ~process.umask());
    assert.equal(statSync(join(dir, 'old')).size, 0);
    writeSync(fds[1], 'x');
    assert.equal(readFileSync(join(dir, 'old'), 'utf8'), 'x');
  } finally { for (const fd of fds) closeSync(fd); }
});

test('a file held is refused with the error F_SETLK gives, and not emptied; free again once its holder closes it', () => {
  const [held] = openExtstoreFiles(paths('held'));
  writeSync(held, 'kept');
  assert.equal(refusal(['held']), 'Resource temporarily unavailable');
  assert.equal(refusal(['free', 'held']), 'Resource temporarily unavailable', 'after another file');
  assert.equal(readFileSync(join(dir, 'held'), 'utf8'), 'kept');
  // memcached, whose fcntl locks do not conflict with its own, takes it, and its two files' pages overlap
  assert.equal(refusal(['twice', 'twice']), 'Resource temporarily unavailable', 'one file named twice');
  closeSync(held);
  const [again] = openExtstoreFiles(paths('held'));
  assert.equal(statSync(join(dir, 'held')).size, 0);
  closeSync(again);
});

test('a file that cannot be opened or emptied: strerror\'s words, for perror', () => {
  assert.equal(refusal(['none/x']), 'No such file or directory');
  mkdirSync(join(dir, 'sub'));
  assert.equal(refusal(['sub']), 'Is a directory');
  assert.throws(() => openExtstoreFiles([{ file: '/dev/null', pageCount: 1 }]), (e) => e instanceof ExtstoreOpenError && e.why === 'Invalid argument');
});

// memcached's lock, fcntl(F_SETLK) F_WRLCK on all of the file, taken by perl: it prints "held" (or the errno
// it failed with) and keeps the lock until its input ends.
const POSIX_LOCK = "open(my $fd, '+<', $ARGV[0]) or die; $| = 1; " +
  "my $lock = pack('s s x4 q q l x4', 1, 0, 0, 0, 0); fcntl($fd, 6, $lock) or do { print $! + 0; exit }; print 'held'; <STDIN>;";

/** A process holding memcached's kind of lock on file, until release() (or its failure's errno, as a string). */
async function posixLockHolder(file: string): Promise<{ said: string; release: () => Promise<void> }> {
  const perl = spawn('perl', ['-e', POSIX_LOCK, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(perl, 'exit');
  const [said] = await once(perl.stdout, 'data') as [Buffer];
  return { said: said.toString(), release: async () => { perl.stdin.end(); await exited; } };
}

test('the lock is one memcached\'s fcntl lock sees, and sees memcached\'s: each refused while the other holds it', async () => {
  const file = join(dir, 'shared');
  const [ours] = openExtstoreFiles(paths('shared'));
  const refused = await posixLockHolder(file);
  await refused.release();
  assert.equal(refused.said, '11', 'memcached\'s F_SETLK on a file we hold: EAGAIN');
  closeSync(ours);

  const theirs = await posixLockHolder(file);
  try {
    assert.equal(theirs.said, 'held');
    writeFileSync(file, 'the other server\'s pages');
    assert.equal(refusal(['shared']), 'Resource temporarily unavailable');
    assert.equal(readFileSync(file, 'utf8'), 'the other server\'s pages', 'not emptied');
  } finally { await theirs.release(); }
  const [free] = openExtstoreFiles(paths('shared'));
  closeSync(free);
});
