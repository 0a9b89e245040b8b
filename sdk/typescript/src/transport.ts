// HTTP for the client, on node:http/https: one keep-alive agent for ordinary requests; streams
// (watch, exec output, file downloads and uploads) and upgrades (a session's terminal) on a
// connection of their own that is destroyed when the stream ends or is aborted — fetch's pool
// would leave a fresh idle socket behind after an aborted stream, and its custom-CA support needs
// a dispatcher from the undici package.
//
// A request that never got an answer is retried when that is safe: always when the connection
// was refused (nothing was sent), and on a reset or broken pipe when the caller marked the
// request idempotent. A streamed body is never retried: it is read once. Anything else goes back
// to the caller unchanged.

import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConnectionError, clientTimeout } from './errors.js';

export interface TlsOptions {
  /** PEM certificate(s) of the CA that signed the server's certificate. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Accept any certificate (testing only: the connection is then open to interception). */
  insecureSkipVerify?: boolean;
}

export interface RetryOptions {
  /** Attempts in total for a retriable failure (default 6; 1 disables retries). */
  attempts?: number;
  /** First pause between attempts (default 100 ms); doubles each time. */
  baseDelayMs?: number;
  /** Longest pause (default 2,000 ms). */
  maxDelayMs?: number;
}

export interface TransportOptions {
  /** http://host:port or https://host:port, optionally with a path prefix. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  tls?: TlsOptions;
  /** Deadline of one request, retries included, until its whole answer is read (default 30 s). */
  timeoutMs?: number;
  retry?: RetryOptions;
  userAgent?: string;
}

export type QueryValue = string | number | boolean | undefined | readonly string[];

/**
 * A request body: sent whole (string, bytes), or streamed as it is read (a Readable or any async
 * iterable of bytes) with chunked transfer encoding unless the caller sets content-length.
 */
export type RequestBody = string | Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface HttpRequest {
  method: string;
  /** Path below the base URL, starting with "/" (already percent-encoded). */
  path: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** A streamed body is read once: the request is then never retried. */
  body?: RequestBody;
  signal?: AbortSignal;
  /** Overrides the transport's deadline for this request; 0 means none. */
  timeoutMs?: number;
  /** Safe to send again after a connection reset (GET, PUT with resourceVersion, DELETE, apply). */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Warning header values (RFC 7234 warn-text), one per warning. */
  warnings: string[];
  body: Buffer;
}

export interface StreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  warnings: string[];
  /** The body as it arrives; ends when the server ends it; throws on a broken connection. */
  body: AsyncIterable<Buffer>;
  /** Reads the whole remaining body (for error answers). */
  text(): Promise<string>;
  /** Ends the connection (idempotent). */
  close(): void;
}

/** A request upgraded to another protocol (101 Switching Protocols): the connection is the caller's. */
export interface UpgradedResponse {
  status: 101;
  headers: IncomingHttpHeaders;
  /** The raw connection, now speaking the new protocol. */
  socket: Duplex;
  /** Bytes of the new protocol that arrived with the 101 answer. */
  head: Buffer;
}

/** Carries a failure of a streamed body itself (a file that cannot be read) past the retry logic. */
class RequestBodyError extends Error {
  constructor(readonly bodyError: Error) {
    super(bodyError.message);
  }
}

