import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncTree, treeDigest } from './tree.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string | { link: string } | { dir: number }>): string {
  const root = mkdtempSync(join(tmpdir(), 'sk-tree-'));
  dirs.push(root);
  chmodSync(root, 0o755);
  for (const [p, v] of Object.entries(files)) {
    const full = join(root, p);
    if (typeof v === 'string') {
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, v);
      chmodSync(full, 0o644);
    } else if ('link' in v) symlinkSync(v.link, full);
    else {
      mkdirSync(full, { recursive: true });
      chmodSync(full, v.dir);
    }
  }
  return root;
}

describe('treeDigest', () => {
  it('is the same for the same tree and differs for any change of content, mode, link or name', () => {
    const spec = { 'etc/passwd': 'root\n', 'bin': { link: 'usr/bin' }, 'tmp': { dir: 0o1777 } };
    const a = treeDigest(tree(spec));
    assert.match(a, /^sha256:[0-9a-f]{64}$/);
    assert.equal(treeDigest(tree(spec)), a);
    assert.notEqual(treeDigest(tree({ ...spec, 'etc/passwd': 'root!\n' })), a);
    assert.notEqual(treeDigest(tree({ ...spec, bin: { link: '/usr/bin' } })), a);
    assert.notEqual(treeDigest(tree({ ...spec, tmp: { dir: 0o777 } })), a);
    assert.notEqual(treeDigest(tree({ 'etc/group': 'root\n', bin: { link: 'usr/bin' }, tmp: { dir: 0o1777 } })), a);
  });
});

describe('syncTree', () => {
  it('makes dst equal to src, replacing only what changed', () => {
    const dst = tree({ 'etc/same': 'same', 'etc/changed': 'old', 'etc/gone': 'x', 'gone-dir/f': 'x', 'was-file': 'x', 'was-dir/f': 'x', link: { link: 'a' } });
    const src = tree({ 'etc/same': 'same', 'etc/changed': 'new', 'etc/new': 'n', 'was-file/f': 'now a dir', 'was-dir': 'now a file', link: { link: 'b' } });
    const want = treeDigest(src);
    const sameIno = statSync(join(dst, 'etc/same')).ino;
    syncTree(src, dst);
    assert.equal(treeDigest(dst), want);
    assert.equal(statSync(join(dst, 'etc/same')).ino, sameIno, 'an unchanged file is left in place');
    assert.equal(readFileSync(join(dst, 'etc/changed'), 'utf8'), 'new');
    assert.equal(readFileSync(join(dst, 'was-file/f'), 'utf8'), 'now a dir');
    assert.equal(readlinkSync(join(dst, 'link')), 'b');
    assert.ok(!existsSync(join(dst, 'etc/gone')) && !existsSync(join(dst, 'gone-dir')));
  });

  it('copies a mode change of a directory', () => {
    const dst = tree({ tmp: { dir: 0o755 } });
    const src = tree({ tmp: { dir: 0o1777 } });
    syncTree(src, dst);
    assert.equal(statSync(join(dst, 'tmp')).mode & 0o7777, 0o1777);
  });
});
