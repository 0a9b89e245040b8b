// Test harness for the workspace controller and the reaper: a real SQLite store in a temp dir, the
// in-process client (the API server's write path), an event recorder writing real Events, a
// runtime Manager over the store, and a data_dir. Sessions are plain objects here: no sandboxes.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Event, Session, Workspace } from '@sandkasten/api-schemas';
import { Client } from '../client/index.js';
import { EventRecorder, storeEventSink } from '../events/index.js';
import { Manager, memoryLogger, storeListerWatcher, type MemoryLogger } from '../runtime/index.js';
import { openSqliteStore } from '../store/index.js';
import type { Store } from '../store/types.js';

export interface Harness {
  dir: string;
  dataDir: string;
  store: Store;
  client: Client;
  recorder: EventRecorder;
  logger: MemoryLogger;
  /** A fresh (not yet started) manager over the store; stopped by close(). */
  newManager(): Manager;
  /** Events about the object named `name`, oldest first. */
  events(name: string): Promise<Event[]>;
  session(name: string, spec?: Session['spec'], namespace?: string): Promise<Session>;
  workspace(name: string, spec?: Workspace['spec'], namespace?: string): Promise<Workspace>;
  close(): Promise<void>;
}

export async function startHarness(prefix = 'sk-ctrl-'): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'data')); // the daemon makes data_dir before controllers start
  const store = openSqliteStore(join(dir, 'sandkasten.db'));
  const client = new Client(store);
  const logger = memoryLogger();
  const recorder = new EventRecorder({ sink: storeEventSink(store), component: 'test-controller', logger });
  const managers: Manager[] = [];
  return {
    dir,
    dataDir: join(dir, 'data'),
    store,
    client,
    recorder,
    logger,
    newManager() {
      const m = new Manager({ listerWatcher: (r) => storeListerWatcher(store, r), logger, syncTimeoutMs: 10_000 });
      managers.push(m);
      return m;
    },
    async events(name) {
      await recorder.flush();
      const { items } = await client.list('events', undefined, { fieldSelector: `involvedObject.name=${name}` });
      return items.sort((a, b) => String(a.firstTimestamp).localeCompare(String(b.firstTimestamp)));
    },
    session(name, spec = {}, namespace = 'default') {
      return client.create('sessions', namespace, { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name, namespace }, spec });
    },
    workspace(name, spec = {}, namespace = 'default') {
      return client.create('workspaces', namespace, { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name, namespace }, spec });
    },
    async close() {
      for (const m of managers) await m.stop();
      await recorder.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `fn` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
