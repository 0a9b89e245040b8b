// Directories as tar archives, both ways through the runner's file operations, so every path is
// resolved inside the sandbox (the host never touches the overlay's upper directory).
//
// Download walks the directory with list and streams each file with read; upload parses the
// archive as it arrives and replays it as mkdir and write. Neither holds more than a chunk or so
// of file data in memory.

import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Header, Parser, Pax, type HeaderData, type ReadEntry } from 'tar';
import { ApiError, errors } from '../apiserver/errors.js';
import { RunnerError, type FileInfo, type RunnerClient } from '../runner/index.js';

const BLOCK = 512;
const ZEROS = Buffer.alloc(BLOCK * 2);

/** Joins a sandbox directory and a relative name. */
export function joinPath(dir: string, rel: string): string {
  if (rel === '') return dir;
  return dir.endsWith('/') ? dir + rel : `${dir}/${rel}`;
}

/** Writes to `out`, waiting while its buffer is full; false once `out` is gone. */
async function put(out: Writable, chunk: Buffer): Promise<boolean> {
  if (out.destroyed) return false;
  if (!out.write(chunk)) {
    await new Promise<void>((resolve) => {
      const done = () => {
        out.off('drain', done);
        out.off('close', done);
        resolve();
      };
      out.on('drain', done);
      out.on('close', done);
    });
  }
  return !out.destroyed;
}

/** A header block, preceded by a pax extended header when a field does not fit ustar. */
function headerBlocks(h: HeaderData): Buffer {
  const block = Buffer.alloc(BLOCK);
  const needPax = new Header(h).encode(block, 0);
  if (!needPax) return block;
  return Buffer.concat([new Pax({ path: h.path, linkpath: h.linkpath, size: h.size, mtime: h.mtime, uid: h.uid, gid: h.gid }).encode(), block]);
}

const isGone = (e: unknown) => e instanceof RunnerError && (e.code === 'ENOENT' || e.code === 'ENOTDIR');

export interface PackSummary {
  files: number;
  directories: number;
  symlinks: number;
  /** Entries that are not files, directories or symlinks (fifos, sockets, devices), left out. */
  skipped: number;
}

/**
 * Streams a tar of the sandbox directory `dir` (its contents, names relative to it) into `out`.
 * Entries that vanish while the walk goes on are left out; a file that shrinks while it is read is
 * padded with zeros to the size its header announced. Rejects on other runner errors (the archive
 * is then incomplete: the caller cuts the connection).
 */
export async function packTar(runner: RunnerClient, dir: string, out: Writable, first?: FileInfo[]): Promise<PackSummary> {
  const sum: PackSummary = { files: 0, directories: 0, symlinks: 0, skipped: 0 };
  const walk = async (abs: string, rel: string, listed?: FileInfo[]): Promise<boolean> => {
    let entries: FileInfo[];
    try {
      entries = listed ?? (await runner.list(abs));
    } catch (e) {
      if (isGone(e)) return true;
      throw e;
    }
    for (const e of entries) {
      const path = rel === '' ? e.name : `${rel}/${e.name}`;
      const child = joinPath(abs, e.name);
      const common = { mode: e.mode, uid: e.uid, gid: e.gid, mtime: new Date(Math.floor(e.mtimeMs)) };
      if (e.type === 'dir') {
        sum.directories++;
        if (!(await put(out, headerBlocks({ ...common, path: `${path}/`, type: 'Directory', size: 0 })))) return false;
        if (!(await walk(child, path))) return false;
      } else if (e.type === 'symlink') {
        sum.symlinks++;
        if (!(await put(out, headerBlocks({ ...common, path, type: 'SymbolicLink', linkpath: e.target ?? '', size: 0 })))) return false;
      } else if (e.type === 'file') {
        // At most the listed size: the header is written before the data.
        let opened;
        try {
          opened = await runner.openRead(child, { length: e.size });
        } catch (err) {
          if (isGone(err) || (err instanceof RunnerError && err.code === 'EISDIR')) continue;
          throw err;
        }
        const size = Math.min(opened.info.size, e.size);
        sum.files++;
        if (!(await put(out, headerBlocks({ ...common, path, type: 'File', size })))) {
          opened.stream.destroy();
          return false;
        }
        let left = size;
        for await (const c of opened.stream as AsyncIterable<Buffer>) {
          const part = c.length > left ? c.subarray(0, left) : c;
          left -= part.length;
          if (!(await put(out, part))) return false;
          if (left === 0) break;
        }
        if (left > 0 && !(await put(out, Buffer.alloc(left)))) return false;
        const pad = (BLOCK - (size % BLOCK)) % BLOCK;
        if (pad > 0 && !(await put(out, ZEROS.subarray(0, pad)))) return false;
      } else {
        sum.skipped++;
      }
    }
    return true;
  };
  if (await walk(dir, '', first)) await put(out, ZEROS);
  return sum;
}

export interface SkippedEntry {
  path: string;
  type: string;
  reason: string;
}

export interface ExtractSummary {
  files: number;
  directories: number;
  /** File bytes written. */
  bytes: number;
  skipped: SkippedEntry[];
}

