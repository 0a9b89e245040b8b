// …/sessions/{name}/fs?path=P: files of the session's sandbox through its runner, so every path
// is resolved inside the sandbox's own root. Bodies stream end to end (request → runner, runner →
// response) with backpressure; nothing is held whole in memory.
//
//   GET     raw bytes (Range: bytes=a-b → 206), a directory → JSON listing (or ?list=1),
//           ?stat=1 → JSON entry (lstat), ?format=tar → tar of a directory
//   HEAD    the headers GET would send
//   PUT     raw body → file (parents created; ?mode=0644, ?append=1, ?exclusive=1);
//           ?format=tar or Content-Type application/x-tar → extract a tar (or .tar.gz) into P
//   POST    ?op=mkdir (parents too) | ?op=rename&to=Q (Q's parents too; ?noreplace=1)
//   DELETE  file, symlink or empty directory; ?recursive=1 for a tree

import type { Request, Response } from 'express';
import { ApiError, errors } from '../apiserver/errors.js';
import { sendJson } from '../apiserver/reply.js';
import { ApiRequest } from '../apiserver/request.js';
import { RunnerError, type FileInfo, type RunnerClient } from '../runner/index.js';
import type { SubresourceContext } from './context.js';
import { toApi } from './errors.js';
import { extractTar, packTar } from './tar.js';

const OCTET = 'application/octet-stream';
const TAR = 'application/x-tar';

/** A file entry as the API shows it. Names that are not UTF-8 come lossy in name, exact in nameBase64. */
export function entryJson(i: FileInfo): Record<string, unknown> {
  const e: Record<string, unknown> = {
    name: i.name,
    type: i.type,
    size: i.size,
    mode: i.mode,
    mtime: new Date(i.mtimeMs).toISOString(),
    uid: i.uid,
    gid: i.gid,
  };
  if (i.rawName) e.nameBase64 = i.rawName.toString('base64');
  if (i.target !== undefined) e.target = i.target;
  if (i.rawTarget) e.targetBase64 = i.rawTarget.toString('base64');
  return e;
}

function pathParam(call: ApiRequest, name = 'path'): string {
  const p = call.param(name);
  if (p === undefined || p === '') throw errors.badRequest(`${name} is required, e.g. ?${name}=/workspace/file.txt`);
  if (p.includes('\0')) throw errors.badRequest(`${name} must not contain NUL bytes`);
  return p;
}

function modeParam(call: ApiRequest): number | undefined {
  const m = call.param('mode');
  if (m === undefined || m === '') return undefined;
  if (!/^0?[0-7]{1,4}$/.test(m)) throw errors.badRequest(`invalid value for mode: ${JSON.stringify(m)} (expected octal permission bits such as 0644)`);
  return parseInt(m, 8);
}

function formatParam(call: ApiRequest): 'raw' | 'tar' {
  const f = call.param('format');
  if (f === undefined || f === '' || f === 'raw') return 'raw';
  if (f === 'tar') return 'tar';
  throw errors.badRequest(`invalid value for format: ${JSON.stringify(f)} (expected raw or tar)`);
}

type Range = { start: number; end?: number } | { suffix: number };

/** A single `bytes=` range; undefined for none, several or a malformed header (served whole, as RFC 9110 allows). */
export function parseRange(h: string | undefined): Range | undefined {
  if (!h) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(h);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  if (m[2] === '') return { start };
  const end = Number(m[2]);
  return end < start ? undefined : { start, end };
}

/** Writes exactly `length` bytes of `stream` to res; a source that ends short cuts the connection. */
async function pipeExact(stream: AsyncIterable<Buffer> & { destroy(): void }, res: Response, length: number): Promise<void> {
  let left = length;
  try {
    if (left > 0) {
      for await (const c of stream) {
        const part = c.length > left ? c.subarray(0, left) : c;
        left -= part.length;
        if (!res.write(part)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
        if (res.destroyed || left === 0) break;
      }
    }
  } catch {
    // The runner failed mid-file: the client must not take a short body for the file.
    res.destroy();
    return;
  } finally {
    stream.destroy();
  }
  if (left > 0) res.destroy();
  else res.end();
}

/** The request body as chunks, at most `limit` bytes (413 past it). */
async function* limitedBody(req: Request, limit: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw errors.tooLarge(limit);
    yield c;
  }
}

