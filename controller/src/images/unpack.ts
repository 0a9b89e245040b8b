// Unpacks one image layer (a tar stream, gzip or plain) into a fresh directory, as an overlayfs
// lower layer: OCI whiteouts (`.wh.NAME`) become overlayfs whiteouts (a 0/0 character device),
// opaque markers (`.wh..wh..opq`) the trusted.overlay.opaque xattr on their directory. Owners,
// modes, times, hardlinks, symlinks and user.* xattrs are kept.
//
// Nothing is ever written outside the directory. The archive is parsed with the `tar` package and
// every filesystem change is made here, against an in-memory map of what this extraction has
// created: a path is accepted only when each of its parents is a directory this archive made (or
// an implicit one), so absolute paths, `..`, a write through a symlink the archive planted
// (symlink-then-write), and hardlinks to anything not extracted before are refused — the whole
// layer fails. Symlink targets are stored, never followed. Device nodes other than whiteouts and
// FIFOs are left out (sandboxes get their /dev from the runtime).
//
// xattrs other than user.* are dropped: trusted.* and security.* from an archive could steer
// overlayfs or the LSM, and file capabilities (security.capability) are inert in sandboxes, which
// run with no_new_privs.

import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, chown, link, lchown, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { setAttribute } from '@napi-rs/xattr';
import { Parser, type ReadEntry } from 'tar';

export class UnsafeArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

/** A layer that is not a tar archive this code can read (corrupt, truncated, unsupported compression). */
export class ArchiveFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveFormatError';
  }
}

export interface UnpackOptions {
  /** Expected sha256 of the uncompressed tar (the config's diff_id); checked before success. */
  diffId?: string;
  /** For messages: "layer sha256:…". */
  what?: string;
  signal?: AbortSignal;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar stream. */
  diffId: string;
  /** Bytes of regular file content written. */
  sizeBytes: number;
  entries: number;
  whiteouts: number;
  opaqueDirs: number;
  /** Entries left out on purpose, e.g. "dev/sda (block device)", at most 20 named. */
  skipped: string[];
}

type Kind = 'dir' | 'file' | 'symlink';

const isRoot = process.getuid?.() === 0;
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/**
 * A tar path as a relative path inside the layer ('' is the layer's root), or UnsafeArchiveError.
 * "./a/b", "a//b/" and "a/./b" are fine; "/a", "../a", "a/../b" are not.
 */
