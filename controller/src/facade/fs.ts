// The original's file calls, through the session's runner (so every path resolves inside the
// sandbox's own root):
//   POST fs/write  {path, text | content_base64}   → {"ok":true}      (under /workspace)
//   GET  fs/read?path=&max_bytes=                 → {path, content_base64, truncated}
//   POST fs/upload multipart: file(s) in `file` or `files`, optional `path` directory
//                                                 → {"ok":true,"paths":[…]}  (under /workspace)
// Relative paths are relative to /workspace. Uploads stream part by part into the sandbox: each
// file goes to a hidden staging directory in /workspace as it arrives and is renamed into place
// once the whole form has been read (the `path` field may come after the files), so a failed
// upload leaves nothing behind and no file is ever held whole in memory.

import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import busboy from 'busboy';
import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import { sendJson } from '../apiserver/reply.js';
import { ApiRequest } from '../apiserver/request.js';
import type { RunnerClient } from '../runner/index.js';
import { checkSessionId, readJsonObject } from './body.js';
import type { FacadeContext } from './context.js';
import { invalid, rethrowRunner } from './errors.js';

export const WORKSPACE = '/workspace';
/** fs/read's default and largest max_bytes, as in the original. */
export const DEFAULT_READ_BYTES = 10 * 1024 * 1024;
export const MAX_READ_BYTES = 100 * 1024 * 1024;
/** Files and fields one upload may carry. */
const MAX_UPLOAD_FILES = 1000;
const MAX_UPLOAD_FIELDS = 100;

function checkPathText(p: unknown, field = 'path'): string {
  if (p === undefined || p === null || p === '') throw invalid(`${field} is required`, { field });
  if (typeof p !== 'string') throw invalid(`${field} must be a string`, { field });
  if (p.includes('\0')) throw invalid(`${field} must not contain NUL bytes`, { field });
  return p;
}

/** An absolute, normalised path: relative ones are taken from /workspace. */
export function sandboxPath(p: string): string {
  return posix.resolve(WORKSPACE, p);
}

/** sandboxPath(p), which must be /workspace or inside it. */
export function workspacePath(p: string, field = 'path'): string {
  const abs = sandboxPath(p);
  if (abs !== WORKSPACE && !abs.startsWith(`${WORKSPACE}/`)) throw invalid(`${field} must be under ${WORKSPACE}: ${p}`, { field });
  return abs;
}

/** Standard or URL-safe base64, padding optional, whitespace ignored; anything else is refused. */
export function decodeBase64(s: string, field: string): Buffer {
  const t = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(t) || t.replace(/=+$/, '').length % 4 === 1) throw invalid(`${field} is not valid base64`, { field });
  return Buffer.from(t, 'base64');
}

export function writeHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const b = await readJsonObject(req);
    const path = workspacePath(checkPathText(b.path));
    const hasText = b.text !== undefined && b.text !== null;
    const hasB64 = b.content_base64 !== undefined && b.content_base64 !== null;
    if (hasText && hasB64) throw invalid("provide either 'text' or 'content_base64', not both");
    if (!hasText && !hasB64) throw invalid("either 'text' or 'content_base64' must be provided");
    let data: Buffer;
    if (hasText) {
      if (typeof b.text !== 'string') throw invalid('text must be a string', { field: 'text' });
      data = Buffer.from(b.text, 'utf8');
    } else {
      if (typeof b.content_base64 !== 'string') throw invalid('content_base64 must be a string', { field: 'content_base64' });
      data = decodeBase64(b.content_base64, 'content_base64');
    }
    const rs = await ctx.lookup.ready(id);
    ctx.activity.touch(rs.session);
    try {
      await rs.runner.writeFile(path, data, { mkdirParents: true });
    } catch (e) {
      rethrowRunner(e, `write ${path}`);
    }
    sendJson(res, 200, { ok: true });
  };
}

export function readHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const call = new ApiRequest(req);
    const given = checkPathText(call.param('path'));
    const path = sandboxPath(given);
    const mb = call.param('max_bytes');
    let max = DEFAULT_READ_BYTES;
    if (mb !== undefined && mb !== '') {
      if (!/^\d+$/.test(mb)) throw invalid(`max_bytes must be a non-negative integer, got ${JSON.stringify(mb)}`, { field: 'max_bytes' });
      const n = Number(mb);
      if (n > MAX_READ_BYTES) throw invalid(`max_bytes must not exceed ${MAX_READ_BYTES} (100 MiB)`, { field: 'max_bytes' });
      if (n > 0) max = n;
    }
    const rs = await ctx.lookup.ready(id);
    ctx.activity.touch(rs.session);
    let data: Buffer;
    try {
      // One byte more than asked tells whether there is more (sizes of /proc files say nothing).
      data = await rs.runner.readFileBuffer(path, { length: max + 1 });
    } catch (e) {
      rethrowRunner(e, `read ${path}`);
    }
    const truncated = data.length > max;
    sendJson(res, 200, { path: given, content_base64: (truncated ? data.subarray(0, max) : data).toString('base64'), truncated });
  };
}