const RETRIABLE_ALWAYS = new Set(['ECONNREFUSED']);
const RETRIABLE_IDEMPOTENT = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const CONNECTION_ERRORS = new Set([...RETRIABLE_ALWAYS, ...RETRIABLE_IDEMPOTENT, 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Is this error a failure to talk to the server at all (as opposed to an answer)? */
export function isConnectionFailure(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && CONNECTION_ERRORS.has(code);
}

export class Transport {
  readonly baseUrl: URL;
  /** The base URL's path without a trailing slash ("" or e.g. "/sandkasten"). */
  private readonly prefix: string;
  private readonly mod: typeof http | typeof https;
  private readonly agent: http.Agent;
  private readonly tlsRequestOptions: { ca?: TlsOptions['ca']; rejectUnauthorized?: boolean };
  private readonly defaultHeaders: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly retry: Required<RetryOptions>;

  constructor(opts: TransportOptions) {
    let base: URL;
    try {
      base = new URL(opts.baseUrl);
    } catch {
      throw new TypeError(`invalid baseUrl ${JSON.stringify(opts.baseUrl)}: expected http://host:port or https://host:port`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError(`invalid baseUrl ${JSON.stringify(opts.baseUrl)}: the scheme must be http or https`);
    }
    base.search = '';
    base.hash = '';
    this.baseUrl = base;
    this.prefix = base.pathname.replace(/\/+$/, '');
    this.mod = base.protocol === 'https:' ? https : http;
    this.tlsRequestOptions =
      base.protocol === 'https:' ? { ca: opts.tls?.ca, rejectUnauthorized: !opts.tls?.insecureSkipVerify } : {};
    // Idle sockets of a keep-alive agent are unref'd: they do not keep a process alive.
    this.agent =
      base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...this.tlsRequestOptions })
        : new http.Agent({ keepAlive: true });
    this.defaultHeaders = {
      accept: 'application/json',
      'user-agent': opts.userAgent ?? `sandkasten-client/0.1.0 node/${process.versions.node}`,
    };
    if (opts.apiKey) this.defaultHeaders.authorization = `Bearer ${opts.apiKey}`;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retry = { attempts: 6, baseDelayMs: 100, maxDelayMs: 2_000, ...opts.retry };
  }

  /** The full URL of a path and query (for messages and redirects). */
  url(path: string, query?: Record<string, QueryValue>): URL {
    const u = new URL(this.baseUrl.href);
    u.pathname = this.prefix + path;
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) u.searchParams.append(k, x);
      else u.searchParams.set(k, String(v));
    }
    return u;
  }

  /** Sends a request and reads its whole answer, whatever the status code. */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const d = this.deadline(req);
    try {
      const res = await this.attempts(req, d.signal, false);
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return { status: res.statusCode ?? 0, headers: res.headers, warnings: warningsOf(res), body: Buffer.concat(chunks) };
    } catch (e) {
      throw d.timedOut() ? clientTimeout(`${req.method} ${req.path}: no answer within ${d.ms} ms`) : e;
    } finally {
      d.dispose();
    }
  }

  /**
   * Sends a request on a connection of its own and returns as soon as the answer's headers
   * arrived; the deadline covers only that. Aborting `req.signal` or calling close() ends it.
   */
  async stream(req: HttpRequest): Promise<StreamResponse> {
    const d = this.deadline(req);
    let res: http.IncomingMessage;
    try {
      res = await this.attempts(req, d.signal, true);
    } catch (e) {
      d.dispose();
      throw d.timedOut() ? clientTimeout(`${req.method} ${req.path}: no answer within ${d.ms} ms`) : e;
    }
    d.stopTimer();
    res.once('close', d.dispose);
    const close = () => res.destroy();
    return {
      status: res.statusCode ?? 0,
      headers: res.headers,
      warnings: warningsOf(res),
      body: res,
      close,
      async text() {
        const chunks: Buffer[] = [];
        try {
          for await (const c of res) chunks.push(c as Buffer);
        } finally {
          close();
        }
        return Buffer.concat(chunks).toString('utf8');
      },
    };
  }

  /**
   * Sends an upgrade request (the caller sets `upgrade` and the protocol's headers) on a
   * connection of its own. Resolves with the connection on 101, or with the whole answer when the
   * server refused (any other status). The deadline covers the handshake only.
   */
  async upgrade(req: HttpRequest): Promise<UpgradedResponse | HttpResponse> {
    const d = this.deadline(req);
    try {
      const r = await this.attempts(req, d.signal, true, true);
      if (!(r instanceof http.IncomingMessage)) {
        // node:http would end the upgraded connection when the deadline's signal fires later.
        d.dispose();
        return r;
      }
      const chunks: Buffer[] = [];
      for await (const c of r) chunks.push(c as Buffer);
      return { status: r.statusCode ?? 0, headers: r.headers, warnings: warningsOf(r), body: Buffer.concat(chunks) };
    } catch (e) {
      throw d.timedOut() ? clientTimeout(`${req.method} ${req.path}: no answer within ${d.ms} ms`) : e;
    } finally {
      d.dispose();
    }
  }

  /** Closes idle keep-alive connections; requests in flight finish. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * One controller per request, aborted by the caller's signal or by the deadline. node:http
   * listens to the signal it was given for the request's whole life, so a stream's deadline is
   * stopped (stopTimer) once its headers are in, while the caller's signal still ends it.
   */
  private deadline(req: HttpRequest) {
    const ac = new AbortController();
    const ms = req.timeoutMs ?? this.timeoutMs;
    let timedOut = false;
    const onAbort = () => ac.abort(req.signal!.reason);
    if (req.signal?.aborted) ac.abort(req.signal.reason);
    else req.signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined = ms
      ? setTimeout(() => {
          timedOut = true;
          ac.abort();
        }, ms)
      : undefined;
    const stopTimer = () => {
      clearTimeout(timer);
      timer = undefined;
    };
    return {
      signal: ac.signal,
      ms,
      timedOut: () => timedOut,
      stopTimer,
      dispose: () => {
        stopTimer();
        req.signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  private attempts(req: HttpRequest, signal: AbortSignal | undefined, own: boolean): Promise<http.IncomingMessage>;
  private attempts(req: HttpRequest, signal: AbortSignal | undefined, own: boolean, upgrade: true): Promise<http.IncomingMessage | UpgradedResponse>;
  private async attempts(req: HttpRequest, signal: AbortSignal | undefined, own: boolean, upgrade = false): Promise<http.IncomingMessage | UpgradedResponse> {
    const url = this.url(req.path, req.query);
    const streamed = isStreamBody(req.body);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(url, req, signal, own, upgrade);
      } catch (e) {
        if (e instanceof RequestBodyError) throw e.bodyError;
        const code = (e as NodeJS.ErrnoException).code ?? '';
        // A streamed body was consumed (at least in part) by this attempt: it cannot be sent again.
        const retriable = !streamed && (RETRIABLE_ALWAYS.has(code) || (req.idempotent === true && RETRIABLE_IDEMPOTENT.has(code)));
        if (signal?.aborted) throw e;
        // Whatever went wrong before an answer (refused, reset, TLS, DNS), there is no Status.
        if (!retriable || attempt >= this.retry.attempts) throw new ConnectionError(url.origin, e as NodeJS.ErrnoException);
        const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        await sleep(delay * (0.8 + Math.random() * 0.4), signal);
      }
    }
  }

  private send(url: URL, req: HttpRequest, signal: AbortSignal | undefined, own: boolean, upgrade: boolean): Promise<http.IncomingMessage | UpgradedResponse> {
    const headers: Record<string, string> = { ...this.defaultHeaders, ...req.headers };
    const body = req.body;
    const streamed = isStreamBody(body);
    if (body !== undefined && !streamed) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      // An answer can come before a streamed body is sent (413, 401): from then on the rest of
      // the body does not matter, nor do errors from writing it to a connection the server closed.
      let answered = false;
      let sent = !streamed;
      // A streamed body goes on a connection of its own: one left half-sent is never reused.
      const agent = own || streamed ? false : this.agent;
      const r = this.mod.request(url, { method: req.method, headers, signal, agent, ...this.tlsRequestOptions }, (res) => {
        answered = true;
        // The answer is complete and the body is not: stop sending it.
        if (!sent) res.once('close', () => !sent && r.destroy());
        resolve(res);
      });
      if (upgrade) {
        r.on('upgrade', (res, socket, head) => {
          answered = true;
          resolve({ status: 101, headers: res.headers, socket, head });
        });
      }
      r.on('error', (e) => {
        if (!answered) reject(e);
      });
      if (!streamed) {
        r.end(body);
        return;
      }
      const source = body instanceof Readable ? body : Readable.from(body, { objectMode: false });
      let sourceError: Error | undefined;
      source.once('error', (e) => (sourceError = e));
      pipeline(source, r).then(
        () => (sent = true),
        (e: Error) => {
          sent = true;
          if (answered) return;
          answered = true;
          r.destroy();
          reject(sourceError ? new RequestBodyError(sourceError) : e);
        },
      );
    });
  }
}

function isStreamBody(body: RequestBody | undefined): body is Readable | AsyncIterable<Uint8Array> {
  return body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array);
}

function warningsOf(res: http.IncomingMessage): string[] {
  const raw = res.headersDistinct?.warning ?? [];
  const out: string[] = [];
  for (const h of raw) out.push(...parseWarningHeader(h));
  return out;
}

/** The warn-texts of a Warning header value: `299 - "text", 299 - "other"`. */
export function parseWarningHeader(value: string): string[] {
  const out: string[] = [];
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(value); m; m = re.exec(value)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export { sleep as abortableSleep };