export function layerPath(raw: string, what = 'entry'): string {
  if (raw.includes('\0')) throw new UnsafeArchiveError(`${what} ${JSON.stringify(raw)}: NUL in the path`);
  if (raw.startsWith('/')) throw new UnsafeArchiveError(`${what} ${JSON.stringify(raw)}: absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeArchiveError(`${what} ${JSON.stringify(raw)}: ".." in the path`);
  return parts.join('/');
}

const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const baseOf = (p: string) => p.slice(p.lastIndexOf('/') + 1);

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime?: Date;
}

/** Extraction of one archive into one directory; see unpackLayer. */
class Extraction {
  readonly tree = new Map<string, Kind>([['', 'dir']]);
  readonly dirMeta = new Map<string, DirMeta>();
  readonly whiteouts = new Set<string>();
  readonly opaque = new Set<string>();
  readonly skipped: string[] = [];
  sizeBytes = 0;
  entries = 0;
  /** xattrs from the pax header of the next entry. */
  pendingXattrs: [string, string][] = [];
  /** Rejects when the extraction is abandoned midway: an entry whose data stops coming ends with it. */
  readonly abandoned: Promise<never>;
  abandon: (e: Error) => void = () => {};

  constructor(readonly root: string) {
    this.abandoned = new Promise<never>((_, reject) => (this.abandon = reject));
    this.abandoned.catch(() => {});
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  skip(what: string): void {
    if (this.skipped.length < 20) this.skipped.push(what);
  }

  /** Makes sure every parent of `rel` is a directory of this layer, creating missing ones. */
  async parents(rel: string): Promise<void> {
    const parts = rel.split('/');
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      cur = cur ? `${cur}/${parts[i]}` : parts[i]!;
      const k = this.tree.get(cur);
      if (k === 'dir') continue;
      if (k !== undefined) throw new UnsafeArchiveError(`entry ${JSON.stringify(rel)}: its parent ${JSON.stringify(cur)} is a ${k === 'symlink' ? 'symlink' : 'file'} in this archive (a write through it is refused)`);
      await mkdir(this.abs(cur), { mode: 0o755 });
      await chmod(this.abs(cur), 0o755);
      this.tree.set(cur, 'dir');
    }
  }

  /** Clears `rel` for a new entry (a later entry of the same path replaces the earlier one). */
  async clear(rel: string, keepDir: boolean): Promise<void> {
    const k = this.tree.get(rel);
    if (k === undefined || (k === 'dir' && keepDir)) return;
    if (rel === '') throw new UnsafeArchiveError('an entry replaces the layer root with a non-directory');
    await rm(this.abs(rel), { recursive: true, force: true });
    this.tree.delete(rel);
    if (k === 'dir') {
      const prefix = `${rel}/`;
      for (const p of [...this.tree.keys()]) if (p.startsWith(prefix)) this.tree.delete(p);
      for (const p of [...this.dirMeta.keys()]) if (p.startsWith(prefix)) this.dirMeta.delete(p);
    }
  }

  async owner(path: string, uid: number, gid: number, isLink = false): Promise<void> {
    if (!isRoot) return;
    await (isLink ? lchown(path, uid, gid) : chown(path, uid, gid));
  }

  async entry(e: ReadEntry, xattrs: [string, string][]): Promise<void> {
    const rel = layerPath(e.path);
    this.entries++;
    const name = baseOf(rel);
    if (name.startsWith(WHITEOUT)) {
      e.resume();
      await this.parents(rel);
      const dir = parentOf(rel);
      if (name === OPAQUE) this.opaque.add(dir);
      else if (!name.startsWith(`${WHITEOUT}${WHITEOUT}`)) {
        const target = name.slice(WHITEOUT.length);
        if (target === '' || target === '.' || target === '..') throw new UnsafeArchiveError(`whiteout ${JSON.stringify(e.path)} names no file`);
        this.whiteouts.add(dir ? `${dir}/${target}` : target);
      } // other .wh..wh.* names are aufs bookkeeping, meaningless here
      return;
    }
    const uid = e.uid ?? 0;
    const gid = e.gid ?? 0;
    const mode = (e.mode ?? 0o644) & 0o7777;
    const p = this.abs(rel);
    switch (e.type) {
      case 'Directory': {
        if (rel !== '') await this.parents(rel);
        await this.clear(rel, true);
        if (!this.tree.has(rel)) {
          await mkdir(p, { mode: 0o700 });
          this.tree.set(rel, 'dir');
        }
        this.dirMeta.set(rel, { mode: mode || 0o755, uid, gid, ...(e.mtime && { mtime: e.mtime }) });
        e.resume();
        await this.xattrs(p, xattrs);
        return;
      }
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        if (rel === '') throw new UnsafeArchiveError(`entry ${JSON.stringify(e.path)}: a file at the layer root`);
        await this.parents(rel);
        await this.clear(rel, false);
        // O_EXCL|O_NOFOLLOW: the name was just cleared; nothing may have appeared there since.
        const fh = await open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        this.tree.set(rel, 'file');
        try {
          const it = (e as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
          for (;;) {
            const next = await Promise.race([it.next(), this.abandoned]);
            if (next.done) break;
            const chunk = next.value;
            let off = 0;
            while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
            this.sizeBytes += chunk.length;
          }
          if (isRoot) await fh.chown(uid, gid);
          await fh.chmod(mode); // after chown, which clears setuid bits
          if (e.mtime) await fh.utimes(e.atime ?? e.mtime, e.mtime);
        } finally {
          await fh.close();
        }
        await this.xattrs(p, xattrs);
        return;
      }
      case 'SymbolicLink': {
        if (rel === '') throw new UnsafeArchiveError(`entry ${JSON.stringify(e.path)}: a symlink at the layer root`);
        if (!e.linkpath) throw new UnsafeArchiveError(`symlink ${JSON.stringify(e.path)} has no target`);
        await this.parents(rel);
        await this.clear(rel, false);
        await symlink(e.linkpath, p);
        this.tree.set(rel, 'symlink');
        await this.owner(p, uid, gid, true);
        if (e.mtime) await lutimes(p, e.atime ?? e.mtime, e.mtime);
        e.resume();
        return;
      }
      case 'Link': {
        if (rel === '') throw new UnsafeArchiveError(`entry ${JSON.stringify(e.path)}: a hardlink at the layer root`);
        const target = layerPath(e.linkpath ?? '', `hardlink ${JSON.stringify(e.path)} →`);
        const tk = this.tree.get(target);
        if (tk === undefined || target === '') {
          throw new UnsafeArchiveError(`hardlink ${JSON.stringify(e.path)} → ${JSON.stringify(e.linkpath)}: the target is not a file extracted earlier from this archive`);
        }
        if (tk === 'dir') throw new UnsafeArchiveError(`hardlink ${JSON.stringify(e.path)} → ${JSON.stringify(e.linkpath)}: the target is a directory`);
        await this.parents(rel);
        if (target === rel) return void e.resume();
        await this.clear(rel, false);
        // link(2) does not follow a symlink target: a hardlink to a symlink stays a symlink.
        await link(this.abs(target), p);
        this.tree.set(rel, tk);
        e.resume();
        return;
      }
      case 'CharacterDevice':
        if (e.header.devmaj === 0 && e.header.devmin === 0) {
          // Already in overlayfs form.
          await this.parents(rel);
          this.whiteouts.add(rel);
        } else this.skip(`${rel} (character device ${e.header.devmaj}:${e.header.devmin})`);
        e.resume();
        return;
      case 'BlockDevice':
        this.skip(`${rel} (block device)`);
        e.resume();
        return;
      case 'FIFO':
        this.skip(`${rel} (FIFO)`);
        e.resume();
        return;
      default:
        this.skip(`${rel} (${e.type})`);
        e.resume();
    }
  }

  async xattrs(path: string, list: [string, string][]): Promise<void> {
    for (const [k, v] of list) {
      if (k.startsWith('user.')) await setAttribute(path, k, v);
    }
  }

  /** Whiteouts, opaque markers, then directory owners, modes and times (deepest first). */
  async finish(): Promise<void> {
    const wh = [...this.whiteouts].filter((w) => !this.tree.has(w));
    for (const w of wh) {
      const k = this.tree.get(parentOf(w));
      if (k !== 'dir') throw new UnsafeArchiveError(`whiteout ${JSON.stringify(w)}: its parent is not a directory of this layer`);
    }
    await mknodWhiteouts(wh.map((w) => this.abs(w)));
    for (const d of this.opaque) {
      if (this.tree.get(d) !== 'dir') throw new UnsafeArchiveError(`opaque marker in ${JSON.stringify(d)}: not a directory of this layer`);
      await setAttribute(this.abs(d), 'trusted.overlay.opaque', 'y');
    }
    const dirs = [...this.tree].filter(([, k]) => k === 'dir').map(([p]) => p).sort((a, b) => b.split('/').length - a.split('/').length);
    for (const d of dirs) {
      const m = this.dirMeta.get(d) ?? { mode: 0o755, uid: 0, gid: 0 };
      const p = this.abs(d);
      await this.owner(p, m.uid, m.gid);
      await chmod(p, m.mode);
      if (m.mtime) await utimes(p, m.mtime, m.mtime);
    }
  }
}

/** Makes 0/0 character devices (overlayfs whiteouts); Node has no mknod, coreutils does. */
async function mknodWhiteouts(paths: string[]): Promise<void> {
  for (let i = 0; i < paths.length; i += 500) {
    const batch = paths.slice(i, i + 500);
    await new Promise<void>((resolve, reject) => {
      const p = spawn('/bin/sh', ['-c', 'for p do mknod -m 000 -- "$p" c 0 0 || exit 1; done', 'sh', ...batch], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (c: Buffer) => (err += c.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mknod (overlayfs whiteouts): ${err.trim() || `exit ${code}`}`))));
    });
  }
}

