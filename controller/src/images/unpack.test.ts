// Layer unpacking on real directories: what a layer keeps, how whiteouts and opaque directories
// come out, and hostile archives that must write nothing outside their directory.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { getAttributeSync, listAttributesSync } from '@napi-rs/xattr';
import { ArchiveFormatError, layerPath, UnsafeArchiveError, unpackLayer } from './unpack.js';
import { listTree, makeTar, sha256, testDir, type TarEntry } from './testutil.js';

const isRoot = process.getuid?.() === 0;

describe('unpackLayer', () => {
  let dir: string;
  let n = 0;
  before(() => {
    dir = testDir('sk-unpack-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A fresh layer directory and an "outside" directory next to it with a sentinel file. */
  function fresh(): { layer: string; outside: string } {
    const base = join(dir, String(n++));
    const layer = join(base, 'layer');
    const outside = join(base, 'outside');
    mkdirSync(layer, { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'sentinel'), 'untouched');
    return { layer, outside };
  }

  const unpack = (layer: string, entries: TarEntry[] | Buffer, o = {}) => unpackLayer(Readable.from([Buffer.isBuffer(entries) ? entries : makeTar(entries)]), layer, o);

  test('keeps files, directories, modes, owners, symlinks, hardlinks and user xattrs; whiteouts and opaque dirs in overlayfs form', { skip: !isRoot && 'needs root (owners, whiteouts, trusted xattrs)' }, async () => {
    const { layer } = fresh();
    const entries: TarEntry[] = [
      { path: './', mode: 0o755 },
      { path: 'etc/', mode: 0o755 },
      { path: 'etc/hostname', content: 'box\n' },
      { path: 'usr/bin/su', content: 'setuid', mode: 0o4755 },
      { path: 'home/me/', mode: 0o700, uid: 1000, gid: 1000 },
      { path: 'home/me/notes', content: 'mine', mode: 0o600, uid: 1000, gid: 1000, xattrs: { 'user.tag': 'blue', 'security.capability': 'x', 'trusted.overlay.origin': 'y' } },
      { path: 'bin/sh', content: '#!', mode: 0o755 },
      { path: 'bin/ash', type: 'Link', linkpath: 'bin/sh' },
      { path: 'bin/abs', type: 'SymbolicLink', linkpath: '/etc/shadow' },
      { path: 'bin/up', type: 'SymbolicLink', linkpath: '../../../../etc' },
      { path: 'var/.wh.gone' },
      { path: 'opt/.wh..wh..opq' },
      { path: 'opt/new', content: '1' },
      { path: 'dev/null', type: 'CharacterDevice', devmaj: 1, devmin: 3 },
      { path: 'dev/sda', type: 'BlockDevice', devmaj: 8, devmin: 0 },
      { path: 'run/fifo', type: 'FIFO' },
      { path: 'was-whiteout', type: 'CharacterDevice', devmaj: 0, devmin: 0 },
      { path: '.wh..wh.plnk/', mode: 0o700 },
    ];
    const r = await unpack(layer, entries);
    assert.equal(r.diffId, sha256(makeTar(entries)));
    assert.equal(r.whiteouts, 2);
    assert.equal(r.opaqueDirs, 1);
    // Left out, and their parents not made for them.
    assert.deepEqual(r.skipped, ['dev/null (character device 1:3)', 'dev/sda (block device)', 'run/fifo (FIFO)']);
    assert.equal(r.sizeBytes, 4 + 6 + 4 + 2 + 1);
    assert.deepEqual(listTree(layer), [
      'bin dir 755 0:0',
      'bin/abs link 0:0 -> /etc/shadow',
      'bin/ash file 755 0:0 2',
      'bin/sh file 755 0:0 2',
      'bin/up link 0:0 -> ../../../../etc',
      'etc dir 755 0:0',
      'etc/hostname file 644 0:0 4',
      'home dir 755 0:0',
      'home/me dir 700 1000:1000',
      'home/me/notes file 600 1000:1000 4',
      'opt dir 755 0:0',
      'opt/new file 644 0:0 1',
      'usr dir 755 0:0',
      'usr/bin dir 755 0:0',
      'usr/bin/su file 4755 0:0 6',
      'var dir 755 0:0',
      'var/gone char 0 0:0 0:0',
      'was-whiteout char 0 0:0 0:0',
    ]);
    assert.equal(statSync(join(layer, 'bin/sh')).ino, statSync(join(layer, 'bin/ash')).ino);
    assert.equal(statSync(join(layer, 'etc/hostname')).mtime.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.equal(statSync(join(layer, 'home/me')).mtime.toISOString(), '2024-01-02T03:04:05.000Z');
    assert.deepEqual(listAttributesSync(join(layer, 'home/me/notes')), ['user.tag']);
    assert.equal(String(getAttributeSync(join(layer, 'home/me/notes'), 'user.tag')), 'blue');
    assert.equal(String(getAttributeSync(join(layer, 'opt'), 'trusted.overlay.opaque')), 'y');
    assert.equal(getAttributeSync(join(layer, 'var'), 'trusted.overlay.opaque'), null);
  });

  test('gzip input; a later entry of the same path replaces the earlier one (a directory with its contents)', async () => {
    const { layer } = fresh();
    const tar = makeTar([
      { path: 'a/b/c', content: 'deep' },
      { path: 'a', content: 'now a file' },
      { path: 'x', type: 'SymbolicLink', linkpath: '/etc/passwd' },
      { path: 'x', content: 'plain' },
      { path: 'd/', mode: 0o700 },
      { path: 'd/', mode: 0o750 },
    ]);
    const r = await unpack(layer, gzipSync(tar));
    assert.equal(r.diffId, sha256(tar), 'the diff id is the uncompressed tar');
    assert.equal(readFileSync(join(layer, 'a'), 'utf8'), 'now a file');
    assert.equal(readFileSync(join(layer, 'x'), 'utf8'), 'plain');
    assert.equal(statSync(join(layer, 'd')).mode & 0o777, 0o750);
    assert.notEqual(readFileSync('/etc/passwd', 'utf8'), 'plain');
  });

  test('an empty archive is a valid (empty) layer', async () => {
    const { layer } = fresh();
    const r = await unpack(layer, Buffer.alloc(1024));
    assert.equal(r.entries, 0);
    assert.deepEqual(readdirSync(layer), []);
  });

  const hostile: [string, (outside: string) => TarEntry[], RegExp][] = [
    ['path traversal', () => [{ path: '../outside/pwned', content: 'x' }], /"\.\." in the path/],
    ['traversal inside the path', () => [{ path: 'a/../../outside/pwned', content: 'x' }], /"\.\." in the path/],
    ['absolute path', (o) => [{ path: `${o}/pwned`, content: 'x' }], /absolute path/],
    ['symlink then write through it', (o) => [{ path: 'link', type: 'SymbolicLink', linkpath: o }, { path: 'link/pwned', content: 'x' }], /parent "link" is a symlink/],
    ['relative symlink then write', () => [{ path: 'up', type: 'SymbolicLink', linkpath: '../outside' }, { path: 'up/sentinel', content: 'overwritten' }], /parent "up" is a symlink/],
    ['symlink then directory through it', (o) => [{ path: 'link', type: 'SymbolicLink', linkpath: o }, { path: 'link/sub/' }], /parent "link" is a symlink/],
    ['symlink then hardlink through it', (o) => [{ path: 'f', content: 'x' }, { path: 'link', type: 'SymbolicLink', linkpath: o }, { path: 'link/h', type: 'Link', linkpath: 'f' }], /parent "link" is a symlink/],
    ['whiteout through a symlink', (o) => [{ path: 'link', type: 'SymbolicLink', linkpath: o }, { path: 'link/.wh.sentinel' }], /parent "link" is a symlink/],
    ['opaque marker through a symlink', (o) => [{ path: 'link', type: 'SymbolicLink', linkpath: o }, { path: 'link/.wh..wh..opq' }], /parent "link" is a symlink/],
    ['hardlink to a host file by absolute path', (o) => [{ path: 'h', type: 'Link', linkpath: `${o}/sentinel` }], /absolute path/],
    ['hardlink to a host file by traversal', () => [{ path: 'h', type: 'Link', linkpath: '../outside/sentinel' }], /"\.\." in the path/],
    ['hardlink to a path not in the archive', () => [{ path: 'h', type: 'Link', linkpath: 'etc/passwd' }], /not a file extracted earlier/],
    ['hardlink through a symlink in the archive', (o) => [{ path: 'link', type: 'SymbolicLink', linkpath: o }, { path: 'h', type: 'Link', linkpath: 'link/sentinel' }], /not a file extracted earlier/],
    ['hardlink to a directory', () => [{ path: 'd/' }, { path: 'h', type: 'Link', linkpath: 'd' }], /target is a directory/],
    ['file replacing the layer root', () => [{ path: '.', content: 'x' }], /at the layer root/],
  ];
  for (const [name, entries, re] of hostile) {
    test(`refused, nothing written outside: ${name}`, async () => {
      const { layer, outside } = fresh();
      await assert.rejects(unpack(layer, entries(outside)), (e: unknown) => e instanceof UnsafeArchiveError && re.test(e.message), name);
      assert.deepEqual(readdirSync(outside), ['sentinel']);
      assert.equal(readFileSync(join(outside, 'sentinel'), 'utf8'), 'untouched');
      assert.ok(!existsSync(join(layer, '..', 'pwned')));
    });
  }

  test('a hardlink to a symlink stays a link to the symlink, never to its target', async () => {
    const { layer, outside } = fresh();
    await unpack(layer, [{ path: 'link', type: 'SymbolicLink', linkpath: join(outside, 'sentinel') }, { path: 'h', type: 'Link', linkpath: 'link' }]);
    assert.deepEqual(listTree(layer).map((l) => l.replace(/ \d+:\d+ /, ' ')), [`h link -> ${join(outside, 'sentinel')}`, `link link -> ${join(outside, 'sentinel')}`]);
    assert.equal(statSync(join(outside, 'sentinel')).nlink, 1);
  });

  test('not a tar, truncated, corrupt gzip, zstd, wrong diff id: ArchiveFormatError', async () => {
    const good = makeTar([{ path: 'f', content: 'x'.repeat(5000) }]);
    const cases: [string, Buffer, RegExp, object?][] = [
      ['garbage', Buffer.from('this is not a tar archive at all'.repeat(40)), /not a valid tar archive/],
      ['truncated', good.subarray(0, 2048), /Truncated input/],
      ['corrupt gzip', Buffer.concat([gzipSync(good).subarray(0, 30), Buffer.alloc(100, 7)]), /gzip data is corrupt/],
      ['zstd', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), /zstd-compressed; only gzip and uncompressed/],
      ['empty input', Buffer.alloc(0), /empty/],
      ['diff id', good, /rootfs\.diff_ids says sha256:0{64}/, { diffId: `sha256:${'0'.repeat(64)}` }],
    ];
    for (const [name, data, re, o] of cases) {
      const { layer } = fresh();
      await assert.rejects(unpackLayer(Readable.from(data.length ? [data] : []), layer, o ?? {}), (e: unknown) => e instanceof ArchiveFormatError && re.test(e.message), name);
    }
  });

  test('layerPath', () => {
    assert.equal(layerPath('./a//b/./c/'), 'a/b/c');
    assert.equal(layerPath('./'), '');
    assert.throws(() => layerPath('/a'), /absolute/);
    assert.throws(() => layerPath('a/..'), /"\.\."/);
    assert.throws(() => layerPath('a\0b'), /NUL/);
  });
});