function checkUpload(req: Request, limit: number): void {
  const enc = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity') throw errors.unsupportedMediaType(`unsupported content encoding "${enc}" (send the file's bytes as they are)`);
  const len = req.headers['content-length'];
  if (len !== undefined && Number(len) > limit) throw errors.tooLarge(limit);
}

/** An error answered before the request body was read: the connection cannot be reused. */
function closeAfter(req: Request, res: Response): void {
  if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
}

export function fsHandlers(ctx: SubresourceContext) {
  const open = async (req: Request) => {
    const { ns, name } = ctx.target(req);
    const s = await ctx.resolver.ready(ns, name);
    ctx.activity.touch(s.session);
    return s;
  };

  const sendList = async (res: Response, runner: RunnerClient, path: string) => {
    let entries: FileInfo[];
    try {
      entries = await runner.list(path);
    } catch (e) {
      toApi(e, `list ${path}`);
    }
    sendJson(res, 200, { path, entries: entries.map(entryJson) });
  };

  const sendTarOf = async (req: Request, res: Response, runner: RunnerClient, path: string) => {
    // Listing first: a missing or non-directory path gets its status before the stream starts.
    let first: FileInfo[];
    try {
      first = await runner.list(path);
    } catch (e) {
      toApi(e, `tar ${path}`);
    }
    const base = path.replace(/\/+$/, '').split('/').pop() || 'root';
    res.writeHead(200, {
      'Content-Type': TAR,
      'Content-Disposition': `attachment; filename="${base.replace(/[^\w.-]/g, '_')}.tar"`,
      'Cache-Control': 'no-store',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    try {
      await packTar(runner, path, res, first);
      if (!res.destroyed) res.end();
    } catch (e) {
      ctx.logger.warn(`tar of ${path} failed: ${(e as Error).message}`);
      res.destroy();
    }
  };

  const sendFile = async (req: Request, res: Response, runner: RunnerClient, path: string) => {
    const call = new ApiRequest(req);
    const head = req.method === 'HEAD';
    let range = parseRange(call.header('range'));
    const ifRange = call.header('if-range');
    // A suffix range and If-Range need the file's size and time before the read is placed.
    if (range && ('suffix' in range || ifRange !== undefined)) {
      const probe = await runner.openRead(path, { length: 0 });
      probe.stream.destroy();
      if (ifRange !== undefined && ifRange !== new Date(probe.info.mtimeMs).toUTCString()) range = undefined;
      else if (range && 'suffix' in range) {
        const size = probe.info.size;
        range = range.suffix === 0 || size === 0 ? { start: size } : { start: Math.max(0, size - range.suffix) };
      }
    }
    const start = range && 'start' in range ? range.start : 0;
    const wanted = range && 'start' in range && range.end !== undefined ? range.end - start + 1 : undefined;
    const { info, stream } = await runner.openRead(path, { offset: start, length: head ? 0 : wanted });
    const headers: Record<string, string | number> = {
      'Content-Type': OCTET,
      'Accept-Ranges': 'bytes',
      'Last-Modified': new Date(info.mtimeMs).toUTCString(),
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-store',
    };
    if (range) {
      if (start >= info.size) {
        stream.destroy();
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${info.size}`, 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify(new ApiError(416, 'RequestedRangeNotSatisfiable', `range ${call.header('range')} is outside the file (${info.size} bytes)`).toStatus()),
        );
        return;
      }
      const end = Math.min(range && 'end' in range && range.end !== undefined ? range.end : info.size - 1, info.size - 1);
      const length = end - start + 1;
      res.writeHead(206, { ...headers, 'Content-Length': length, 'Content-Range': `bytes ${start}-${end}/${info.size}` });
      if (head) {
        stream.destroy();
        res.end();
      } else await pipeExact(stream, res, length);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': info.size });
    if (head) {
      stream.destroy();
      res.end();
    } else await pipeExact(stream, res, info.size);
  };

  const get = async (req: Request, res: Response): Promise<void> => {
    const call = new ApiRequest(req);
    const path = pathParam(call);
    const format = formatParam(call);
    const stat = call.bool('stat');
    const list = call.bool('list');
    const { runner } = await open(req);
    if (stat) {
      let info: FileInfo;
      try {
        info = await runner.stat(path);
      } catch (e) {
        toApi(e, `stat ${path}`);
      }
      sendJson(res, 200, { path, ...entryJson(info) });
      return;
    }
    if (format === 'tar') return sendTarOf(req, res, runner, path);
    if (list) return sendList(res, runner, path);
    try {
      await sendFile(req, res, runner, path);
    } catch (e) {
      // A directory is answered with its listing.
      if (e instanceof RunnerError && e.code === 'EISDIR') return sendList(res, runner, path);
      toApi(e, `read ${path}`);
    }
  };

  const put = async (req: Request, res: Response): Promise<void> => {
    const call = new ApiRequest(req);
    const path = pathParam(call);
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const tar = formatParam(call) === 'tar' || mediaType === TAR;
    const mode = modeParam(call);
    const append = call.bool('append') ?? false;
    const exclusive = call.bool('exclusive') ?? false;
    try {
      checkUpload(req, ctx.maxUploadBytes);
      const { runner } = await open(req);
      if (tar) {
        if (mode !== undefined || append || exclusive) throw errors.badRequest('mode, append and exclusive apply to single files, not to format=tar');
        let sum;
        try {
          sum = await extractTar(runner, path, limitedBody(req, ctx.maxUploadBytes), ctx.maxUploadBytes);
        } catch (e) {
          const entry = (e as { entryPath?: string }).entryPath;
          toApi(e, entry ? `extract ${entry} into ${path}` : `extract into ${path}`);
        }
        const warnings = sum.skipped.slice(0, 10).map((s) => (s.path ? `skipped ${s.path}: ${s.reason}` : s.reason));
        sendJson(res, 200, { path, ...sum }, undefined, warnings);
        return;
      }
      let r: { bytes: number };
      try {
        r = await runner.writeFile(path, limitedBody(req, ctx.maxUploadBytes), { mode, append, exclusive, mkdirParents: true });
      } catch (e) {
        toApi(e, `write ${path}`);
      }
      sendJson(res, 200, { path, bytes: r.bytes });
    } catch (e) {
      closeAfter(req, res);
      throw e;
    }
  };

  const post = async (req: Request, res: Response): Promise<void> => {
    const call = new ApiRequest(req);
    const path = pathParam(call);
    const op = call.param('op');
    if (op === 'mkdir') {
      const mode = modeParam(call);
      const { runner } = await open(req);
      let r: { created: boolean };
      try {
        r = await runner.mkdir(path, { parents: true, mode });
      } catch (e) {
        toApi(e, `mkdir ${path}`);
      }
      sendJson(res, r.created ? 201 : 200, { path, created: r.created });
      return;
    }
    if (op === 'rename') {
      const to = pathParam(call, 'to');
      const noReplace = call.bool('noreplace') ?? false;
      const { runner } = await open(req);
      try {
        await runner.rename(path, to, { noReplace, mkdirParents: true });
      } catch (e) {
        toApi(e, `rename ${path} to ${to}`);
      }
      sendJson(res, 200, { path: to, from: path });
      return;
    }
    throw errors.badRequest(op === undefined || op === '' ? 'op is required: ?op=mkdir or ?op=rename&to=…' : `invalid value for op: ${JSON.stringify(op)} (expected mkdir or rename)`);
  };

  const del = async (req: Request, res: Response): Promise<void> => {
    const call = new ApiRequest(req);
    const path = pathParam(call);
    const recursive = call.bool('recursive') ?? false;
    const { runner } = await open(req);
    try {
      await runner.remove(path, { recursive });
    } catch (e) {
      toApi(e, `remove ${path}`);
    }
    sendJson(res, 200, { path, removed: true });
  };

  return { get, put, post, delete: del };
}