/** At most this many skipped entries are listed (the count goes on). */
const MAX_SKIPPED_LISTED = 100;

/**
 * The relative path an archive entry is extracted to, or why it is not: leading `/` are dropped
 * (as tar does), `.` segments ignored, and a `..` segment refuses the entry.
 */
export function entryPath(name: string): { rel: string } | { reason: string } {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { reason: 'path contains ".."' };
  return { rel: parts.join('/') };
}

/**
 * Extracts a tar (optionally gzip-compressed) read from `source` into the sandbox directory `dir`
 * through the runner: directories with mkdir, files with write (mode & 0777, parents created).
 * Symlinks, hard links, devices and fifos are skipped and reported (the runner creates neither
 * links nor special files). More than maxBytes of file data is 413; a broken archive 400. What was
 * extracted before an error stays.
 */
export async function extractTar(runner: RunnerClient, dir: string, source: AsyncIterable<Buffer>, maxBytes: number): Promise<ExtractSummary> {
  const sum: ExtractSummary = { files: 0, directories: 0, bytes: 0, skipped: [] };
  let skippedCount = 0;
  const skip = (path: string, type: string, reason: string) => {
    skippedCount++;
    if (sum.skipped.length < MAX_SKIPPED_LISTED) sum.skipped.push({ path, type, reason });
  };
  await runner.mkdir(dir, { parents: true });

  let failure: unknown;
  let fail!: (e: unknown) => void;
  const failed = new Promise<never>((_, reject) => {
    fail = (e) => {
      if (failure === undefined) failure = e;
      reject(failure);
    };
  });
  failed.catch(() => {});

  const parser = new Parser({ strict: false });
  const broken = (message: string) =>
    fail(
      /decompression ratio/.test(message)
        ? new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: the archive expands too much (${message})`)
        : errors.badRequest(`not a valid tar archive: ${message}`),
    );
  parser.on('warn', (code: string, message: string) => {
    if (code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ABORT') broken(message);
    else skip('', '', `${code}: ${message}`);
  });
  // Unrecoverable problems (an abort, a corrupt compressed stream) come as errors.
  parser.on('error', (e: Error) => broken(e.message));

  const handle = async (entry: ReadEntry): Promise<void> => {
    if (failure !== undefined) {
      entry.resume();
      return;
    }
    const p = entryPath(entry.path);
    if ('reason' in p) {
      skip(entry.path, entry.type, p.reason);
      entry.resume();
      return;
    }
    const target = joinPath(dir, p.rel);
    switch (entry.type) {
      case 'Directory':
        entry.resume();
        if (p.rel === '') return;
        await runner.mkdir(target, { parents: true, mode: (entry.mode ?? 0o755) & 0o1777 });
        sum.directories++;
        return;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        if (p.rel === '') {
          skip(entry.path, entry.type, 'a file cannot replace the target directory');
          entry.resume();
          return;
        }
        const size = entry.size ?? 0;
        if (sum.bytes + size > maxBytes) {
          entry.resume();
          throw new ApiError(413, 'RequestEntityTooLarge', `Request entity too large: the archive holds more than ${maxBytes} bytes of files`);
        }
        const r = await runner.writeFile(target, entry as AsyncIterable<Buffer>, { mode: (entry.mode ?? 0o644) & 0o777, mkdirParents: true });
        sum.files++;
        sum.bytes += r.bytes;
        return;
      }
      case 'SymbolicLink':
        skip(entry.path, entry.type, `symlinks are not extracted (-> ${entry.linkpath ?? ''})`);
        break;
      case 'Link':
        skip(entry.path, entry.type, `hard links are not extracted (-> ${entry.linkpath ?? ''})`);
        break;
      case 'CharacterDevice':
      case 'BlockDevice':
      case 'FIFO':
        skip(entry.path, entry.type, 'device nodes and fifos are not extracted');
        break;
      default:
        skip(entry.path, entry.type, 'unsupported entry type');
    }
    entry.resume();
  };

  // The parser emits the next entry only when this one has been read: one at a time.
  let chain: Promise<void> = Promise.resolve();
  parser.on('entry', (entry: ReadEntry) => {
    chain = chain.then(() => handle(entry)).catch((e: unknown) => {
      entry.resume();
      fail(e instanceof RunnerError ? Object.assign(e, { entryPath: entry.path }) : e);
    });
  });
  const ended = new Promise<void>((resolve) => parser.once('end', resolve));

  try {
    for await (const chunk of source) {
      if (failure !== undefined) break;
      if (!parser.write(chunk)) await Promise.race([once(parser, 'drain'), failed]);
    }
    if (failure === undefined) {
      parser.end();
      await Promise.race([ended, failed]);
      await Promise.race([chain, failed]);
    }
  } catch (e) {
    fail(e);
  }
  if (failure !== undefined) {
    parser.abort(new Error('extraction stopped'));
    throw failure;
  }
  if (skippedCount > sum.skipped.length) sum.skipped.push({ path: '', type: '', reason: `${skippedCount - sum.skipped.length} more entries skipped` });
  return sum;
}
