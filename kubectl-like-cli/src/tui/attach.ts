// The client side of a Session's terminal: GET …/sessions/NAME/attach upgraded to a WebSocket.
// Binary frames carry raw terminal bytes both ways; text frames carry JSON control messages —
// {"type":"resize","cols","rows"} from us, {"type":"exit","exitCode","signal"} and
// {"type":"error","message"} from the daemon. Closing the socket hangs the terminal up.
//
// openAttach() connects (an HTTP refusal becomes the server's Status message); runTerminal()
// joins the socket to a local terminal — input bytes out, output bytes in, window size changes
// as resize messages — until the shell exits, the connection closes, or the user types the
// detach key (Ctrl-], as telnet). Neither touches raw mode: the caller owns the terminal.

import type { Readable, Writable } from 'node:stream';
import { resolveKind, resourcePath } from '@sandkasten/client';
import WebSocket from 'ws';

export interface AttachTarget {
  /** The daemon's URL (http or https; the WebSocket uses ws or wss accordingly). */
  baseUrl: string;
  apiKey?: string;
  namespace: string;
  name: string;
  tls?: { ca?: string | Buffer; insecureSkipVerify?: boolean };
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** How a terminal ended. */
export type AttachEnd =
  | { reason: 'exit'; exitCode: number; signal: number | null }
  | { reason: 'detached' }
  | { reason: 'closed'; code: number; message: string };

/** Ctrl-]: leaves the terminal running nothing but a hang-up, like telnet's escape. */
export const DETACH_BYTE = 0x1d;

const SESSIONS = resolveKind('sessions');

/** The attach URL of a session (ws:// or wss://, keeping a base path). */
export function attachUrl(t: AttachTarget, size?: TerminalSize): URL {
  const u = new URL(t.baseUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/+$/, '') + resourcePath(SESSIONS, t.namespace, t.name, 'attach');
  u.search = '';
  if (size) {
    u.searchParams.set('cols', String(clampDim(size.cols)));
    u.searchParams.set('rows', String(clampDim(size.rows)));
  }
  return u;
}

export class AttachError extends Error {
  override readonly name = 'AttachError';
  constructor(
    message: string,
    /** The HTTP status of a refused upgrade (0: no answer). */
    readonly statusCode = 0,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** Opens the terminal's WebSocket; resolves once it is open. */
export function openAttach(t: AttachTarget, opts: { size?: TerminalSize; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<WebSocket> {
  const url = attachUrl(t, opts.size);
  const headers: Record<string, string> = {};
  if (t.apiKey) headers.authorization = `Bearer ${t.apiKey}`;
  const ws = new WebSocket(url, {
    headers,
    handshakeTimeout: opts.timeoutMs ?? 15_000,
    ca: t.tls?.ca,
    rejectUnauthorized: !t.tls?.insecureSkipVerify,
    // Terminal traffic is small and interactive: compression would only add latency.
    perMessageDeflate: false,
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      ws.terminate();
      reject(e);
    };
    const onAbort = () => fail(new AttachError('attach aborted'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(ws);
    });
    ws.once('error', (e: NodeJS.ErrnoException) => {
      const code = e.code ? ` (${e.code})` : '';
      fail(new AttachError(`cannot attach to ${t.namespace}/${t.name} at ${url.origin}: ${e.message}${code}`));
    });
    // A refused upgrade answers with a Status body (404, 409 not Ready, 401): show its message.
    ws.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let message = `HTTP ${res.statusCode}`;
        let reason: string | undefined;
        try {
          const s = JSON.parse(text) as { kind?: string; message?: string; reason?: string };
          if (s.kind === 'Status') {
            message = s.message ?? message;
            reason = s.reason;
          }
        } catch {
          if (text.trim()) message = `${message}: ${text.trim().slice(0, 200)}`;
        }
        fail(new AttachError(reason ? `Error from server (${reason}): ${message}` : message, res.statusCode ?? 0, reason));
      });
      res.on('error', () => fail(new AttachError(`HTTP ${res.statusCode}`, res.statusCode ?? 0)));
      req.on('error', () => {});
    });
  });
}

export interface TerminalIo {
  /** Raw input bytes (a TTY in raw mode, or any byte stream). */
  input: Readable;
  output: Writable;
  /** The current window size (sent on each `resize` of `resizeSource`). */
  size?: () => TerminalSize;
  /** Emits 'resize' when the window changes (process.stdout does on SIGWINCH). */
  resizeSource?: NodeJS.EventEmitter;
  /** The byte that detaches (default Ctrl-]); null: none. */
  detachByte?: number | null;
}

/**
 * Joins an open terminal socket to local input and output until it ends. Output is paused when
 * `output` pushes back, so the daemon pauses the shell rather than buffering.
 */
export function runTerminal(ws: WebSocket, io: TerminalIo): Promise<AttachEnd> {
  const detachByte = io.detachByte === undefined ? DETACH_BYTE : io.detachByte;
  return new Promise((resolve) => {
    let exit: AttachEnd | undefined;
    let detached = false;
    let paused = false;

    const onInput = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const at = detachByte === null ? -1 : buf.indexOf(detachByte);
      const send = at >= 0 ? buf.subarray(0, at) : buf;
      if (send.length > 0 && ws.readyState === WebSocket.OPEN) ws.send(send, { binary: true });
      if (at >= 0 && !detached) {
        detached = true;
        ws.close(1000, 'detached');
        // Do not wait out ws's 30 s close handshake for a daemon that does not answer.
        setTimeout(() => ws.terminate(), 2000).unref();
      }
    };
    const onResize = () => {
      if (!io.size || ws.readyState !== WebSocket.OPEN) return;
      const { cols, rows } = io.size();
      ws.send(JSON.stringify({ type: 'resize', cols: clampDim(cols), rows: clampDim(rows) }));
    };
    const onDrain = () => {
      if (paused) {
        paused = false;
        ws.resume();
      }
    };
    const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (isBinary) {
        if (!io.output.write(buf) && !paused) {
          paused = true;
          ws.pause();
        }
        return;
      }
      let msg: { type?: string; exitCode?: number; signal?: number | null; message?: string };
      try {
        msg = JSON.parse(buf.toString('utf8')) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'exit') exit = { reason: 'exit', exitCode: Number(msg.exitCode ?? 0), signal: msg.signal ?? null };
      else if (msg.type === 'error' && msg.message) io.output.write(`\r\n[sandkasten: ${msg.message}]\r\n`);
    };
    const finish = (code: number, reasonBuf: Buffer) => {
      io.input.off('data', onInput);
      io.resizeSource?.off('resize', onResize);
      io.output.off('drain', onDrain);
      ws.off('message', onMessage);
      if (detached) resolve({ reason: 'detached' });
      else if (exit) resolve(exit);
      else resolve({ reason: 'closed', code, message: reasonBuf.toString('utf8') || closeText(code) });
    };

    ws.on('message', onMessage);
    ws.once('close', finish);
    // Errors end in 'close' too; the listener keeps them from being thrown.
    ws.on('error', () => {});
    io.input.on('data', onInput);
    io.input.resume();
    io.resizeSource?.on('resize', onResize);
    io.output.on('drain', onDrain);
    // The size may have changed between the URL and now.
    onResize();
  });
}

function clampDim(n: number): number {
  return Math.min(1000, Math.max(1, Math.floor(n) || 1));
}

function closeText(code: number): string {
  switch (code) {
    case 1006:
      return 'the connection was lost';
    case 1001:
      return 'the daemon is going away';
    case 1011:
      return 'the daemon failed';
    default:
      return `closed (${code})`;
  }
}
