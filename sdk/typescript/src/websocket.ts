// A WebSocket client (RFC 6455) on the transport's upgrade: enough for a session's terminal —
// binary and text messages both ways, fragmented messages, ping/pong, the close handshake — with
// no dependency beyond node:crypto. No extensions are offered, so frames are never compressed.
//
// Frames from the client are masked (the RFC requires it), frames from the server must not be.
// A protocol violation by the server closes the connection with 1002; a message above
// `maxPayload` with 1009.

import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { errorFromStatus, parseStatus } from './errors.js';
import type { HttpRequest, Transport } from './transport.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
/** How long close() waits for the server's close frame before dropping the connection. */
const CLOSE_TIMEOUT_MS = 2000;

/** readyState values, as the WHATWG WebSocket numbers them. */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;
export type WebSocketState = typeof OPEN | typeof CLOSING | typeof CLOSED;

export interface WebSocketConnectOptions extends Omit<HttpRequest, 'method' | 'body' | 'idempotent'> {
  /** Subprotocols to offer (Sec-WebSocket-Protocol). */
  protocols?: string[];
  /** Largest message accepted (default 16 MiB). */
  maxPayload?: number;
}

/** The server answered the handshake with something the RFC does not allow. */
export class WebSocketError extends Error {
  override readonly name = 'WebSocketError';
}

/**
 * Opens a WebSocket at a path of the transport's server. A refused upgrade (401, 404, 409 …)
 * throws the ApiError of the server's Status; no answer throws ConnectionError.
 */
