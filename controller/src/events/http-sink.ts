// An EventSink over the REST API, for controllers that run outside the daemon's process: the
// same POST/PUT/GET/DELETE kubectl would send, on kept-alive connections of the sink's own.

import http from 'node:http';
import https from 'node:https';
import type { Event } from '@sandkasten/api-schemas';
import { HttpError } from '../runtime/errors.js';
import type { EventSink, SinkResult } from './sink.js';

export interface HttpEventSinkOptions {
  /** e.g. http://127.0.0.1:8080 (https:// works too) */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** PEM CA certificate(s) to trust for an https:// baseUrl with a private certificate. */
  ca?: string | Buffer;
  /** A request that takes longer fails (default 10 s). */
  timeoutMs?: number;
}

export interface HttpEventSink extends EventSink {
  /** Closes the kept-alive connections. */
  close(): void;
}

const PREFIX = '/apis/sandkasten.dev/v1';

interface Answer {
  status: number;
  body: unknown;
}

export function httpEventSink(options: HttpEventSinkOptions): HttpEventSink {
  const base = new URL(options.baseUrl.replace(/\/+$/, ''));
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:') throw new Error(`unsupported URL scheme in ${options.baseUrl}`);
  const agent = secure ? new https.Agent({ keepAlive: true, ca: options.ca }) : new http.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const basePath = base.pathname.replace(/\/+$/, '');

  function request(method: string, path: string, body?: unknown): Promise<Answer> {
    const what = `${method} ${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        { protocol: base.protocol, hostname: base.hostname, port: base.port, path: basePath + path, method, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              return reject(new Error(`${what}: HTTP ${res.statusCode}: response is not JSON`));
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${what}: no answer within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(e.message.startsWith(what) ? e : new Error(`${what}: ${e.message}`)));
      req.end(payload);
    });
  }

  /** A non-2xx answer as a SinkResult, or thrown as an HttpError carrying the Status message. */
  function outcome(a: Answer, what: string): SinkResult {
    if (a.status >= 200 && a.status < 300) return { ok: true, event: a.body as Event };
    const st = (a.body ?? {}) as { reason?: unknown; message?: unknown };
    if (a.status === 404) return { ok: false, reason: 'NotFound' };
    if (a.status === 409) return { ok: false, reason: st.reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict' };
    const message = typeof st.message === 'string' ? st.message : `HTTP ${a.status}`;
    throw new HttpError(a.status, typeof st.reason === 'string' ? st.reason : 'Error', `${what}: ${message}`);
  }

  const collection = (ns: string) => `${PREFIX}/namespaces/${encodeURIComponent(ns)}/events`;
  const item = (ns: string, name: string) => `${collection(ns)}/${encodeURIComponent(name)}`;
  const nsOf = (e: Event) => e.metadata.namespace ?? '';

  return {
    description: `events at ${base.origin}`,
    async get(namespace, name) {
      const a = await request('GET', item(namespace, name));
      const r = outcome(a, `get event ${namespace}/${name}`);
      return r.ok ? r.event : undefined;
    },
    async create(event) {
      return outcome(await request('POST', `${collection(nsOf(event))}?fieldValidation=Strict`, event), `create event ${nsOf(event)}/${event.metadata.name}`);
    },
    async update(event) {
      const name = event.metadata.name ?? '';
      return outcome(await request('PUT', `${item(nsOf(event), name)}?fieldValidation=Strict`, event), `update event ${nsOf(event)}/${name}`);
    },
    async list() {
      const out: Event[] = [];
      let cont = '';
      // Pages, so a large number of Events never makes one huge response.
      do {
        const a = await request('GET', `${PREFIX}/events?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
        const r = outcome(a, 'list events');
        const body = (r.ok ? r.event : undefined) as unknown as { items?: Event[]; metadata?: { continue?: string } } | undefined;
        if (!Array.isArray(body?.items)) throw new Error('list events: response is not a list');
        out.push(...body.items);
        cont = body.metadata?.continue ?? '';
      } while (cont);
      return out;
    },
    async delete(namespace, name, resourceVersion) {
      const a = await request('DELETE', item(namespace, name), { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion } });
      return outcome(a, `delete event ${namespace}/${name}`);
    },
    close() {
      agent.destroy();
    },
  };
}
