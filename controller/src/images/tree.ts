// Directory trees as image content: a digest over names, types, modes, owners and contents, and
// an in-place sync that replaces each changed entry with one rename.

import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, chmodSync, lchownSync, type Stats } from 'node:fs';
import { join } from 'node:path';

type Kind = 'dir' | 'file' | 'link' | 'other';

function kind(st: Stats): Kind {
  return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
}

/**
 * sha256 over every entry below root (sorted): path, type, permission bits, owner, and the file's
 * content or the link's target. Times are left out, so regenerating the same tree gives the same digest.
 */
export function treeDigest(root: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(p);
      const k = kind(st);
      const body =
        k === 'file' ? createHash('sha256').update(readFileSync(p)).digest('hex') : k === 'link' ? readlinkSync(p) : k === 'other' ? String(st.rdev) : '';
      h.update(`${JSON.stringify(r)} ${k} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${JSON.stringify(body)}\n`);
      if (k === 'dir') walk(p, r);
    }
  };
  const top = lstatSync(root);
  h.update(`. dir ${(top.mode & 0o7777).toString(8)} ${top.uid}:${top.gid}\n`);
  walk(root, '');
  return `sha256:${h.digest('hex')}`;
}

function sameEntry(a: string, sa: Stats, b: string, sb: Stats): boolean {
  const k = kind(sa);
  if (k !== kind(sb) || (sa.mode & 0o7777) !== (sb.mode & 0o7777) || sa.uid !== sb.uid || sa.gid !== sb.gid) return false;
  if (k === 'link') return readlinkSync(a) === readlinkSync(b);
  if (k === 'file') return sa.size === sb.size && readFileSync(a).equals(readFileSync(b));
  return k !== 'other' || sa.rdev === sb.rdev;
}

/**
 * Makes dst look like src by moving src's entries into it (both on one filesystem; src is used
 * up). Unchanged entries are left alone; a changed file or link is replaced by one rename, so a
 * reader sees the old or the new one, never a half-written file; entries src lacks are removed.
 */
export function syncTree(src: string, dst: string): void {
  const ss = lstatSync(src);
  const ds = lstatSync(dst);
  if ((ss.mode & 0o7777) !== (ds.mode & 0o7777)) chmodSync(dst, ss.mode & 0o7777);
  if (ss.uid !== ds.uid || ss.gid !== ds.gid) lchownSync(dst, ss.uid, ss.gid);
  const names = new Set(readdirSync(src));
  for (const name of readdirSync(dst)) if (!names.has(name)) rmSync(join(dst, name), { recursive: true, force: true });
  for (const name of [...names].sort()) {
    const s = join(src, name);
    const d = join(dst, name);
    const st = lstatSync(s);
    let dt: Stats | undefined;
    try {
      dt = lstatSync(d);
    } catch {
      dt = undefined;
    }
    if (dt && st.isDirectory() !== dt.isDirectory()) {
      rmSync(d, { recursive: true, force: true });
      dt = undefined;
    }
    if (st.isDirectory() && dt) syncTree(s, d);
    else if (!dt || !sameEntry(s, st, d, dt)) renameSync(s, d);
  }
}
