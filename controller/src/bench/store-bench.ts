// Micro-benchmark of the store in-process: node dist/bench/store-bench.js [objects=10000]
// Figures are per operation on a file-backed store (WAL), with Session-sized objects (~1 KiB).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type ObjectKey, type Store, type StoredObject } from '../store/index.js';

const N = Number(process.argv[2] ?? 10_000);
const NAMESPACES = 100;

function keyOf(i: number): ObjectKey {
  return { resource: 'sessions', namespace: `ns-${i % NAMESPACES}`, name: `session-${i}` };
}

function session(k: ObjectKey, gen: number): StoredObject {
  return {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: {
      name: k.name,
      namespace: k.namespace,
      uid: `6f1c2a3e-0000-4000-8000-${String(gen).padStart(12, '0')}`,
      generation: gen,
      creationTimestamp: '2025-01-01T00:00:00Z',
      labels: { app: 'agent', team: 'research', tier: 'sandbox' },
      annotations: { 'sandkasten.dev/last-applied': '{"spec":{"image":"python:3.12"}}' },
      finalizers: ['sandkasten.dev/cleanup'],
    },
    spec: {
      image: 'python:3.12',
      workspace: { name: 'ws-' + k.name, mountPath: '/workspace' },
      resources: { cpu: '1', memory: '512Mi', pids: 256 },
      network: { mode: 'none' },
      ttlSeconds: 1800,
      env: [{ name: 'LANG', value: 'C.UTF-8' }, { name: 'PATH', value: '/usr/local/bin:/usr/bin:/bin' }],
    },
    status: {
      phase: 'Running',
      observedGeneration: gen,
      conditions: [
        { type: 'Ready', status: 'True', reason: 'RunnerUp', message: 'runner answered', lastTransitionTime: '2025-01-01T00:00:01Z', observedGeneration: gen },
        { type: 'WorkspaceMounted', status: 'True', reason: 'Mounted', message: '', lastTransitionTime: '2025-01-01T00:00:01Z', observedGeneration: gen },
      ],
    },
  };
}

function time(label: string, ops: number, fn: () => void): void {
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0);
  const per = ns / ops;
  const rate = ops / (ns / 1e9);
  console.log(`${label.padEnd(44)} ${fmt(rate).padStart(10)} ops/s ${(per / 1000).toFixed(2).padStart(10)} µs/op`);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function bench(store: Store, label: string): void {
  console.log(`-- ${label}, ${N} objects, ${NAMESPACES} namespaces, object ${JSON.stringify(session(keyOf(0), 1)).length} bytes`);
  time('create', N, () => {
    for (let i = 0; i < N; i++) if (!store.create(keyOf(i), session(keyOf(i), 1)).ok) throw new Error('create');
  });
  const G = 1_000_000;
  const keys = Array.from({ length: 4096 }, () => keyOf(Math.floor(Math.random() * N)));
  time('get (parsed, frozen)', G, () => {
    for (let i = 0; i < G; i++) if (store.get(keys[i & 4095]!) === undefined) throw new Error('get');
  });
  time('getRaw (JSON text)', G, () => {
    for (let i = 0; i < G; i++) if (store.getRaw(keys[i & 4095]!) === undefined) throw new Error('get');
  });
  time(`list all (${N} items)`, 200, () => {
    for (let i = 0; i < 200; i++) store.list('sessions');
  });
  time(`listRaw all + join into a body`, 200, () => {
    for (let i = 0; i < 200; i++) `{"items":[${store.listRaw('sessions').items.join(',')}]}`;
  });
  time(`list all + JSON.stringify (for comparison)`, 20, () => {
    for (let i = 0; i < 20; i++) JSON.stringify({ items: store.list('sessions').items });
  });
  time(`list one namespace (${N / NAMESPACES} items)`, 20_000, () => {
    for (let i = 0; i < 20_000; i++) store.list('sessions', `ns-${i % NAMESPACES}`);
  });
  const watched = { n: 0 };
  const watches = Array.from({ length: 10 }, (_, j) =>
    store.watch({ resource: 'sessions', namespace: j === 0 ? undefined : `ns-${j}` }, () => watched.n++),
  );
  time('update with expected rv (10 watchers)', N, () => {
    for (let i = 0; i < N; i++) {
      const k = keyOf(i);
      const cur = store.get(k)!;
      if (!store.update(k, session(k, 2), Number(cur.metadata.resourceVersion)).ok) throw new Error('update');
    }
  });
  for (const w of watches) w.close();
  let replayed = 0;
  time(`watch replay from 0 (${2 * N} events), per event`, 2 * N, () => {
    store.watch({ resource: 'sessions', sinceResourceVersion: 0 }, () => replayed++).close();
  });
  if (replayed !== 2 * N || watched.n !== N + (N / NAMESPACES) * 9) throw new Error(`watch counts ${replayed} ${watched.n}`);
}

const dir = mkdtempSync(join(tmpdir(), 'sk-store-bench-'));
try {
  const path = join(dir, 'sandkasten.db');
  const s = openSqliteStore(path);
  bench(s, 'file, synchronous=NORMAL');
  s.close();
  time(`reopen (load ${N} objects)`, 1, () => openSqliteStore(path).close());
  const c = openSqliteStore(path);
  time(`compact ${2 * N} log rows, per row`, 2 * N, () => c.compact(0, 0));
  c.close();
  const full = openSqliteStore(join(dir, 'full.db'), { synchronous: 'FULL' });
  time('create, synchronous=FULL (fsync per write)', 2000, () => {
    for (let i = 0; i < 2000; i++) full.create(keyOf(i), session(keyOf(i), 1));
  });
  full.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
