// POST /v1/sessions/{id}/exec and …/exec/stream: a command in the session's persistent shell.
// The result is `{exit_code, cwd, output, truncated, duration_ms}`; a command that runs past its
// timeout is interrupted (the shell and its state survive) and answered 504 COMMAND_TIMEOUT with
// what it printed. The stream is Server-Sent Events sent as the output arrives: `chunk` events,
// then `done` (or `error`). Output is cleaned (escapes stripped, CRLF → LF) unless raw_output.
// Execs of one session queue behind each other, as they did in the original.

import { StringDecoder } from 'node:string_decoder';
import type { Request, Response } from 'express';
import { sendJson } from '../apiserver/reply.js';
import type { ExecResult } from '../runner/index.js';
import { checkSessionId, optBool, optInt, readJsonObject } from './body.js';
import { cleanOutput, OutputCleaner } from './clean.js';
import type { FacadeContext } from './context.js';
import { ErrorCode, invalid, rethrowRunner, SeedError } from './errors.js';

/** The original's limits. */
export const MAX_CMD_BYTES = 1024 * 1024;
export const MAX_TIMEOUT_MS = 600_000;

/** How long a stream waits for the command's first event before sending headers, so a refused
 * exec still gets its own status code. */
const FIRST_EVENT_WAIT_MS = 50;

interface ExecRequest {
  cmd: string;
  timeoutMs: number;
  raw: boolean;
}

async function parseExec(req: Request, maxTimeoutMs: number): Promise<ExecRequest> {
  const b = await readJsonObject(req);
  const cmd = b.cmd;
  if (cmd === undefined || cmd === null || cmd === '') throw invalid('cmd is required', { field: 'cmd' });
  if (typeof cmd !== 'string') throw invalid('cmd must be a string', { field: 'cmd' });
  const bytes = Buffer.byteLength(cmd);
  if (bytes > MAX_CMD_BYTES) {
    throw invalid(`cmd is too large (${bytes} bytes), max is ${MAX_CMD_BYTES} bytes`, {
      cmd_bytes: bytes,
      max_cmd_bytes: MAX_CMD_BYTES,
      recommendation: 'use /fs/write to upload script, then run a short exec command',
    });
  }
  if (cmd.includes('\0')) throw invalid('cmd must not contain NUL bytes', { field: 'cmd' });
  const t = optInt(b, 'timeout_ms', 0, MAX_TIMEOUT_MS, ' (milliseconds)') ?? 0;
  // 0 means the daemon's maximum; more than the maximum is cut to it (as the original did).
  const timeoutMs = t <= 0 || t > maxTimeoutMs ? maxTimeoutMs : t;
  return { cmd, timeoutMs, raw: optBool(b, 'raw_output') ?? false };
}

const ms = (d: number) => Math.round(d);

function timeoutError(x: ExecRequest, r: ExecResult, output: string): SeedError {
  return new SeedError(504, ErrorCode.CommandTimeout, `command timed out after ${x.timeoutMs} ms (interrupted; the shell and its state are kept)`, {
    timeout_ms: x.timeoutMs,
    exit_code: r.exitCode,
    cwd: r.cwd,
    output,
    truncated: r.truncated,
    duration_ms: ms(r.durationMs),
  });
}

/** A signal that aborts when the caller goes away before the response is complete. */
function callerGone(res: Response): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort(new Error('the caller went away'));
  });
  return ac.signal;
}

