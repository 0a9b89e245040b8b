// Test helpers: a real API server over a real SQLite store in a temp dir, on 127.0.0.1, that can
// go down and come back on the same port with the same store (a daemon restart, as a client sees
// it), plus the daemon's in-process client for writes while the HTTP side is down.

import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import type { Workspace } from '@sandkasten/api-schemas';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiServer, openSqliteStore } from '@sandkasten/controller';
import type { apiserver, store as storeNs } from '@sandkasten/controller';
import { Client as InProcessClient } from '@sandkasten/controller/dist/client/index.js';

export interface LiveServer {
  url: string;
  port: number;
  apiKey: string;
  dir: string;
  store: storeNs.Store;
  /** Writes through the API server's own write path, also while the HTTP side is down. */
  inproc: InProcessClient;
  /** Stops listening (watch streams end, connections close); the store stays open. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function liveServer(opts: { apiKey?: string; tls?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<LiveServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-client-'));
  const store = openSqliteStore(join(dir, 'sandkasten.db'));
  const apiKey = opts.apiKey ?? 'test-key';
  // Bookmarks every 200 ms (instead of 5 s) so tests can see them.
  const make = () => createApiServer({ store, config: { api_key: apiKey }, tls: opts.tls, watch: { bookmarkIntervalMs: 200 } });
  let api: apiserver.ApiServer | undefined = make();
  const { port } = await api.listen('127.0.0.1:0');
  const scheme = opts.tls ? 'https' : 'http';
  const s: LiveServer = {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    apiKey,
    dir,
    store,
    inproc: new InProcessClient(store, { fieldValidation: 'Ignore' }),
    async down() {
      const a = api;
      api = undefined;
      await a?.close(200);
    },
    async up() {
      if (api) return;
      api = make();
      await api.listen(`127.0.0.1:${port}`);
    },
    async cleanup() {
      await s.down();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return s;
}

/** A TCP proxy to `target` that resets the first `resets` connections it accepts. */
export async function resettingProxy(targetPort: number, resets: number): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (accepted <= resets) {
      // Read the request first, so the client has sent it before the reset (the worst case).
      client.once('data', () => client.resetAndDestroy());
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A free port on 127.0.0.1 (nothing listens there when this resolves). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export const GV = 'sandkasten.dev/v1';

export function workspace(name: string, extra: { labels?: Record<string, string>; namespace?: string; finalizers?: string[]; spec?: Workspace['spec'] } = {}): Workspace {
  return {
    apiVersion: GV,
    kind: 'Workspace',
    metadata: {
      name,
      ...(extra.namespace ? { namespace: extra.namespace } : {}),
      ...(extra.labels ? { labels: extra.labels } : {}),
      ...(extra.finalizers ? { finalizers: extra.finalizers } : {}),
    },
    spec: { ...extra.spec },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
