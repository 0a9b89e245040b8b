// A ListerWatcher over the Kubernetes-style REST API: GET a collection, then GET it with
// ?watch=1 and read the newline-delimited JSON event stream. Chunks do not respect line
// boundaries, so partial lines are carried over; an ERROR event with code 410 (or an HTTP 410
// before the stream starts) becomes a GoneError, which makes the informer re-list.
//
// node:http rather than fetch: every request gets its own connection (no agent), destroyed when
// the signal aborts. fetch's pool opens a fresh idle connection after an aborted stream, which
// would outlive stop().

import http from 'node:http';
import https from 'node:https';
import { GoneError, HttpError, WatchError } from './errors.js';
import type { ListerWatcher, ListResult, RuntimeObject, WatchEvent } from './types.js';

export interface HttpListerWatcherOptions {
  /** e.g. http://127.0.0.1:8080 (https:// works too) */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The collection, e.g. /apis/sandkasten.dev/v1/sessions or …/namespaces/ns/sessions. */
  path: string;
  labelSelector?: string;
  /** Abort a list that takes longer (default 60 s); a watch has no deadline. */
  listTimeoutMs?: number;
}

export function httpListerWatcher(options: HttpListerWatcherOptions): ListerWatcher {
  const base = options.baseUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const url = (params: Record<string, string>) => {
    const u = new URL(base + options.path);
    if (options.labelSelector) u.searchParams.set('labelSelector', options.labelSelector);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u;
  };

  return {
    description: options.path,

    async list(): Promise<ListResult> {
      const what = `list ${options.path}`;
      const timeoutMs = options.listTimeoutMs ?? 60_000;
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), timeoutMs);
      let body: { items?: unknown; metadata?: { resourceVersion?: unknown } };
      try {
        const res = await get(url({}), headers, deadline.signal);
        if (res.statusCode !== 200) throw await httpError(res, what);
        body = JSON.parse(await readText(res)) as typeof body;
      } catch (err) {
        if (deadline.signal.aborted) throw new Error(`${what}: no complete answer within ${timeoutMs} ms`);
        if (err instanceof SyntaxError) throw new WatchError(`${what}: response is not JSON`);
        throw err;
      } finally {
        clearTimeout(timer);
      }
      const rv = body?.metadata?.resourceVersion;
      if (!Array.isArray(body?.items) || typeof rv !== 'string') {
        throw new WatchError(`${what}: response is not a list (items/metadata.resourceVersion missing)`);
      }
      for (const item of body.items) checkObject(item, what);
      return { items: body.items as RuntimeObject[], resourceVersion: rv };
    },

    async *watch(resourceVersion: string, signal: AbortSignal): AsyncIterable<WatchEvent> {
      const what = `watch ${options.path}`;
      let res: http.IncomingMessage;
      try {
        res = await get(url({ watch: '1', resourceVersion, allowWatchBookmarks: 'true' }), headers, signal);
      } catch (err) {
        if (signal.aborted) return; // asked to stop: end quietly, as the contract says
        throw err;
      }
      try {
        if (res.statusCode === 410) throw new GoneError((await httpError(res, what)).message);
        if (res.statusCode !== 200) throw await httpError(res, what);
        yield* parseEventStream(res, what);
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      } finally {
        // Ends the connection when the consumer stops early or the stream failed.
        res.destroy();
      }
    },
  };
}

/** One GET on its own connection; rejects with an AbortError when `signal` aborts. */
function get(u: URL, headers: Record<string, string>, signal: AbortSignal): Promise<http.IncomingMessage> {
  const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (mod === undefined) return Promise.reject(new Error(`unsupported URL scheme in ${u.origin}`));
  return new Promise((resolve, reject) => {
    const req = mod.get(u, { headers, signal, agent: false }, resolve);
    req.on('error', reject);
  });
}

async function readText(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Splits a byte stream into JSON lines and turns each into a WatchEvent. */
export async function* parseEventStream(body: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<WatchEvent> {
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') yield parseEvent(line, what);
  }
  pending += decoder.decode();
  // The stream ended cleanly; an unterminated last line is still a whole event if it parses.
  if (pending.trim() !== '') yield parseEvent(pending, what);
}

const eventTypes = new Set(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

export function parseEvent(line: string, what: string): WatchEvent {
  let raw: { type?: unknown; object?: unknown };
  try {
    raw = JSON.parse(line) as typeof raw;
  } catch {
    throw new WatchError(`${what}: malformed event line: ${line.slice(0, 200)}`);
  }
  if (typeof raw !== 'object' || raw === null || typeof raw.type !== 'string' || !eventTypes.has(raw.type)) {
    throw new WatchError(`${what}: event without a known type: ${line.slice(0, 200)}`);
  }
  if (raw.type === 'ERROR') {
    const status = (raw.object ?? {}) as { code?: unknown; reason?: unknown; message?: unknown };
    const message = `${what}: ${typeof status.message === 'string' ? status.message : 'error event'}`;
    if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') throw new GoneError(message);
    throw new WatchError(message);
  }
  if (raw.type === 'BOOKMARK') {
    const rv = (raw.object as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
    if (typeof rv !== 'string') throw new WatchError(`${what}: BOOKMARK without metadata.resourceVersion`);
    return { type: 'BOOKMARK', object: { metadata: { resourceVersion: rv } } };
  }
  checkObject(raw.object, what);
  return { type: raw.type as 'ADDED' | 'MODIFIED' | 'DELETED', object: raw.object as RuntimeObject };
}

function checkObject(obj: unknown, what: string): void {
  const meta = (obj as { metadata?: { name?: unknown } } | null)?.metadata;
  if (typeof obj !== 'object' || obj === null || typeof meta?.name !== 'string') {
    throw new WatchError(`${what}: object without metadata.name`);
  }
}

async function httpError(res: http.IncomingMessage, what: string): Promise<HttpError> {
  const code = res.statusCode ?? 0;
  let reason = res.statusMessage || 'Error';
  let message = `${what}: HTTP ${code}`;
  try {
    const status = JSON.parse(await readText(res)) as { reason?: unknown; message?: unknown };
    if (typeof status?.reason === 'string') reason = status.reason;
    if (typeof status?.message === 'string') message += `: ${status.message}`;
  } catch {
    // Not a Status body; the HTTP status says enough.
  }
  return new HttpError(code, reason, message);
}
