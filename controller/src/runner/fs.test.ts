// File operations through a standalone runner whose fs root is a temp directory: every path
// must resolve inside it, whatever `..` and symlinks say.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { RunnerError, type RunnerClient } from './index.js';
import { startRunner, type StandaloneRunner } from './testing.js';

const isCode = (code: string) => (e: unknown) => e instanceof RunnerError && e.code === code;

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live (collected) array-buffer memory of this process: what it really holds. */
function liveBuffers(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** VmHWM (peak resident set) of a process, in bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('fs operations', { timeout: 20_000 }, () => {
  let r: StandaloneRunner;
  let c: RunnerClient;
  let root: string;
  before(async () => {
    r = await startRunner();
    c = r.client;
    root = r.fsRoot;
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/passwd'), 'sandbox-passwd\n');
    writeFileSync(join(root, 'etc/hostname'), 'sandbox-host\n');
    mkdirSync(join(root, 'a/b/c'), { recursive: true });
  });
  after(async () => {
    await r.stop();
  });

  test('write and read back random binary data, with offsets and lengths', async () => {
    const data = randomBytes(300_001);
    assert.deepEqual(await c.writeFile('/data.bin', data), { bytes: data.length });
    assert.equal(Buffer.compare(readFileSync(join(root, 'data.bin')), data), 0);
    assert.equal(Buffer.compare(await c.readFileBuffer('/data.bin'), data), 0);
    assert.equal(Buffer.compare(await c.readFileBuffer('data.bin', { offset: 70_000, length: 100_000 }), data.subarray(70_000, 170_000)), 0);
    assert.equal((await c.readFileBuffer('/data.bin', { offset: 300_000 })).length, 1);
    assert.equal((await c.readFileBuffer('/data.bin', { offset: 400_000 })).length, 0);
    const { info, stream } = await c.openRead('/data.bin');
    assert.equal(info.size, data.length);
    assert.equal(info.type, 'file');
    stream.destroy();
  });

  test('write: append, exact mode, exclusive, parents, from an async stream', async () => {
    await c.writeFile('/log.txt', 'one\n');
    await c.writeFile('/log.txt', 'two\n', { append: true });
    assert.equal(readFileSync(join(root, 'log.txt'), 'utf8'), 'one\ntwo\n');
    await c.writeFile('/log.txt', 'three\n');
    assert.equal(readFileSync(join(root, 'log.txt'), 'utf8'), 'three\n');
    await c.writeFile('/secret', 'x', { mode: 0o600 });
    assert.equal(statSync(join(root, 'secret')).mode & 0o7777, 0o600);
    await c.writeFile('/run.sh', 'x', { mode: 0o4755 });
    assert.equal(statSync(join(root, 'run.sh')).mode & 0o7777, 0o4755);
    await assert.rejects(c.writeFile('/secret', 'y', { exclusive: true }), isCode('EEXIST'));
    await assert.rejects(c.writeFile('/new/dir/file', 'z'), isCode('ENOENT'));
    await c.writeFile('/new/dir/file', 'z', { mkdirParents: true });
    assert.equal(readFileSync(join(root, 'new/dir/file'), 'utf8'), 'z');
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 5; i++) {
        await new Promise((res) => setTimeout(res, 5));
        yield Buffer.from(`chunk${i};`);
      }
    }
    assert.deepEqual(await c.writeFile('/gen.txt', gen()), { bytes: 35 });
    assert.equal(readFileSync(join(root, 'gen.txt'), 'utf8'), 'chunk0;chunk1;chunk2;chunk3;chunk4;');
  });

  test('a failing upload source rejects with its error; the connection stays usable', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('partial');
      throw new Error('source broke');
    }
    await assert.rejects(c.writeFile('/broken.txt', broken()), /source broke/);
    assert.equal((await c.stat('/broken.txt')).type, 'file');
    assert.equal((await c.info()).pid, 1);
  });

  test('stat and list: types, sizes, modes, symlink targets', async () => {
    symlinkSync('etc/passwd', join(root, 'link'));
    const st = await c.stat('/link');
    assert.equal(st.type, 'symlink');
    assert.equal(st.target, 'etc/passwd');
    const dir = await c.stat('/a');
    assert.equal(dir.type, 'dir');
    assert.equal(dir.name, 'a');
    assert.equal((await c.stat('/')).type, 'dir');
    const entries = await c.list('/');
    const names = entries.map((e) => e.name);
    assert.deepEqual(names, [...names].sort());
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('a')?.type, 'dir');
    assert.equal(byName.get('link')?.type, 'symlink');
    assert.equal(byName.get('link')?.target, 'etc/passwd');
    assert.equal(byName.get('secret')?.mode, 0o600);
    assert.equal(byName.get('data.bin')?.size, 300_001);
    assert.ok(Math.abs(byName.get('data.bin')!.mtimeMs - statSync(join(root, 'data.bin')).mtimeMs) < 1);
    await assert.rejects(c.list('/etc/passwd'), isCode('ENOTDIR'));
    await assert.rejects(c.stat('/missing'), isCode('ENOENT'));
  });

  test('list streams big directories', async () => {
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < 3000; i++) writeFileSync(join(root, 'many', `file-with-a-longish-name-${String(i).padStart(5, '0')}`), '');
    const entries = await c.list('/many');
    assert.equal(entries.length, 3000);
    assert.equal(entries[0]!.name, 'file-with-a-longish-name-00000');
    await c.remove('/many', { recursive: true });
  });

  test('non-UTF-8 names round-trip as raw bytes', async () => {
    const name = Buffer.from([0x6e, 0xff, 0x80, 0x2e, 0x74]); // "n\xff\x80.t"
    const path = Buffer.concat([Buffer.from('/'), name]);
    await c.writeFile(path, 'bytes');
    const entry = (await c.list('/')).find((e) => e.rawName?.equals(name));
    assert.ok(entry, 'listed with its raw name');
    assert.equal(entry.name, 'n\ufffd\ufffd.t');
    assert.equal((await c.readFileBuffer(Buffer.concat([Buffer.from('/'), entry.rawName!]))).toString(), 'bytes');
    await c.rename(path, '/renamed-utf8-é');
    assert.equal((await c.stat('/renamed-utf8-é')).name, 'renamed-utf8-é');
    await c.remove('/renamed-utf8-é');
  });

  test('error messages carry non-UTF-8 paths intact', async () => {
    const path = Buffer.concat([Buffer.from('/missing-'), Buffer.from([0xff])]);
    await assert.rejects(c.stat(path), (e: unknown) => e instanceof RunnerError && e.code === 'ENOENT' && e.message.includes('/missing-\ufffd'));
    await assert.rejects(c.stat(''), (e: unknown) => e instanceof RunnerError && e.code === 'BAD_REQUEST');
  });

  test('mkdir, rename, remove', async () => {
    assert.deepEqual(await c.mkdir('/m'), { created: true });
    await assert.rejects(c.mkdir('/m'), isCode('EEXIST'));
    assert.deepEqual(await c.mkdir('/m', { parents: true }), { created: false });
    await c.mkdir('/m/x/y/z', { parents: true, mode: 0o700 });
    assert.equal(statSync(join(root, 'm/x/y/z')).mode & 0o777, 0o700);
    await assert.rejects(c.mkdir('/etc/passwd/sub', { parents: true }), isCode('ENOTDIR'));
    await c.writeFile('/m/x/f', 'f');
    await c.rename('/m/x/f', '/m/g');
    assert.equal(readFileSync(join(root, 'm/g'), 'utf8'), 'f');
    await c.writeFile('/m/h', 'h');
    await assert.rejects(c.rename('/m/g', '/m/h', { noReplace: true }), isCode('EEXIST'));
    await c.rename('/m/g', '/m/new/place/g', { mkdirParents: true });
    await assert.rejects(c.remove('/m'), isCode('ENOTEMPTY'));
    await assert.rejects(c.remove('/'), isCode('EINVAL'));
    await assert.rejects(c.remove('/m/..'), isCode('EINVAL'));
    await assert.rejects(c.remove('/nope'), isCode('ENOENT'));
    await c.remove('/m', { recursive: true });
    await assert.rejects(c.stat('/m'), isCode('ENOENT'));
  });

  test('read errors: directory, missing, not a regular file', async () => {
    await assert.rejects(c.readFileBuffer('/a'), isCode('EISDIR'));
    await assert.rejects(c.openRead('/missing'), isCode('ENOENT'));
    await assert.rejects(c.readFileBuffer('/missing'), isCode('ENOENT'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [join(root, 'fifo')]);
    await assert.rejects(c.readFileBuffer('/fifo'), (e: unknown) => isCode('EINVAL')(e) && /not a regular file \(fifo\)/.test((e as Error).message));
    await assert.rejects(c.writeFile('/fifo', 'x'), (e: unknown) => e instanceof RunnerError && ['ENXIO', 'EINVAL'].includes(e.code));
    await assert.rejects(c.writeFile('/a', 'x'), isCode('EISDIR'));
  });

  test('`..` never leaves the root', async () => {
    for (const p of ['../../etc/passwd', '/a/b/c/../../../../../../etc/passwd', 'a/b/../../../etc/passwd', '/../etc/passwd']) {
      assert.equal((await c.readFileBuffer(p)).toString(), 'sandbox-passwd\n', p);
    }
    await c.writeFile('/a/b/../../../../../escape.txt', 'contained');
    assert.equal(readFileSync(join(root, 'escape.txt'), 'utf8'), 'contained');
    assert.equal((await c.mkdir('/../../mk-escape', { parents: true })).created, true);
    assert.equal(statSync(join(root, 'mk-escape')).isDirectory(), true);
  });

  test('symlinks to /, .. and absolute host paths resolve inside the root', async () => {
    symlinkSync('/', join(root, 'a/to-root'));
    symlinkSync('../../../..', join(root, 'a/b/to-dots'));
    symlinkSync('/etc/hostname', join(root, 'a/abs-host'));
    symlinkSync('/etc', join(root, 'a/abs-dir'));
    assert.equal((await c.readFileBuffer('/a/to-root/etc/passwd')).toString(), 'sandbox-passwd\n');
    assert.equal((await c.readFileBuffer('/a/b/to-dots/etc/passwd')).toString(), 'sandbox-passwd\n');
    assert.equal((await c.readFileBuffer('/a/abs-host')).toString(), 'sandbox-host\n');
    assert.equal((await c.readFileBuffer('/a/abs-dir/passwd')).toString(), 'sandbox-passwd\n');
    const hostTarget = '/etc/sk-should-never-exist';
    await c.writeFile('/a/abs-dir/sk-should-never-exist', 'inside');
    assert.equal(readFileSync(join(root, 'etc/sk-should-never-exist'), 'utf8'), 'inside');
    assert.throws(() => statSync(hostTarget));
    const listed = (await c.list('/a/to-root')).map((e) => e.name);
    assert.ok(listed.includes('data.bin'), 'the root listed is the fs root');
    // A dangling link to a host path creates the file inside the root.
    mkdirSync(join(root, 'tmp'));
    symlinkSync('/tmp/sk-dangling-host-target', join(root, 'dangling'));
    await c.writeFile('/dangling', 'in root');
    assert.equal(readFileSync(join(root, 'tmp/sk-dangling-host-target'), 'utf8'), 'in root');
    assert.throws(() => statSync('/tmp/sk-dangling-host-target'));
  });

  test('recursive remove deletes links, never what they point to', async () => {
    mkdirSync(join(root, 'keep'));
    writeFileSync(join(root, 'keep/precious'), 'keep me');
    mkdirSync(join(root, 'tree/deep/er'), { recursive: true });
    writeFileSync(join(root, 'tree/deep/er/f'), '');
    symlinkSync('/keep', join(root, 'tree/deep/link-abs'));
    symlinkSync('../../keep', join(root, 'tree/deep/link-rel'));
    await c.remove('/tree', { recursive: true });
    assert.throws(() => statSync(join(root, 'tree')));
    assert.equal(readFileSync(join(root, 'keep/precious'), 'utf8'), 'keep me');
    // removing a symlink to a directory removes the link
    symlinkSync('/keep', join(root, 'keep-link'));
    await c.remove('/keep-link', { recursive: true });
    assert.throws(() => readlinkSync(join(root, 'keep-link')));
    assert.equal(readFileSync(join(root, 'keep/precious'), 'utf8'), 'keep me');
  });

  test('50 MiB streamed both ways with bounded memory in runner and client', async () => {
    const SIZE = 50 * 1024 * 1024;
    const CHUNK = 1 << 20;
    const seed = randomBytes(CHUNK);
    const upHash = createHash('sha256');
    // Holding the file would take 50 MiB; chunks and socket buffers in flight take a few.
    const bound = 16 * 1024 * 1024;
    let base = liveBuffers();
    let peak = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let off = 0; off < SIZE; off += CHUNK) {
        const b = Buffer.from(seed);
        b.writeUInt32LE(off, 0); // every chunk differs
        upHash.update(b);
        if (off % (4 * CHUNK) === 0) peak = Math.max(peak, liveBuffers() - base);
        yield b;
      }
    }
    const runnerPid = Number(readFileSync(`/proc/${r.child.pid}/task/${r.child.pid}/children`, 'utf8').trim());
    assert.deepEqual(await c.writeFile('/big.bin', source()), { bytes: SIZE });
    assert.equal(statSync(join(root, 'big.bin')).size, SIZE);
    assert.ok(peak < bound, `upload: the client held ${(peak / 1048576).toFixed(1)} MiB at its peak`);
    base = liveBuffers();
    peak = 0;
    const downHash = createHash('sha256');
    let n = 0;
    for await (const chunk of c.readFile('/big.bin')) {
      downHash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
      if (n % (4 * CHUNK) < (chunk as Buffer).length) peak = Math.max(peak, liveBuffers() - base);
    }
    assert.equal(n, SIZE);
    assert.equal(downHash.digest('hex'), upHash.digest('hex'));
    assert.ok(peak < bound, `download: the client held ${(peak / 1048576).toFixed(1)} MiB at its peak`);
    const rss = peakRss(runnerPid);
    assert.ok(rss < 16 * 1024 * 1024, `runner peak RSS ${(rss / 1048576).toFixed(1)} MiB`);
    await c.remove('/big.bin');
  });

  test('a slow reader holds the runner back instead of filling its memory', async () => {
    writeFileSync(join(root, 'slow.bin'), Buffer.alloc(8 << 20, 7));
    const runnerPid = Number(readFileSync(`/proc/${r.child.pid}/task/${r.child.pid}/children`, 'utf8').trim());
    const stream = c.readFile('/slow.bin');
    let got = 0;
    for await (const chunk of stream) {
      got += (chunk as Buffer).length;
      await new Promise((res) => setTimeout(res, 2));
    }
    assert.equal(got, 8 << 20);
    assert.ok(peakRss(runnerPid) < 16 * 1024 * 1024);
    // an early stop (destroying the stream) leaves the runner fine
    const early = c.readFile('/slow.bin');
    for await (const _ of early) break;
    assert.equal((await c.info()).pid, 1);
  });

  test('reads can be cancelled with an AbortSignal', async () => {
    const ac = new AbortController();
    const { stream } = await c.openRead('/data.bin', { signal: ac.signal });
    ac.abort();
    let n = 0;
    for await (const chunk of stream) n += (chunk as Buffer).length;
    assert.ok(n <= 300_001);
    assert.equal((await c.stat('/data.bin')).size, 300_001);
  });
});