/** The last component of a client's file name; what cannot name a file in a directory is refused. */
export function uploadName(filename: string | undefined): string {
  const name = (filename ?? '').split(/[\\/]/).pop() ?? '';
  if (name === '' || name === '.' || name === '..' || name.includes('\0')) throw invalid(`invalid filename: ${JSON.stringify(filename ?? '')}`);
  return name;
}

interface Staged {
  name: string;
  tmp: string;
  written: Promise<void>;
}

/**
 * Reads the multipart form, writing each file into `stage` as it arrives; `files` collects them
 * (also when the form fails, so the caller can wait for the writes to settle before cleaning up).
 */
function receiveForm(req: Request, runner: RunnerClient, stage: string, maxFileBytes: number, files: Staged[]): Promise<{ dir: string | undefined }> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        defParamCharset: 'utf8',
        limits: { fileSize: maxFileBytes, files: MAX_UPLOAD_FILES, fields: MAX_UPLOAD_FIELDS, fieldSize: 64 * 1024 },
      });
    } catch (e) {
      reject(invalid(`invalid multipart form: ${(e as Error).message}`));
      return;
    }
    const open = new Set<Readable>();
    let dir: string | undefined;
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      // Writes in progress stop (their file is left in the staging directory, removed after).
      for (const st of open) st.destroy(e instanceof Error ? e : new Error(String(e)));
      // The rest of the body is read and dropped, so the answer can be sent on this connection.
      req.resume();
      reject(e);
    };
    bb.on('field', (name, value, info) => {
      if (name !== 'path') return;
      if (info.valueTruncated) fail(invalid('path is too long'));
      dir = value;
    });
    bb.on('file', (field, stream, info) => {
      if (failed || (field !== 'file' && field !== 'files')) {
        stream.resume();
        return;
      }
      let name: string;
      try {
        name = uploadName(info.filename);
      } catch (e) {
        stream.resume();
        fail(e);
        return;
      }
      const tmp = `${stage}/${files.length}`;
      open.add(stream);
      stream.once('limit', () => fail(invalid(`file too large: ${name} is over the limit of ${maxFileBytes} bytes`, { filename: name, max_bytes: maxFileBytes })));
      const written = runner.writeFile(tmp, stream, { mkdirParents: true }).then(
        () => {
          open.delete(stream);
          if (stream.truncated) throw invalid(`file too large: ${name}`);
        },
        (e: unknown) => {
          open.delete(stream);
          stream.resume();
          rethrowRunner(e, `upload ${name}`);
        },
      );
      written.catch(fail);
      files.push({ name, tmp, written });
    });
    bb.on('filesLimit', () => fail(invalid(`too many files: at most ${MAX_UPLOAD_FILES} per upload`)));
    bb.on('fieldsLimit', () => fail(invalid(`too many fields: at most ${MAX_UPLOAD_FIELDS} per upload`)));
    bb.on('error', (e: Error) => fail(invalid(`invalid multipart form: ${e.message}`)));
    bb.on('close', () => {
      if (!failed) resolve({ dir });
    });
    req.on('aborted', () => fail(invalid('request aborted')));
    req.pipe(bb);
  });
}

export function uploadHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('multipart/form-data')) throw invalid('invalid multipart form: Content-Type must be multipart/form-data');
    const rs = await ctx.lookup.ready(id);
    ctx.activity.touch(rs.session);
    const stage = `${WORKSPACE}/.sandkasten-upload-${randomBytes(8).toString('hex')}`;
    const files: Staged[] = [];
    try {
      const form = await receiveForm(req, rs.runner, stage, ctx.config.max_upload_bytes, files);
      await Promise.all(files.map((f) => f.written));
      if (files.length === 0) throw invalid("no file provided: use form field 'file' or 'files'");
      const base = workspacePath(form.dir?.replace(/\/+$/, '') || WORKSPACE);
      const paths: string[] = [];
      for (const f of files) {
        const dest = posix.join(base, f.name);
        try {
          await rs.runner.rename(f.tmp, dest, { mkdirParents: true });
        } catch (e) {
          rethrowRunner(e, `upload ${f.name} to ${dest}`);
        }
        paths.push(dest);
      }
      ctx.activity.touch(rs.session);
      sendJson(res, 200, { ok: true, paths });
    } finally {
      await Promise.allSettled(files.map((f) => f.written));
      await rs.runner.remove(stage, { recursive: true }).catch((e: unknown) => {
        if ((e as { code?: string }).code !== 'ENOENT') ctx.logger.warn(`/v1 upload: cannot remove ${stage} in session ${id}: ${(e as Error).message}`);
      });
    }
  };
}
