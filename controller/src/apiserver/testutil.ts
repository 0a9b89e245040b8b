// Test helpers: a real API server over a real SQLite store in a temp dir, on 127.0.0.1:0.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { createApiServer, type ApiServer, type ApiServerOptions } from './server.js';

export const GV = 'sandkasten.dev/v1';
export const SESSIONS = `/apis/${GV}/namespaces/default/sessions`;

export interface TestServer {
  api: ApiServer;
  store: Store;
  url: string;
  dir: string;
  dbPath: string;
  apiKey: string;
  /** fetch with the bearer token; JSON bodies serialised; returns status, headers, parsed body. */
  req(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>;
  /** Stops the server and closes the store (the temp dir stays: see cleanup). */
  stop(): Promise<void>;
  /** stop() and remove the temp dir. */
  cleanup(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: Headers;
  // Test code reads arbitrary fields of responses.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

export async function startServer(
  opts: Partial<Omit<ApiServerOptions, 'store'>> & { apiKey?: string; dir?: string } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sk-apiserver-'));
  const dbPath = join(dir, 'sandkasten.db');
  const store = openSqliteStore(dbPath);
  const apiKey = opts.apiKey ?? 'test-key';
  const api = createApiServer({ ...opts, store, config: { api_key: apiKey, ...opts.config } });
  const { url } = await api.listen('127.0.0.1:0');
  let stopped = false;
  const t: TestServer = {
    api,
    store,
    url,
    dir,
    dbPath,
    apiKey,
    async req(method, path, body, headers = {}) {
      const h: Record<string, string> = { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) };
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        h['content-type'] = 'application/json';
      }
      const res = await fetch(url + path, { method, headers: { ...h, ...headers }, body: payload });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await api.close(1000);
      store.close();
    },
    async cleanup() {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export function session(name: string, extra: { labels?: Record<string, string>; spec?: Record<string, unknown>; finalizers?: string[] } = {}) {
  return {
    apiVersion: GV,
    kind: 'Session',
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.finalizers ? { finalizers: extra.finalizers } : {}) },
    spec: { image: 'base', ...extra.spec },
  };
}

export interface WatchEvent {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
}

/** A watch stream read line by line; `next()` waits for the next event (or rejects on timeout). */
export class WatchStream {
  readonly events: WatchEvent[] = [];
  status = 0;
  ended = false;
  private buf = '';
  private waiters: (() => void)[] = [];
  private req?: http.ClientRequest;
  private consumed = 0;

  static open(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<WatchStream> {
    const w = new WatchStream();
    return new Promise((resolve, reject) => {
      const u = new URL(server.url + path);
      w.req = http.get(
        { host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { authorization: `Bearer ${server.apiKey}`, ...headers } },
        (res) => {
          w.status = res.statusCode ?? 0;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            w.buf += chunk;
            let i: number;
            while ((i = w.buf.indexOf('\n')) >= 0) {
              const line = w.buf.slice(0, i);
              w.buf = w.buf.slice(i + 1);
              if (line.trim()) w.events.push(JSON.parse(line) as WatchEvent);
            }
            w.wake();
          });
          res.on('end', () => {
            if (w.buf.trim() && w.status !== 200) w.events.push({ type: 'HTTP', object: JSON.parse(w.buf) });
            w.ended = true;
            w.wake();
          });
          res.on('error', () => {
            w.ended = true;
            w.wake();
          });
          resolve(w);
        },
      );
      w.req.on('error', reject);
    });
  }

  private wake() {
    for (const f of this.waiters.splice(0)) f();
  }

  /** Waits until at least n events arrived (in total), or the stream ended, or timeout. */
  async waitFor(n: number, timeoutMs = 5000): Promise<WatchEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < n && !this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} watch events, got ${this.events.length}: ${JSON.stringify(this.events.map((e) => e.type))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.events;
  }

  /** The next not-yet-consumed event. */
  async next(timeoutMs = 5000): Promise<WatchEvent> {
    await this.waitFor(this.consumed + 1, timeoutMs);
    const e = this.events[this.consumed];
    if (!e) throw new Error('watch ended');
    this.consumed++;
    return e;
  }

  /** Waits for the stream to end. */
  async end(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('watch did not end');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.req?.destroy();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
