// A session's terminal: GET …/sessions/NAME/attach upgraded to a WebSocket. Binary frames carry
// raw terminal bytes both ways; text frames carry JSON control messages — {"type":"resize",
// "cols","rows"} from us, {"type":"exit","exitCode","signal"} and {"type":"error","message"} from
// the daemon. Closing the socket hangs the terminal up (SIGHUP to the shell and its jobs).
//
// openAttach() connects (a refused upgrade throws the server's Status as an ApiError);
// runTerminal() joins a terminal to local streams — input bytes out, output bytes in, window size
// changes as resize messages — until the shell exits, the connection closes, or the user types
// the detach key (Ctrl-], as telnet). Neither touches raw mode: the caller owns the terminal.

import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { resolveKind, resourcePath } from './kinds.js';
import { Transport, type TlsOptions } from './transport.js';
import { CLOSED, CLOSING, CONNECTING, OPEN, connectWebSocket, type WebSocketClient, type WebSocketState } from './websocket.js';

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** Where a terminal is, for callers without a SandboxClient. */
export interface AttachTarget {
  /** The daemon's URL (http or https). */
  baseUrl: string;
  apiKey?: string;
  namespace: string;
  name: string;
  tls?: TlsOptions;
}

export interface AttachOptions {
  /** The terminal's initial size (default 80×24). */
  size?: TerminalSize;
  signal?: AbortSignal;
  /** Deadline of the handshake (default 15 s). */
  timeoutMs?: number;
}

/** How a terminal ended. */
export type AttachEnd =
  | { reason: 'exit'; exitCode: number; signal: number | null }
  | { reason: 'detached' }
  | { reason: 'closed'; code: number; message: string };

/** Ctrl-]: leaves the terminal, hanging it up, like telnet's escape. */
export const DETACH_BYTE = 0x1d;

const SESSIONS = resolveKind('sessions');

/**
 * An open terminal. Events: `data` (Buffer: terminal output), `exit` ({exitCode, signal}),
 * `notice` (a message from the daemon about a control message it refused), `end` (AttachEnd).
 */
export class TerminalConnection extends EventEmitter {
  /** Resolves once the terminal is over (never rejects). */
  readonly ended: Promise<AttachEnd>;
  private exit: { exitCode: number; signal: number | null } | undefined;
  private detached = false;

  constructor(readonly socket: WebSocketClient) {
    super();
    this.ended = new Promise((resolve) => {
      socket.on('message', (data, isBinary) => {
        if (isBinary) {
          this.emit('data', data);
          return;
        }
        let msg: { type?: string; exitCode?: number; signal?: number | null; message?: string };
        try {
          msg = JSON.parse(data.toString('utf8')) as typeof msg;
        } catch {
          return;
        }
        if (msg.type === 'exit') {
          this.exit = { exitCode: Number(msg.exitCode ?? 0), signal: msg.signal ?? null };
          this.emit('exit', this.exit);
        } else if (msg.type === 'error' && msg.message) this.emit('notice', msg.message);
      });
      socket.on('close', (code, reason) => {
        const end: AttachEnd = this.detached
          ? { reason: 'detached' }
          : this.exit
            ? { reason: 'exit', ...this.exit }
            : { reason: 'closed', code, message: reason || closeText(code) };
        this.emit('end', end);
        resolve(end);
      });
    });
  }

  /** Is the terminal still open for input? */
  get open(): boolean {
    return this.socket.readyState === OPEN;
  }

  /** The socket's state: OPEN (1), CLOSING (2), CLOSED (3), as a WebSocket's. */
  get readyState(): WebSocketState {
    return this.socket.readyState;
  }

  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  /** Sends input (keys, pasted text) to the terminal. False: buffered, wait for 'drain'. */
  write(data: string | Uint8Array): boolean {
    return this.socket.send(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  resize(cols: number, rows: number): void {
    if (this.open) this.socket.send(JSON.stringify({ type: 'resize', cols: clampDim(cols), rows: clampDim(rows) }));
  }

  /** Hangs the terminal up; `ended` then resolves with {reason: 'detached'}. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.socket.close(1000, 'detached');
  }

  /** Hangs the terminal up (as detach()). */
  close(): void {
    this.detach();
  }

  /** Backpressure: stop and resume reading the daemon's output. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

/** Opens a session's terminal through a transport. */
export async function attachSession(transport: Transport, namespace: string, name: string, opts: AttachOptions = {}): Promise<TerminalConnection> {
  const query: Record<string, string> = {};
  if (opts.size) {
    query.cols = String(clampDim(opts.size.cols));
    query.rows = String(clampDim(opts.size.rows));
  }
  const ws = await connectWebSocket(transport, {
    path: resourcePath(SESSIONS, namespace, name, 'attach'),
    query,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs ?? 15_000,
    // Terminal messages are small; the daemon caps its own at 1 MiB.
    maxPayload: 4 << 20,
  });
  return new TerminalConnection(ws);
}

/** Opens a session's terminal from a URL and key (see also SandboxSession.attach()). */
export async function openAttach(t: AttachTarget, opts: AttachOptions = {}): Promise<TerminalConnection> {
  const transport = new Transport({ baseUrl: t.baseUrl, apiKey: t.apiKey, tls: t.tls, retry: { attempts: 3 } });
  try {
    return await attachSession(transport, t.namespace, t.name, opts);
  } finally {
    // The terminal's connection is its own; this only drops the (empty) keep-alive pool.
    transport.close();
  }
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
 * Joins an open terminal to local input and output until it ends. Output is paused when
 * `output` pushes back, so the daemon pauses the shell rather than buffering.
 */
export function runTerminal(term: TerminalConnection, io: TerminalIo): Promise<AttachEnd> {
  const detachByte = io.detachByte === undefined ? DETACH_BYTE : io.detachByte;
  let paused = false;
  const onInput = (chunk: Buffer | string) => {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const at = detachByte === null ? -1 : buf.indexOf(detachByte);
    const send = at >= 0 ? buf.subarray(0, at) : buf;
    if (send.length > 0 && term.open) term.write(send);
    if (at >= 0) term.detach();
  };
  const onResize = () => {
    if (!io.size) return;
    const { cols, rows } = io.size();
    term.resize(cols, rows);
  };
  const onDrain = () => {
    if (paused) {
      paused = false;
      term.resume();
    }
  };
  const onData = (buf: Buffer) => {
    if (!io.output.write(buf) && !paused) {
      paused = true;
      term.pause();
    }
  };
  const onNotice = (message: string) => io.output.write(`\r\n[sandkasten: ${message}]\r\n`);
  term.on('data', onData);
  term.on('notice', onNotice);
  io.input.on('data', onInput);
  io.input.resume();
  io.resizeSource?.on('resize', onResize);
  io.output.on('drain', onDrain);
  // The size may have changed since the terminal was opened.
  onResize();
  return term.ended.then((end) => {
    io.input.off('data', onInput);
    io.resizeSource?.off('resize', onResize);
    io.output.off('drain', onDrain);
    term.off('data', onData);
    term.off('notice', onNotice);
    return end;
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