export function execHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const x = await parseExec(req, ctx.config.defaults.max_exec_timeout_ms);
    const rs = await ctx.lookup.ready(id);
    const uid = rs.session.metadata.uid!;
    ctx.activity.touch(rs.session);
    const signal = callerGone(res);
    let r: ExecResult;
    try {
      r = await ctx.execQueue.run(uid, signal, () => rs.runner.exec(x.cmd, { timeoutMs: x.timeoutMs, signal }));
    } catch (e) {
      if (signal.aborted) return;
      rethrowRunner(e, 'exec');
    }
    ctx.activity.touch(rs.session);
    if (r.cwd) ctx.cwds.set(uid, r.cwd);
    if (signal.aborted) return;
    const text = r.output.toString('utf8');
    const output = x.raw ? text : cleanOutput(text);
    if (r.timedOut) throw timeoutError(x, r, output);
    sendJson(res, 200, { exit_code: r.exitCode, cwd: r.cwd ?? ctx.cwds.get(uid) ?? '/workspace', output, truncated: r.truncated, duration_ms: ms(r.durationMs) });
  };
}

export function execStreamHandler(ctx: FacadeContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = checkSessionId(req.params.id as string);
    const x = await parseExec(req, ctx.config.defaults.max_exec_timeout_ms);
    const rs = await ctx.lookup.ready(id);
    const uid = rs.session.metadata.uid!;
    ctx.activity.touch(rs.session);
    const signal = callerGone(res);
    await ctx.execQueue
      .run(uid, signal, async () => {
        const es = rs.runner.execStream(x.cmd, { timeoutMs: x.timeoutMs, signal });
        const it = es.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        let next = it.next();
        let timer: NodeJS.Timeout | undefined;
        const early = await Promise.race([
          next.then(
            () => 'event' as const,
            (e: unknown) => ({ e }),
          ),
          new Promise<'wait'>((resolve) => (timer = setTimeout(() => resolve('wait'), FIRST_EVENT_WAIT_MS))),
        ]);
        clearTimeout(timer);
        if (typeof early === 'object') rethrowRunner(early.e, 'exec');

        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache',
          'X-Accel-Buffering': 'no',
          'X-Content-Type-Options': 'nosniff',
        });
        res.flushHeaders();
        const send = async (event: string, data: unknown): Promise<boolean> => {
          if (res.destroyed) return false;
          if (!res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)) {
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
        const utf8 = new StringDecoder('utf8');
        const cleaner = x.raw ? undefined : new OutputCleaner();
        const text = (s: string) => (cleaner ? cleaner.push(s) : s);
        try {
          for (;;) {
            const step = await next;
            if (step.done) break;
            // A UTF-8 sequence split between chunks is completed by the next chunk, not replaced.
            const chunk = text(utf8.write(step.value));
            if (chunk !== '' && !(await send('chunk', { chunk, timestamp: Date.now() }))) {
              es.stream.destroy();
              return;
            }
            next = it.next();
          }
          const rest = text(utf8.end()) + (cleaner?.end() ?? '');
          if (rest !== '' && !(await send('chunk', { chunk: rest, timestamp: Date.now() }))) return;
          const r = await es.result;
          ctx.activity.touch(rs.session);
          if (r.cwd) ctx.cwds.set(uid, r.cwd);
          const cwd = r.cwd ?? ctx.cwds.get(uid) ?? '/workspace';
          if (r.timedOut) {
            await send('error', {
              error: `command timed out after ${x.timeoutMs} ms (interrupted; the shell and its state are kept)`,
              error_code: ErrorCode.CommandTimeout,
              exit_code: r.exitCode,
              cwd,
              duration_ms: ms(r.durationMs),
            });
          } else {
            await send('done', { exit_code: r.exitCode, cwd, duration_ms: ms(r.durationMs) });
          }
        } catch (e) {
          if (signal.aborted) return;
          let message = (e as Error).message;
          try {
            rethrowRunner(e, 'exec');
          } catch (err) {
            message = (err as Error).message;
            if (!(err instanceof SeedError)) ctx.logger.error(`/v1 exec stream of ${id} failed: ${(err as Error).stack ?? message}`);
          }
          await send('error', { error: message });
        }
        res.end();
      })
      .catch((e: unknown) => {
        if (signal.aborted && !res.headersSent) return;
        throw e;
      });
  };
}
