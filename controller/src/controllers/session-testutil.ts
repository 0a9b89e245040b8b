// Test harness for real sandboxes: an API server over a SQLite store in a temp dir, the daemon's
// controllers (startControllers) over the same store, requests over HTTP with fetch, and probes
// for what a sandbox leaves on the host (mounts, cgroups, processes, directories).

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigDefaults, type Event, type ResolvedConfig, type Session } from '@sandkasten/api-schemas';
import { createApiServer, silentLogger, type ApiServer } from '../apiserver/index.js';
import { BUNDLED_NODE_AGENT, BUNDLED_RUNNER } from '../config/index.js';
import { prepareBuiltinImage } from '../images/index.js';
import { memoryLogger, type MemoryLogger } from '../runtime/index.js';
import { agentRoot, NodeAgent, sessionPaths } from '../sandbox/index.js';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { startControllers, type Controllers } from './index.js';

export const isRoot = process.getuid?.() === 0;
export const sandboxSkip = !isRoot ? 'needs root' : !existsSync(BUNDLED_NODE_AGENT) || !existsSync(BUNDLED_RUNNER) ? 'node-agent/runner not built' : false;

export const API = '/apis/sandkasten.dev/v1';
export const sessionsUrl = (ns = 'default') => `${API}/namespaces/${ns}/sessions`;

export interface Reply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface SandboxHarness {
  dir: string;
  dataDir: string;
  store: Store;
  api: ApiServer;
  url: string;
  config: ResolvedConfig;
  controllers: Controllers | undefined;
  logger: MemoryLogger;
  agent: NodeAgent;
  req(method: string, path: string, body?: unknown, contentType?: string): Promise<Reply>;
  /** POSTs a Session; returns it as created. */
  create(name: string, spec?: Session['spec'], ns?: string): Promise<Session>;
  get(name: string, ns?: string): Promise<Session | undefined>;
  /** Polls the Session until `pred` holds; returns it. */
  waitSession(name: string, pred: (s: Session) => boolean, what: string, timeoutMs?: number, ns?: string): Promise<Session>;
  waitGone(name: string, timeoutMs?: number, ns?: string): Promise<void>;
  events(name: string): Promise<Event[]>;
  startControllers(): Promise<void>;
  stopControllers(): Promise<void>;
  close(): Promise<void>;
}

export async function startSandboxHarness(patch: (c: ResolvedConfig) => void = () => {}): Promise<SandboxHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'sk-session-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  prepareBuiltinImage(dataDir);
  const config = loadConfigDefaults();
  config.data_dir = dataDir;
  config.listen = '127.0.0.1:0';
  patch(config);
  const store = openSqliteStore(join(dataDir, 'sandkasten.db'));
  const api = createApiServer({ store, config, logger: silentLogger });
  const { url } = await api.listen('127.0.0.1:0');
  const logger = memoryLogger();
  const agent = new NodeAgent({ binary: BUNDLED_NODE_AGENT, root: agentRoot(dataDir) });
  const h: SandboxHarness = {
    dir,
    dataDir,
    store,
    api,
    url,
    config,
    controllers: undefined,
    logger,
    agent,
    async req(method, path, body, contentType = 'application/json') {
      const r = await fetch(url + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': contentType },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: r.status, body: parsed };
    },
    async create(name, spec = {}, ns = 'default') {
      const r = await h.req('POST', sessionsUrl(ns), { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name }, spec });
      if (r.status !== 201) throw new Error(`POST session ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as Session;
    },
    async get(name, ns = 'default') {
      const r = await h.req('GET', `${sessionsUrl(ns)}/${name}`);
      return r.status === 200 ? (r.body as Session) : undefined;
    },
    async waitSession(name, pred, what, timeoutMs = 10_000, ns = 'default') {
      const end = Date.now() + timeoutMs;
      let last: Session | undefined;
      for (;;) {
        last = await h.get(name, ns);
        if (last && pred(last)) return last;
        if (Date.now() > end) throw new Error(`session ${name}: timed out waiting for ${what}; last: ${JSON.stringify(last?.status)}\n${logger.lines.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    async waitGone(name, timeoutMs = 10_000, ns = 'default') {
      const end = Date.now() + timeoutMs;
      while (await h.get(name, ns)) {
        if (Date.now() > end) throw new Error(`session ${name} still exists: ${JSON.stringify((await h.get(name, ns))?.status)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async events(name) {
      await h.controllers?.recorder.flush();
      const r = await h.req('GET', `${API}/events?fieldSelector=involvedObject.name=${name}`);
      return (r.body.items as Event[]).sort((a, b) => String(a.firstTimestamp).localeCompare(String(b.firstTimestamp)));
    },
    async startControllers() {
      h.controllers = await startControllers({ store, config, logger, dataDir, healthCheckMs: 500, orphanScanMs: 0 });
    },
    async stopControllers() {
      await h.controllers?.stop();
      h.controllers = undefined;
    },
    async close() {
      await h.stopControllers();
      await api.close();
      store.close();
      await cleanupAgentRoot(agent);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await h.startControllers();
  return h;
}

/** Removes every container under the agent's root, then the root. */
export async function cleanupAgentRoot(agent: NodeAgent): Promise<void> {
  try {
    for (const c of await agent.list()) await agent.delete(c.id);
  } catch {
    // nothing there
  }
  rmSync(agent.root, { recursive: true, force: true });
}

// ---- what a sandbox leaves on the host ---------------------------------------------------------

/** Mount points whose source or target mentions `text`. */
export function mountsMentioning(text: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(text));
}

/** cgroup directories named sk-<uid> in any hierarchy. */
export function cgroupsOf(uid: string): string[] {
  const out: string[] = [];
  const roots = ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h))];
  for (const r of roots) {
    const p = join(r, 'sandkasten', `sk-${uid}`);
    if (existsSync(p)) out.push(p);
  }
  return out;
}

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Everything a session's sandbox could leave behind; empty when nothing is. */
export function leftovers(dataDir: string, uid: string, pid?: number): string[] {
  const out: string[] = [];
  const p = sessionPaths(dataDir, uid);
  if (existsSync(p.dir)) out.push(`directory ${p.dir}`);
  for (const m of mountsMentioning(uid)) out.push(`mount ${m}`);
  for (const c of cgroupsOf(uid)) out.push(`cgroup ${c}`);
  if (pid && processAlive(pid)) out.push(`process ${pid}`);
  if (existsSync(join(agentRoot(dataDir), `sk-${uid}`))) out.push(`node-agent state sk-${uid}`);
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
