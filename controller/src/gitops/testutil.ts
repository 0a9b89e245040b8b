// Test helpers: a real API server over a real SQLite store (no controllers), a temp manifests
// directory with real files, syncers over them, the real skctl binary, and git.

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type TestServer } from '../apiserver/testutil.js';
import type { StoredObject, StoreEvent } from '../store/types.js';
import { GitOpsSyncer, type GitOpsOptions } from './syncer.js';

export const GV = 'sandkasten.dev/v1';
export const SKCTL = fileURLToPath(new URL('../../../kubectl-like-cli/dist/bin/skctl.js', import.meta.url));
export const REPO_MANIFESTS = fileURLToPath(new URL('../../../manifests/', import.meta.url));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value (returned), failing after timeoutMs with what() in the message. */
export async function waitFor<T>(fn: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A Session manifest. */
export function session(name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: GV, kind: 'Session', metadata: { name, ...meta }, spec: { image: 'base', ...spec } }, null, 2);
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real skctl binary against url, with home as its HOME (no user config leaks in). */
export function runSkctl(url: string, apiKey: string, home: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SKCTL, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: join(home, 'config'), SANDKASTEN_SERVER: url, SANDKASTEN_API_KEY: apiKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** git with a fixed identity and no user or system config. */
export function git(dir: string, home: string, args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.com', '-c', 'init.defaultBranch=main', '-C', dir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: home },
  });
}

export interface Env {
  server: TestServer;
  /** The manifests directory (a temp dir). */
  dir: string;
  syncers: GitOpsSyncer[];
  /** Starts a syncer over dir (prune on, fast timings unless overridden). */
  start(opts?: Partial<GitOpsOptions>): Promise<GitOpsSyncer>;
  write(rel: string, text: string): void;
  remove(rel: string): void;
  rename(from: string, to: string): void;
  /** The stored object, or undefined. */
  get(resource: string, namespace: string, name: string): StoredObject | undefined;
  /** The GitOpsSync object's status.syncCount (0 before the first). */
  syncCount(s: GitOpsSyncer): number;
  /** Waits until s has run `count` syncs in all. */
  syncs(s: GitOpsSyncer, count: number, timeoutMs?: number): Promise<void>;
  /** Collects the store's events of these resources from now on. */
  record(resources: string[]): { events: StoreEvent[]; stop(): void };
  /** Runs skctl against the server. */
  skctl(args: string[]): Promise<Run>;
  git(args: string[]): string;
  cleanup(): Promise<void>;
}

export async function setup(): Promise<Env> {
  const server = await startServer({ apiKey: 'test-key' });
  const root = mkdtempSync(join(tmpdir(), 'sk-gitops-'));
  const dir = join(root, 'manifests');
  mkdirSync(dir);
  const home = join(root, 'home');
  mkdirSync(home);
  const env: Env = {
    server,
    dir,
    syncers: [],
    async start(opts = {}) {
      const s = new GitOpsSyncer({ store: server.store, dir, prune: true, intervalSeconds: 3600, ...opts });
      env.syncers.push(s);
      await s.start();
      return s;
    },
    write(rel, text) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), text);
    },
    remove(rel) {
      rmSync(join(dir, rel), { recursive: true });
    },
    rename(from, to) {
      mkdirSync(dirname(join(dir, to)), { recursive: true });
      renameSync(join(dir, from), join(dir, to));
    },
    get(resource, namespace, name) {
      return server.store.get({ resource, namespace, name });
    },
    syncCount(s) {
      const o = server.store.get({ resource: 'gitopssyncs', namespace: '', name: s.name });
      return ((o?.status as { syncCount?: number } | undefined)?.syncCount ?? 0) as number;
    },
    async syncs(s, count, timeoutMs = 10_000) {
      await waitFor(() => env.syncCount(s) >= count, `sync ${count} of ${s.name} (at ${env.syncCount(s)})`, timeoutMs);
    },
    record(resources) {
      const events: StoreEvent[] = [];
      const watches = resources.map((resource) => server.store.watch({ resource }, (e) => events.push(e)));
      return { events, stop: () => watches.forEach((w) => w.close()) };
    },
    skctl(args) {
      return runSkctl(server.url, server.apiKey, home, args);
    },
    git(args) {
      return git(dir, home, args);
    },
    async cleanup() {
      for (const s of env.syncers) await s.stop();
      await server.cleanup();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return env;
}
