// Test support: a real API server with the subresources over a real store, and a real runner
// (standalone, PID 1 of its own namespaces, file operations confined to a temp root) standing in
// for a Ready session's sandbox. Needs root (the runner's namespaces).

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '@sandkasten/api-schemas';
import { WebSocket } from 'ws';
import { createApiServer, type ApiServer } from '../apiserver/index.js';
import { Client } from '../client/index.js';
import { startRunner, type StandaloneRunner, type StartOptions } from '../runner/testing.js';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import type { TerminalCommandFn } from './attach.js';
import { sessionSubresources, type SubresourceConfig } from './routes.js';
import type { SandboxLocation } from './session.js';

export const isRoot = process.getuid?.() === 0;
export const API_KEY = 'test-key';
export const NS = 'default';

export interface Harness {
  api: ApiServer;
  store: Store;
  client: Client;
  url: string;
  dir: string;
  runner: StandaloneRunner;
  /** Where the located sandbox's cgroup is (tests may point it at a real one). */
  location: SandboxLocation;
  /** URL of a session's subresource: sub(name, 'fs', {path: '/x'}). */
  sub(name: string, sub: string, query?: Record<string, string>): string;
  /** fetch with the bearer token. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** Creates a session and sets its status (default: Ready). */
  session(name: string, status?: Session['status']): Promise<Session>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  config?: SubresourceConfig;
  runner?: StartOptions;
  terminal?: TerminalCommandFn;
  activityIntervalMs?: number;
}

export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-subres-'));
  const store = openSqliteStore(join(dir, 'sandkasten.db'));
  const client = new Client(store);
  const runner = await startRunner({ killGraceMs: 200, ...o.runner });
  const location: SandboxLocation = { socketPath: runner.socketPath, cgroup: '/sk-test-none', containerId: 'none', agentRoot: '/nonexistent' };
  const extend = sessionSubresources({
    client,
    config: o.config ?? {},
    dataDir: dir,
    locate: () => location,
    terminal: o.terminal,
    activityIntervalMs: o.activityIntervalMs,
  });
  const api = createApiServer({ store, config: { api_key: API_KEY }, extend });
  const { url } = await api.listen('127.0.0.1:0');
  const h: Harness = {
    api,
    store,
    client,
    url,
    dir,
    runner,
    location,
    sub(name, sub, query) {
      const q = query ? `?${new URLSearchParams(query).toString()}` : '';
      return `${url}/apis/sandkasten.dev/v1/namespaces/${NS}/sessions/${name}/${sub}${q}`;
    },
    fetch(u, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${API_KEY}`);
      return fetch(u, { ...init, headers });
    },
    async session(name, status = { phase: 'Ready' }) {
      await client.create('sessions', NS, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name }, spec: {} });
      return client.patchStatus('sessions', NS, name, { status });
    },
    async close() {
      await api.close(500);
      await runner.stop();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** The JSON body of a response (a Status for errors). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function json(r: Response): Promise<any> {
  const t = await r.text();
  try {
    return JSON.parse(t);
  } catch {
    throw new Error(`not JSON (${r.status}): ${t.slice(0, 200)}`);
  }
}

/** A terminal client: collects output, waits for text in it. */
export class Term {
  out = '';
  controls: Record<string, unknown>[] = [];
  closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, binary) => {
      if (binary) this.out += (data as Buffer).toString('utf8');
      else this.controls.push(JSON.parse((data as Buffer).toString('utf8')) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<Term> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws'), opts.protocols ?? [], { headers: opts.headers });
      const t = new Term(ws);
      ws.once('open', () => resolve(t));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  send(text: string): void {
    this.ws.send(Buffer.from(text), { binary: true });
  }

  control(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** Waits until the output (after `from`) matches. */
  async waitFor(re: RegExp, ms = 5000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.out.slice(from));
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; output so far: ${JSON.stringify(this.out)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!existsSync(`/proc/${pid}`)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !existsSync(`/proc/${pid}`);
}
