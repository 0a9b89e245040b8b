// Tar upload and download of directories through …/fs?format=tar, against a real runner: what GNU
// tar makes extracts, what it reads back matches, and hostile archives leave nothing outside.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Header, type HeaderData } from 'tar';
import { entryPath } from './tar.js';
import { isRoot, json, startHarness, type Harness } from './testutil.js';

/** A tar made entry by entry (for archives GNU tar would refuse to make). */
function makeTar(entries: (HeaderData & { data?: string })[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const block = Buffer.alloc(512);
    new Header({ mode: 0o644, mtime: new Date(), uid: 0, gid: 0, type: 'File', ...e, size: e.type === undefined || e.type === 'File' ? data.length : 0 }).encode(block, 0);
    parts.push(block);
    if (data.length > 0) parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function gnuTar(args: string[], input?: Buffer): Buffer {
  const r = spawnSync('tar', args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

describe('entryPath', () => {
  test('leading slashes and . dropped, .. refused', () => {
    assert.deepEqual(entryPath('a/b.txt'), { rel: 'a/b.txt' });
    assert.deepEqual(entryPath('./a//b/./c'), { rel: 'a/b/c' });
    assert.deepEqual(entryPath('/etc/passwd'), { rel: 'etc/passwd' });
    assert.deepEqual(entryPath('./'), { rel: '' });
    assert.deepEqual(entryPath('../x'), { reason: 'path contains ".."' });
    assert.deepEqual(entryPath('a/../../x'), { reason: 'path contains ".."' });
    assert.deepEqual(entryPath('a/..'), { reason: 'path contains ".."' });
    assert.deepEqual(entryPath('a/..b'), { rel: 'a/..b' });
  });
});

describe('tar through the fs subresource', { skip: !isRoot && 'needs root (the runner runs in its own namespaces)', timeout: 60_000 }, () => {
  let h: Harness;
  let root: string;
  let src: string;
  const fs = (query: Record<string, string>) => h.sub('s', 'fs', query);
  const put = (path: string, body: Buffer, headers: Record<string, string> = {}) =>
    h.fetch(fs({ path, format: 'tar' }), { method: 'PUT', body, headers: { 'content-type': 'application/x-tar', ...headers } });
  before(async () => {
    h = await startHarness({ config: { max_upload_bytes: 4 * 1024 * 1024 } });
    root = h.runner.fsRoot;
    await h.session('s');
    src = mkdtempSync(join(tmpdir(), 'sk-tar-src-'));
    mkdirSync(join(src, 'proj/src/deep/er'), { recursive: true });
    writeFileSync(join(src, 'proj/README.md'), '# hello\n');
    writeFileSync(join(src, 'proj/src/main.py'), 'print("hi")\n');
    chmodSync(join(src, 'proj/src/main.py'), 0o755);
    writeFileSync(join(src, 'proj/src/deep/er/data.bin'), Buffer.from([0, 1, 2, 255, 254]));
    writeFileSync(join(src, 'proj/empty'), '');
    writeFileSync(join(src, 'proj/src/deep/er/big.txt'), 'x'.repeat(200_000));
  });
  after(async () => {
    await h?.close();
    if (src) rmSync(src, { recursive: true, force: true });
  });

  test('upload: a directory tree from GNU tar appears, modes kept', async () => {
    const archive = gnuTar(['-C', src, '-cf', '-', 'proj']);
    const r = await put('/workspace/up', archive);
    const b = await json(r);
    assert.equal(r.status, 200, b.message);
    assert.deepEqual(b, { path: '/workspace/up', files: 5, directories: 4, bytes: 200_000 + 8 + 12 + 5, skipped: [] });
    const dest = join(root, 'workspace/up/proj');
    assert.equal(readFileSync(join(dest, 'README.md'), 'utf8'), '# hello\n');
    assert.equal(readFileSync(join(dest, 'src/main.py'), 'utf8'), 'print("hi")\n');
    assert.equal(statSync(join(dest, 'src/main.py')).mode & 0o777, 0o755);
    assert.deepEqual(readFileSync(join(dest, 'src/deep/er/data.bin')), Buffer.from([0, 1, 2, 255, 254]));
    assert.equal(statSync(join(dest, 'empty')).size, 0);
    assert.equal(readFileSync(join(dest, 'src/deep/er/big.txt'), 'utf8').length, 200_000);
  });

  test('upload: gzip-compressed archives and format=tar without the content type', async () => {
    const archive = gnuTar(['-C', src, '-czf', '-', 'proj/README.md']);
    const r = await h.fetch(fs({ path: '/gz', format: 'tar' }), { method: 'PUT', body: archive });
    assert.equal(r.status, 200);
    assert.equal(readFileSync(join(root, 'gz/proj/README.md'), 'utf8'), '# hello\n');
  });

  test('hostile archives: .. refused, absolute paths kept inside, links and devices skipped with warnings', async () => {
    const archive = makeTar([
      { path: '../evil.txt', data: 'evil' },
      { path: 'a/../../evil2.txt', data: 'evil' },
      { path: '/abs.txt', data: 'abs' },
      { path: 'lnk', type: 'SymbolicLink', linkpath: '/' },
      { path: 'lnk/through.txt', data: 'through' },
      { path: 'hard', type: 'Link', linkpath: '/etc/shadow' },
      { path: 'null', type: 'CharacterDevice', devmaj: 1, devmin: 3 },
      { path: 'fifo', type: 'FIFO' },
      { path: 'ok.txt', data: 'ok', mode: 0o4755 },
    ]);
    mkdirSync(join(root, 'box'), { recursive: true });
    const r = await put('/box/x', archive);
    const b = await json(r);
    assert.equal(r.status, 200, b.message);
    assert.equal(b.files, 3);
    assert.deepEqual(
      b.skipped.map((s: { path: string }) => s.path),
      ['../evil.txt', 'a/../../evil2.txt', 'lnk', 'hard', 'null', 'fifo'],
    );
    assert.match(b.skipped[2].reason, /symlinks are not extracted/);
    const warnings = r.headers.get('warning') ?? '';
    assert.match(warnings, /skipped \.\.\/evil\.txt: path contains/);
    assert.equal(existsSync(join(root, 'box/evil.txt')), false);
    assert.equal(existsSync(join(root, 'evil.txt')), false);
    assert.equal(existsSync(join(root, '../evil.txt')), false);
    assert.equal(existsSync(join(root, 'box/evil2.txt')), false);
    assert.equal(readFileSync(join(root, 'box/x/abs.txt'), 'utf8'), 'abs');
    assert.equal(existsSync('/abs.txt'), false);
    // The symlink was not made, so the next entry is an ordinary directory, not a way out.
    assert.ok(lstatSync(join(root, 'box/x/lnk')).isDirectory());
    assert.equal(readFileSync(join(root, 'box/x/lnk/through.txt'), 'utf8'), 'through');
    assert.equal(existsSync(join(root, 'box/x/null')), false);
    assert.equal(existsSync(join(root, 'box/x/fifo')), false);
    assert.equal(statSync(join(root, 'box/x/ok.txt')).mode & 0o7777, 0o755, 'setuid dropped');
  });

  test('download: GNU tar reads back the same tree, with symlinks and long names', async () => {
    const base = join(root, 'dl');
    const longName = `${'n'.repeat(120)}/${'m'.repeat(120)}.txt`;
    mkdirSync(join(base, 'n'.repeat(120)), { recursive: true });
    writeFileSync(join(base, longName), 'long');
    mkdirSync(join(base, 'sub/inner'), { recursive: true });
    writeFileSync(join(base, 'sub/inner/f.bin'), Buffer.from([1, 2, 3, 0, 255]));
    writeFileSync(join(base, 'top.txt'), 'top\n');
    chmodSync(join(base, 'top.txt'), 0o640);
    writeFileSync(join(base, 'empty'), '');
    symlinkSync('sub/inner/f.bin', join(base, 'link'));
    const r = await h.fetch(fs({ path: '/dl', format: 'tar' }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/x-tar');
    assert.match(r.headers.get('content-disposition') ?? '', /filename="dl\.tar"/);
    const archive = Buffer.from(await r.arrayBuffer());
    assert.equal(archive.length % 512, 0);
    const list = gnuTar(['-tf', '-'], archive).toString().trim().split('\n').sort();
    assert.deepEqual(list, ['empty', 'link', `${'n'.repeat(120)}/`, longName, 'sub/', 'sub/inner/', 'sub/inner/f.bin', 'top.txt'].sort());
    const out = mkdtempSync(join(tmpdir(), 'sk-tar-out-'));
    try {
      gnuTar(['-C', out, '-xf', '-'], archive);
      assert.equal(readFileSync(join(out, longName), 'utf8'), 'long');
      assert.deepEqual(readFileSync(join(out, 'sub/inner/f.bin')), Buffer.from([1, 2, 3, 0, 255]));
      assert.equal(readFileSync(join(out, 'top.txt'), 'utf8'), 'top\n');
      assert.equal(statSync(join(out, 'top.txt')).mode & 0o777, 0o640);
      assert.equal(statSync(join(out, 'empty')).size, 0);
      assert.equal(readlinkSync(join(out, 'link')), 'sub/inner/f.bin');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    // And back in: a round trip through the API.
    const up = await put('/dl-copy', archive);
    assert.equal(up.status, 200);
    assert.equal(readFileSync(join(root, 'dl-copy', longName), 'utf8'), 'long');
    assert.deepEqual(readFileSync(join(root, 'dl-copy/sub/inner/f.bin')), Buffer.from([1, 2, 3, 0, 255]));
  });

  test('errors: not a directory, missing, broken archives, too much data', async () => {
    writeFileSync(join(root, 'plain'), 'x');
    let r = await h.fetch(fs({ path: '/plain', format: 'tar' }));
    assert.equal(r.status, 400);
    assert.match((await json(r)).message, /tar \/plain: .*Not a directory/);
    r = await h.fetch(fs({ path: '/missing-dir', format: 'tar' }));
    assert.equal(r.status, 404);
    await r.text();
    r = await put('/t1', Buffer.from('this is not a tar archive at all, just some text that goes on'.repeat(20)));
    assert.equal(r.status, 400);
    assert.match((await json(r)).message, /not a valid tar archive/);
    r = await put('/t2', Buffer.alloc(0));
    assert.equal(r.status, 400);
    await r.text();
    const truncated = makeTar([{ path: 'a.txt', data: 'y'.repeat(5000) }]).subarray(0, 2048);
    r = await put('/t3', truncated);
    assert.equal(r.status, 400);
    assert.match((await json(r)).message, /Truncated/);
    r = await put('/plain', makeTar([{ path: 'a.txt', data: 'a' }]));
    assert.ok(r.status === 409 || r.status === 400, String(r.status));
    await r.text();
    // 8 MiB of a repeated pattern compress ~150:1: within the body limit, over the extracted-bytes limit.
    const pattern = randomBytes(200).toString('hex');
    const big = gzipSync(makeTar([{ path: 'big', data: pattern.repeat(Math.ceil((8 * 1024 * 1024) / pattern.length)) }]));
    assert.ok(big.length < 1024 * 1024);
    r = await put('/t4', big);
    let st = await json(r);
    assert.equal(r.status, 413);
    assert.equal(st.reason, 'RequestEntityTooLarge');
    assert.match(st.message, /more than 4194304 bytes of files/);
    assert.equal(existsSync(join(root, 't4/big')), false, 'the file over the limit was not started');
    // Zeros compress past tar's 1000:1 guard.
    r = await put('/t4', gzipSync(makeTar([{ path: 'zeros', data: '\0'.repeat(8 * 1024 * 1024) }])));
    st = await json(r);
    assert.equal(r.status, 413);
    assert.match(st.message, /expands too much/);
    r = await h.fetch(fs({ path: '/t5', format: 'tar', mode: '0644' }), { method: 'PUT', body: makeTar([]) });
    assert.equal(r.status, 400);
    await r.text();
  });
});