export async function connectWebSocket(transport: Transport, opts: WebSocketConnectOptions): Promise<WebSocketClient> {
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string> = {
    ...opts.headers,
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': key,
  };
  if (opts.protocols?.length) headers['sec-websocket-protocol'] = opts.protocols.join(', ');
  const res = await transport.upgrade({ ...opts, method: 'GET', headers, idempotent: true });
  if (!('socket' in res)) throw errorFromStatus(parseStatus(res.status, res.body.toString('utf8')));
  const fail = (why: string) => {
    res.socket.destroy();
    return new WebSocketError(`the server's WebSocket handshake is invalid: ${why}`);
  };
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  if (res.headers['sec-websocket-accept'] !== accept) throw fail('wrong Sec-WebSocket-Accept');
  if (String(res.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw fail(`Upgrade is ${JSON.stringify(res.headers.upgrade)}`);
  const protocol = res.headers['sec-websocket-protocol'];
  if (protocol !== undefined && !opts.protocols?.includes(protocol)) throw fail(`subprotocol ${JSON.stringify(protocol)} was not offered`);
  if (res.headers['sec-websocket-extensions']) throw fail('an extension was not offered');
  return new WebSocketClient(res.socket, res.head, { protocol, maxPayload: opts.maxPayload });
}

/**
 * An open WebSocket. Events: `message` (data: Buffer, isBinary: boolean) and `close` (code:
 * number, reason: string) — once, whatever ended it (1006 when the connection was lost without a
 * close frame). Errors of the connection end in `close`; they are never emitted as `error`.
 */
export class WebSocketClient extends EventEmitter {
  /** The subprotocol the server chose. */
  readonly protocol: string | undefined;
  private state: WebSocketState = OPEN;
  private readonly maxPayload: number;
  private buffered: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private fragmentBinary = false;
  private closeCode = 1006;
  private closeReason = '';
  private closeTimer: NodeJS.Timeout | undefined;
  /** A close frame came (or we failed the connection): closeCode is the one to report. */
  private gotClose = false;

  constructor(
    private readonly socket: Duplex,
    head: Buffer,
    opts: { protocol?: string; maxPayload?: number } = {},
  ) {
    super();
    this.protocol = opts.protocol;
    this.maxPayload = opts.maxPayload ?? 16 << 20;
    (socket as Duplex & { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.emit('drain'));
    socket.on('error', () => {
      // A reset or a broken pipe: 'close' follows, with 1006 unless a close frame came first.
    });
    socket.on('close', () => this.finish());
    socket.on('end', () => socket.end());
    // Not a microtask: whoever awaited the connection adds its listeners first.
    if (head.length > 0) setImmediate(() => this.receive(head));
  }

  /** OPEN (1), CLOSING (2) or CLOSED (3). */
  get readyState(): WebSocketState {
    return this.state;
  }

  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;

  /**
   * Sends a message: a string as a text frame, bytes as a binary frame. False when the message
   * had to be buffered (wait for 'drain') or the socket is no longer open (then it is dropped).
   */
  send(data: string | Uint8Array): boolean {
    if (this.state !== OPEN) return false;
    const text = typeof data === 'string';
    return this.frame(text ? OP_TEXT : OP_BINARY, text ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Sends a ping (the server answers with a pong event). */
  ping(data: Uint8Array = Buffer.alloc(0)): void {
    if (this.state === OPEN) this.frame(OP_PING, Buffer.from(data));
  }

  /**
   * Starts the close handshake: sends a close frame and ends the connection when the server
   * answers with its own (or after 2 s).
   */
  close(code = 1000, reason = ''): void {
    if (this.state !== OPEN) return;
    this.state = CLOSING;
    this.closeCode = code;
    this.closeReason = reason;
    const r = Buffer.from(reason, 'utf8').subarray(0, 123);
    const payload = Buffer.alloc(2 + r.length);
    payload.writeUInt16BE(code, 0);
    r.copy(payload, 2);
    this.frame(OP_CLOSE, payload);
    this.closeTimer = setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  /** Drops the connection without a close handshake. */
  terminate(): void {
    this.socket.destroy();
  }

  /** Stops reading (backpressure: the server's sends then block in TCP). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  override on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this;
  override on(event: 'close', listener: (code: number, reason: string) => void): this;
  override on(event: 'pong', listener: (data: Buffer) => void): this;
  /** The connection's write buffer emptied (after send() returned false). */
  override on(event: 'drain', listener: () => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  private frame(opcode: number, payload: Buffer): boolean {
    const len = payload.length;
    const headLen = len < 126 ? 2 : len < 0x10000 ? 4 : 10;
    const out = Buffer.allocUnsafe(headLen + 4 + len);
    out[0] = 0x80 | opcode;
    if (len < 126) out[1] = 0x80 | len;
    else if (len < 0x10000) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(len, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(len), 2);
    }
    const mask = out.subarray(headLen, headLen + 4);
    randomFillSync(mask);
    for (let i = 0; i < len; i++) out[headLen + 4 + i] = payload[i]! ^ mask[i & 3]!;
    return this.socket.write(out);
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.state !== CLOSED) {
      const b = this.buffered;
      if (b.length < 2) return;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      if ((b[0]! & 0x70) !== 0) return this.protocolError(1002, 'reserved bits set (no extension was negotiated)');
      if ((b[1]! & 0x80) !== 0) return this.protocolError(1002, 'the server masked a frame');
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(this.maxPayload)) return this.protocolError(1009, 'message too big');
        len = Number(big);
        off = 10;
      }
      if (opcode >= 0x8) {
        if (!fin || len > 125) return this.protocolError(1002, 'fragmented or oversized control frame');
      } else if (this.fragmentBytes + len > this.maxPayload) {
        return this.protocolError(1009, 'message too big');
      }
      if (b.length < off + len) return;
      const payload = b.subarray(off, off + len);
      this.buffered = b.subarray(off + len);
      if (!this.handle(fin, opcode, payload)) return;
    }
  }

  /** One frame; false when the connection is over. */
  private handle(fin: boolean, opcode: number, payload: Buffer): boolean {
    switch (opcode) {
      case OP_TEXT:
      case OP_BINARY:
        if (this.fragments.length > 0) {
          this.protocolError(1002, 'a new message inside a fragmented one');
          return false;
        }
        if (fin) {
          if (this.state === OPEN) this.emit('message', Buffer.from(payload), opcode === OP_BINARY);
          return true;
        }
        this.fragmentBinary = opcode === OP_BINARY;
        this.fragments.push(Buffer.from(payload));
        this.fragmentBytes = payload.length;
        return true;
      case OP_CONT: {
        if (this.fragments.length === 0) {
          this.protocolError(1002, 'a continuation without a message');
          return false;
        }
        this.fragments.push(Buffer.from(payload));
        this.fragmentBytes += payload.length;
        if (!fin) return true;
        const data = Buffer.concat(this.fragments);
        this.fragments = [];
        this.fragmentBytes = 0;
        if (this.state === OPEN) this.emit('message', data, this.fragmentBinary);
        return true;
      }
      case OP_PING:
        if (this.state === OPEN) this.frame(OP_PONG, payload);
        return true;
      case OP_PONG:
        this.emit('pong', Buffer.from(payload));
        return true;
      case OP_CLOSE: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
        if (this.state === OPEN) {
          // The server closes: answer with its code, as the RFC asks.
          this.state = CLOSING;
          this.frame(OP_CLOSE, payload.length >= 2 ? payload.subarray(0, 2) : Buffer.alloc(0));
        }
        this.closeCode = code;
        this.closeReason = reason;
        this.socket.end();
        this.closeTimer ??= setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS).unref();
        this.gotClose = true;
        return false;
      }
      default:
        {
          this.protocolError(1002, `unknown opcode ${opcode}`);
          return false;
        }
    }
  }

  private protocolError(code: number, reason: string): void {
    if (this.state === OPEN) {
      this.state = CLOSING;
      const r = Buffer.from(reason, 'utf8');
      const payload = Buffer.alloc(2 + r.length);
      payload.writeUInt16BE(code, 0);
      r.copy(payload, 2);
      this.frame(OP_CLOSE, payload);
    }
    this.closeCode = code;
    this.closeReason = reason;
    this.gotClose = true;
    this.socket.end();
    this.closeTimer ??= setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS).unref();
  }

  private finish(): void {
    if (this.state === CLOSED) return;
    this.state = CLOSED;
    clearTimeout(this.closeTimer);
    // Without the server's close frame (or our protocol error), the connection was lost.
    const code = this.gotClose ? this.closeCode : 1006;
    const reason = this.gotClose ? this.closeReason : '';
    this.emit('close', code, reason);
  }
}
