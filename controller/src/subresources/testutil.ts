// Test support: a real API server with the subresources over a real store, and a real runner
// (standalone, PID 1 of its own namespaces, file operations confined to a temp root) standing in
// for a Ready session's sandbox. Needs root (the runner's namespaces).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '@sandkasten/api-schemas';
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