/** user.* xattrs of a pax extended header (SCHILY.xattr.KEY=VALUE records). */
function paxXattrs(meta: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of meta.split('\n')) {
    const m = /^\d+ SCHILY\.xattr\.([^=]+)=(.*)$/s.exec(line);
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

function isAllZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Unpacks the tar stream `input` (gzip-compressed or plain, told apart by its first bytes;
 * zstd is refused by name) into the existing empty directory `dir`. On any failure the caller
 * removes `dir`: nothing was written anywhere else.
 */
export async function unpackLayer(input: Readable | AsyncIterable<Buffer>, dir: string, o: UnpackOptions = {}): Promise<UnpackResult> {
  const what = o.what ?? 'layer';
  const x = new Extraction(dir);
  const hash = createHash('sha256');
  let failure: Error | undefined;
  let sawData = false;
  let onlyZeros = true;
  let chain: Promise<void> = Promise.resolve();
  const parser = new Parser({
    onReadEntry: (e: ReadEntry) => {
      // 'meta' and 'entry' arrive in archive order: these are the entry's own pax xattrs.
      const xattrs = x.pendingXattrs;
      x.pendingXattrs = [];
      chain = chain.then(async () => {
        if (failure) return void e.resume();
        try {
          await x.entry(e, xattrs);
        } catch (err) {
          failure ??= err as Error;
          e.resume();
        }
      });
    },
  });
  parser.on('meta', (m: string) => {
    x.pendingXattrs = paxXattrs(m);
  });
  parser.on('warn', (code: string, message: string | Error) => {
    const msg = message instanceof Error ? message.message : message;
    if (code === 'TAR_BAD_ARCHIVE' && /Unrecognized archive format/.test(msg) && sawData && onlyZeros) return; // an empty archive
    if (code === 'TAR_ENTRY_INVALID' || code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ABORT') failure ??= new ArchiveFormatError(`${what}: not a valid tar archive: ${msg}`);
  });
  const ended = new Promise<void>((resolve) => parser.on('end', () => resolve()));

  const source = input instanceof Readable ? input : Readable.from(input);
  // A failed input (or gunzip, or an abort) must also end waits for the parser to drain: an entry
  // cut short never ends, so the parser would never ask for more.
  let rejectInput: (e: Error) => void = () => {};
  const inputFailed = new Promise<never>((_, reject) => (rejectInput = reject));
  inputFailed.catch(() => {});
  source.once('error', (e: Error) => rejectInput(e));
  const onAbort = () => rejectInput(o.signal?.reason instanceof Error ? o.signal.reason : new Error('aborted'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  // The first four bytes tell gzip and zstd from tar: gather at least that many before looking.
  const sniff = async function* (src: AsyncIterable<Buffer>) {
    let start: Buffer | undefined = Buffer.alloc(0);
    for await (const c of src) {
      if (start === undefined) {
        yield c;
        continue;
      }
      start = Buffer.concat([start, c]);
      if (start.length < 4) continue;
      if (start[0] === 0x28 && start[1] === 0xb5 && start[2] === 0x2f && start[3] === 0xfd) {
        throw new ArchiveFormatError(`${what}: zstd-compressed; only gzip and uncompressed layers are supported`);
      }
      yield start;
      start = undefined;
    }
    if (start !== undefined && start.length > 0) yield start;
  };
  const consume = async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted');
      if (failure) throw failure;
      sawData = true;
      if (onlyZeros && !isAllZero(c)) onlyZeros = false;
      hash.update(c);
      if (!parser.write(c)) await Promise.race([new Promise<void>((r) => parser.once('drain', () => r())), inputFailed]);
    }
    parser.end();
    await Promise.race([ended, inputFailed]);
  };
  // gzip or not is known from the first two bytes; peek at them without losing them.
  const iter = sniff(source)[Symbol.asyncIterator]();
  const head = await iter.next();
  if (head.done) throw new ArchiveFormatError(`${what}: empty (not even an empty tar archive)`);
  const rest = (async function* () {
    yield head.value;
    for (;;) {
      const n = await iter.next();
      if (n.done) return;
      yield n.value;
    }
  })();
  const gz = head.value.length >= 2 && head.value[0] === 0x1f && head.value[1] === 0x8b;
  try {
    if (gz) {
      const gunzip = createGunzip({ chunkSize: 256 << 10 });
      gunzip.once('error', (e: Error) => rejectInput(e));
      await pipeline(Readable.from(rest), gunzip, consume);
    } else await consume(rest);
    await chain;
  } catch (e) {
    // Nothing more comes: an entry waiting for its data must not wait forever.
    failure ??= e as Error;
    x.abandon(failure);
    await chain.catch(() => {});
    if (failure !== e) throw failure;
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new ArchiveFormatError(`${what}: gzip data is corrupt: ${(e as Error).message}`);
    throw e;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure;
  const diffId = `sha256:${hash.digest('hex')}`;
  if (o.diffId && o.diffId !== diffId) {
    throw new ArchiveFormatError(`${what}: the uncompressed content has digest ${diffId}, but the image config's rootfs.diff_ids says ${o.diffId}`);
  }
  await x.finish();
  return { diffId, sizeBytes: x.sizeBytes, entries: x.entries, whiteouts: x.whiteouts.size, opaqueDirs: x.opaque.size, skipped: x.skipped };
}

