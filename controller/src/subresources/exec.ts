// POST …/sessions/{name}/exec: a command in the session's persistent shell, answered as one JSON
// result or, for `Accept: application/x-ndjson` / `?stream=1`, as JSON lines: output chunks as
// they arrive, then the result. A caller that goes away interrupts the command.

import { StringDecoder } from 'node:string_decoder';
import type { Request, Response } from 'express';
import { errors } from '../apiserver/errors.js';
import { readBody } from '../apiserver/body.js';
import { sendJson } from '../apiserver/reply.js';
import { ApiRequest } from '../apiserver/request.js';
import type { ExecResult } from '../runner/index.js';
import { toApi } from './errors.js';
import type { SubresourceContext } from './context.js';

export const NDJSON = 'application/x-ndjson';

/** How long a streamed exec waits for its first event before sending headers: a runner that is
 * busy (409) or a shell that cannot start answers within this, and then gets a proper status. */
const FIRST_EVENT_WAIT_MS = 50;

interface ExecRequest {
  command: string;
  timeoutMs: number;
  warnings: string[];
}

/**
 * The body is JSON whatever its Content-Type says: fetch sends strings as text/plain and curl -d
 * as a form, and neither means anything else here.
 */
function parseExecBody(raw: Buffer | undefined, maxTimeoutMs: number): ExecRequest {
  if (!raw) throw errors.badRequest('exec needs a JSON body {"command": "…", "timeoutMs": N}');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`malformed request body: ${(e as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw errors.badRequest('the exec body must be a JSON object {"command": "…"}');
  const b = body as Record<string, unknown>;
  const causes = [];
  for (const k of Object.keys(b)) {
    if (k !== 'command' && k !== 'timeoutMs') causes.push({ reason: 'FieldValueNotSupported', message: `unknown field "${k}"`, field: k });
  }
  if (typeof b.command !== 'string' || b.command.trim() === '') {
    causes.push({ reason: 'FieldValueRequired', message: 'command must be a non-empty string', field: 'command' });
  } else if (b.command.includes('\0')) {
    causes.push({ reason: 'FieldValueInvalid', message: 'command must not contain NUL bytes', field: 'command' });
  }
  const t = b.timeoutMs;
  if (t !== undefined && t !== null && !(typeof t === 'number' && Number.isInteger(t) && t > 0)) {
    causes.push({ reason: 'FieldValueInvalid', message: 'timeoutMs must be a positive integer (milliseconds)', field: 'timeoutMs' });
  }
  if (causes.length > 0) throw errors.badRequest(`invalid exec request: ${causes.map((c) => `${c.field}: ${c.message}`).join('; ')}`, causes);
  const warnings: string[] = [];
  let timeoutMs = typeof t === 'number' ? t : maxTimeoutMs;
  if (timeoutMs > maxTimeoutMs) {
    warnings.push(`timeoutMs ${timeoutMs} is above the maximum ${maxTimeoutMs}; using ${maxTimeoutMs}`);
    timeoutMs = maxTimeoutMs;
  }
  return { command: b.command as string, timeoutMs, warnings };
}

/** Does the request ask for a stream of JSON lines? */
function wantsStream(call: ApiRequest): boolean {
  if (call.bool('stream')) return true;
  const accept = call.header('accept') ?? '';
  return accept.split(',').some((p) => p.split(';')[0]!.trim().toLowerCase() === NDJSON);
}

/** `?encoding=base64`: output bytes exactly, base64 (besides the lossy UTF-8 text). */
function wantsBase64(call: ApiRequest): boolean {
  const e = call.param('encoding');
  if (e === undefined || e === '' || e === 'utf-8' || e === 'utf8') return false;
  if (e === 'base64') return true;
  throw errors.badRequest(`invalid value for encoding: ${JSON.stringify(e)} (expected utf-8 or base64)`);
}

function resultFields(r: ExecResult) {
  return {
    exitCode: r.exitCode,
    cwd: r.cwd,
    truncated: r.truncated,
    timedOut: r.timedOut,
    durationMs: r.durationMs,
    outputBytes: r.outputBytes,
    shellRestarted: r.shellRestarted,
    shellExited: r.shellExited,
  };
}

const warningHeader = (ws: string[]) => ws.map((w) => `299 - ${JSON.stringify(w)}`);

export function execHandler(ctx: SubresourceContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const call = new ApiRequest(req);
    const stream = wantsStream(call);
    const base64 = wantsBase64(call);
    const { ns, name } = ctx.target(req);
    const body = await readBody(req, ctx.maxBodyBytes);
    const x = parseExecBody(body.raw, ctx.maxExecTimeoutMs);
    const { session, runner } = await ctx.resolver.ready(ns, name);
    ctx.activity.touch(session);

    // Nobody waits for the result of a caller that went away: the command is interrupted.
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    if (!stream) {
      let r: ExecResult;
      try {
        r = await runner.exec(x.command, { timeoutMs: x.timeoutMs, signal: abort.signal });
      } catch (e) {
        toApi(e, 'exec');
      }
      ctx.activity.touch(session);
      if (abort.signal.aborted) return;
      const out: Record<string, unknown> = { ...resultFields(r), output: r.output.toString('utf8') };
      if (base64) out.outputBase64 = r.output.toString('base64');
      sendJson(res, 200, out, undefined, x.warnings);
      return;
    }

    const es = runner.execStream(x.command, { timeoutMs: x.timeoutMs, signal: abort.signal });
    const it = es.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let next = it.next();
    // Headers wait for the first event (briefly), so a refused exec still gets its own status.
    let timer: NodeJS.Timeout | undefined;
    const early = await Promise.race([
      next.then(
        () => 'event' as const,
        (e: unknown) => e,
      ),
      new Promise<'wait'>((resolve) => (timer = setTimeout(() => resolve('wait'), FIRST_EVENT_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (early !== 'event' && early !== 'wait') toApi(early, 'exec');

    const headers: Record<string, string | string[]> = { 'Content-Type': NDJSON, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (x.warnings.length > 0) headers.Warning = warningHeader(x.warnings);
    res.writeHead(200, headers);
    res.flushHeaders();
    const write = async (line: unknown): Promise<boolean> => {
      if (res.destroyed) return false;
      if (!res.write(`${JSON.stringify(line)}\n`)) {
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
      return !res.destroyed;
    };
    const text = new StringDecoder('utf8');
    try {
      for (;;) {
        const step = await next;
        if (step.done) break;
        const chunk = step.value;
        // A UTF-8 sequence split between chunks is completed by the next chunk, not replaced.
        const line = base64 ? { type: 'output', data: chunk.toString('base64'), encoding: 'base64' } : { type: 'output', data: text.write(chunk) };
        if ((base64 || line.data !== '') && !(await write(line))) {
          es.stream.destroy();
          return;
        }
        next = it.next();
      }
      const rest = base64 ? '' : text.end();
      if (rest !== '' && !(await write({ type: 'output', data: rest }))) return;
      const r = await es.result;
      ctx.activity.touch(session);
      await write({ type: 'result', ...resultFields(r) });
      res.end();
    } catch (e) {
      if (abort.signal.aborted) return;
      let status;
      try {
        toApi(e, 'exec');
      } catch (err) {
        status = ctx.toStatus(err, req);
      }
      await write({ type: 'error', status });
      res.end();
    }
  };
}
