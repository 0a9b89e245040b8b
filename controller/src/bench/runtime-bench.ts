// `node controller/dist/bench/runtime-bench.js`: figures for the controller runtime.
//   1. work queue: keys/s through add → worker → done with a no-op handler;
//   2. informer over HTTP: sync time for N stored objects, watch delivery latency (store write →
//      handler), re-list after a 410;
//   3. controller over HTTP: a toy reconciler writes status through PUT …/status for N objects;
//      time until every object has converged.
// The API server runs in this process (same event loop as the informer), over a temporary
// SQLite file, so the figures are an upper bound on runtime overhead, not network numbers.

import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiServer } from '../apiserver/index.js';
import { openSqliteStore } from '../store/index.js';
import type { StoredObject } from '../store/types.js';
import { Informer, Manager, WorkQueue, httpListerWatcher, type RuntimeObject } from '../runtime/index.js';

const N = Number(process.env.BENCH_OBJECTS ?? 5_000);
const LATENCY_SAMPLES = Number(process.env.BENCH_SAMPLES ?? 1_000);
const token = 'bench';
const group = '/apis/sandkasten.dev/v1';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function benchQueue(): Promise<void> {
  const keys = 10_000;
  const adds = 1_000_000;
  const q = new WorkQueue();
  let processed = 0;
  q.run(async () => void processed++, 4);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < adds; i++) {
    q.add(`ns/k${i % keys}`);
    // Bursts of 100k adds over 10k keys: most find their key still queued.
    if (i % 100_000 === 0) await new Promise((r) => setImmediate(r));
  }
  await q.shutdown({ drain: true });
  const t = ms(t0);
  console.log(`work queue: ${adds} adds over ${keys} keys, 4 workers: ${processed} reconciles in ${t.toFixed(0)} ms ` +
    `(${Math.round(adds / (t / 1000)).toLocaleString('en')} adds/s, ${q.metrics().deduplicated} de-duplicated)`);
}

function session(i: number): StoredObject {
  const name = `s${i}`;
  return { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name, namespace: 'bench', uid: randomUUID() }, spec: { image: 'img' } };
}

async function main(): Promise<void> {
  await benchQueue();

  const dir = mkdtempSync(join(tmpdir(), 'sk-runtime-bench-'));
  const store = openSqliteStore(join(dir, 'bench.db'));
  const api = createApiServer({ store, config: { api_key: token } });
  const { url } = await api.listen('127.0.0.1:0');
  const lw = (r: string) => httpListerWatcher({ baseUrl: url, token, path: `${group}/${r}` });
  try {
    for (let i = 0; i < N; i++) store.create({ resource: 'sessions', namespace: 'bench', name: `s${i}` }, session(i));

    // 2. informer: sync, then delivery latency of single updates.
    const informer = new Informer({ listerWatcher: lw('sessions') });
    let waiting: { key: string; resolve: () => void } | undefined;
    informer.addEventHandler({
      onUpdate: (_o, n) => {
        if (waiting && `${n.metadata.namespace}/${n.metadata.name}` === waiting.key) waiting.resolve();
      },
    });
    let t0 = process.hrtime.bigint();
    informer.start();
    await informer.waitForSync();
    console.log(`informer: synced ${informer.size} objects over HTTP in ${ms(t0).toFixed(0)} ms`);

    const lat: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const key = { resource: 'sessions', namespace: 'bench', name: `s${i % N}` };
      const cur = structuredClone(store.get(key)!) as StoredObject & { spec: { image: string } };
      cur.spec.image = `img-${i}`;
      const seen = new Promise<void>((resolve) => (waiting = { key: `bench/${key.name}`, resolve }));
      t0 = process.hrtime.bigint();
      store.update(key, cur);
      await seen;
      lat.push(ms(t0));
    }
    console.log(`informer: watch delivery (store write → handler) over ${LATENCY_SAMPLES}: ` +
      `p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`);

    // 410: cut the history under a stopped watch, then time the re-list until the cache converges.
    const lists = informer.lists;
    api.server?.closeAllConnections(); // the informer's watch breaks; it retries with backoff
    const bump = { resource: 'sessions', namespace: 'bench', name: 's0' };
    const cur = structuredClone(store.get(bump)!) as StoredObject & { spec: { image: string } };
    cur.spec.image = 'after-compaction';
    store.update(bump, cur);
    await new Promise((r) => setTimeout(r, 20));
    store.compact(0, 0);
    t0 = process.hrtime.bigint();
    while ((informer.get('bench/s0') as { spec?: { image?: string } } | undefined)?.spec?.image !== 'after-compaction') {
      await new Promise((r) => setTimeout(r, 1));
    }
    console.log(`informer: ${informer.lists - lists} re-list(s) after 410, cache converged ${ms(t0).toFixed(0)} ms after compaction (includes the watch retry backoff)`);
    await informer.stop();

    // 3. controller: toy status writes through the API for every object.
    for (const workers of [1, 4]) {
      const tag = `w${workers}`;
      const manager = new Manager({ listerWatcher: lw });
      let reconciles = 0;
      manager.addController({
        name: 'toy',
        for: 'sessions',
        workers,
        reconciler: {
          async reconcile(_key, ctx) {
            reconciles++;
            const o = ctx.object as (RuntimeObject & { status?: { message?: string } }) | undefined;
            if (!o || o.status?.message === tag) return;
            const { namespace, name } = o.metadata;
            const res = await fetch(`${url}${group}/namespaces/${namespace}/sessions/${name}/status`, {
              method: 'PUT',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ ...o, status: { phase: 'Ready', message: tag } }),
            });
            await res.arrayBuffer();
            if (!res.ok) throw new Error(`PUT status: ${res.status}`);
          },
        },
      });
      t0 = process.hrtime.bigint();
      await manager.start();
      const sync = ms(t0);
      const done = () => store.list('sessions').items.every((o) => (o as { status?: { message?: string } }).status?.message === tag);
      while (!done()) await new Promise((r) => setTimeout(r, 10));
      const t = ms(t0);
      await manager.stop();
      console.log(`controller (${workers} worker${workers > 1 ? 's' : ''}): ${N} objects converged via PUT …/status in ${t.toFixed(0)} ms ` +
        `(sync ${sync.toFixed(0)} ms, ${reconciles} reconciles, ${Math.round(N / (t / 1000))} objects/s)`);
    }
  } finally {
    await api.close(0);
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
