// Controllers over a real source of objects, with a toy reconciler: objects converge, failures
// back off, terminal errors stay put, requeueAfter is honoured, one key is never reconciled
// twice at once, and a (re)started manager reconciles every existing object once. Run over the
// in-process store and over HTTP against the real API server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Store, StoredObject } from '../store/types.js';
import type { ReconcileContext } from './controller.js';
import { TerminalError } from './errors.js';
import { create, eventually, keyOf, update } from './informer-conformance.js';
import { memoryLogger, type Logger } from './log.js';
import { Manager, type ManagedControllerOptions } from './manager.js';
import { objectKey, splitKey, type ListerWatcher, type RuntimeObject } from './types.js';

export interface Cluster {
  /** Where the test writes specs. */
  store: Store;
  listerWatcher(resource: string): ListerWatcher;
  /** Writes `status` onto `obj` through the status path, conditional on obj's resourceVersion. */
  writeStatus(resource: string, obj: RuntimeObject, status: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

type Spec = { image?: string; workspace?: string };
const specOf = (o: RuntimeObject | StoredObject) => ((o as { spec?: Spec }).spec ?? {}) as Spec;
const statusOf = (o: RuntimeObject | StoredObject) => (o as { status?: { message?: string } }).status;
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

type T = { after(fn: () => Promise<void>): void };

export function controllerConformance(name: string, open: () => Promise<Cluster>): void {
  // Cleanups run last-in first-out, so managers stop before their source closes.
  const cleanups = new WeakMap<T, Array<() => Promise<void>>>();

  async function setup(t: T) {
    const cluster = await open();
    const stack = [() => cluster.close()];
    cleanups.set(t, stack);
    t.after(async () => {
      for (const fn of stack.reverse()) await fn();
    });
    return cluster;
  }

  /** A manager with one controller over sessions; stopped after the test. */
  async function run(t: T, cluster: Cluster, options: Omit<ManagedControllerOptions, 'for' | 'name'>, logger?: Logger) {
    const manager = new Manager({ listerWatcher: (r) => cluster.listerWatcher(r), logger: logger ?? memoryLogger(), informerBackoff: { initialMs: 10, maxMs: 100 } });
    const controller = manager.addController({ name: 'toy', for: 'sessions', ...options });
    cleanups.get(t)!.push(() => manager.stop());
    await manager.start();
    return { manager, controller };
  }

  /** The toy: status.message = "image=<spec.image>", written only when it differs. */
  function toy(cluster: Cluster, counter: { n: number }) {
    return {
      async reconcile(_key: string, ctx: ReconcileContext) {
        counter.n++;
        const obj = ctx.object;
        if (obj === undefined) return;
        const want = `image=${specOf(obj).image}`;
        if (statusOf(obj)?.message === want) return;
        ctx.log.info(`writing ${want}`);
        await cluster.writeStatus('sessions', obj, { phase: 'Ready', message: want });
      },
    };
  }

  function converged(store: Store) {
    for (const o of store.list('sessions').items) {
      assert.equal(statusOf(o)?.message, `image=${specOf(o).image}`, `${objectKey(o as RuntimeObject)} converged`);
    }
  }

  test(`${name}: a toy reconciler converges every object, follows changes, then goes quiet`, async (t) => {
    const cluster = await setup(t);
    for (let i = 0; i < 6; i++) create(cluster.store, i % 2 ? 'a' : 'b', `s${i}`, `img-${i}`);
    const count = { n: 0 };
    const log = memoryLogger();
    await run(t, cluster, { reconciler: toy(cluster, count), workers: 2 }, log);
    await eventually(() => converged(cluster.store), 10_000, 'initial convergence');

    update(cluster.store, 'a', 's1', 'img-new');
    create(cluster.store, 'b', 's9', 'img-9');
    await eventually(() => converged(cluster.store), 10_000, 'convergence after changes');
    // Our own status writes come back as events once more and find nothing to do; then quiet.
    await delay(100);
    const settled = count.n;
    await delay(150);
    assert.equal(count.n, settled, 'no reconciles without changes');
    assert.ok(settled <= 3 * 8, `${settled} reconciles for 8 convergences`);
    assert.ok(log.lines.some((l) => /^INFO reconcile\[\d+\] toy a\/s1 writing image=img-new$/.test(l)), 'reconcile id in the line');
  });

  test(`${name}: a failing reconcile is retried with growing backoff until it succeeds`, async (t) => {
    const cluster = await setup(t);
    create(cluster.store, 'ns', 'flaky');
    const attempts: Array<{ at: number; retries: number }> = [];
    const log = memoryLogger();
    const { controller } = await run(
      t,
      cluster,
      {
        baseDelayMs: 20,
        reconciler: {
          async reconcile(_key, ctx) {
            attempts.push({ at: performance.now(), retries: ctx.retries });
            if (attempts.length <= 3) throw new Error('transient');
          },
        },
      },
      log,
    );
    await eventually(() => assert.equal(attempts.length, 4), 10_000, 'four attempts');
    await delay(100);
    assert.equal(attempts.length, 4, 'no retry after the success');
    assert.deepEqual(attempts.map((a) => a.retries), [0, 1, 2, 3]);
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    [20, 40, 80].forEach((min, i) => assert.ok(gaps[i]! >= min - 2, `gap ${i}: ${gaps[i]!.toFixed(1)} >= ${min}`));
    assert.equal(controller.queue.numRequeues('ns/flaky'), 0, 'success forgets the failures');
    assert.deepEqual({ ...controller.stats }, { success: 1, requeueAfter: 0, error: 3, terminal: 0 });
    assert.ok(log.lines.some((l) => /^WARN reconcile\[\d+\] toy ns\/flaky => error, retry 1 in 20 ms \([\d.]+ ms\): transient$/.test(l)));
  });

  test(`${name}: a TerminalError is logged and not retried until the object changes`, async (t) => {
    const cluster = await setup(t);
    create(cluster.store, 'ns', 'bad');
    let calls = 0;
    const log = memoryLogger();
    const { controller } = await run(
      t,
      cluster,
      {
        baseDelayMs: 5,
        reconciler: {
          async reconcile() {
            calls++;
            throw new TerminalError('image "x" can never be pulled');
          },
        },
      },
      log,
    );
    await eventually(() => assert.equal(calls, 1), 10_000, 'first reconcile');
    await delay(200); // 5 ms backoff would have retried many times by now
    assert.equal(calls, 1);
    assert.equal(controller.stats.terminal, 1);
    assert.ok(log.lines.some((l) => /^ERROR reconcile\[\d+\] toy ns\/bad => terminal error, not retried .*can never be pulled/.test(l)));
    update(cluster.store, 'ns', 'bad', 'other');
    await eventually(() => assert.equal(calls, 2), 10_000, 'reconciled after a change');
  });

  test(`${name}: requeueAfterMs brings the key back no sooner than asked`, async (t) => {
    const cluster = await setup(t);
    create(cluster.store, 'ns', 'ttl');
    const at: number[] = [];
    await run(t, cluster, {
      reconciler: {
        async reconcile() {
          at.push(performance.now());
          return at.length < 4 ? { requeueAfterMs: 40 } : {};
        },
      },
    });
    await eventually(() => assert.equal(at.length, 4), 10_000, 'four reconciles');
    await delay(120);
    assert.equal(at.length, 4, 'no requeue once none was asked for');
    at.slice(1).forEach((x, i) => assert.ok(x - at[i]! >= 38, `gap ${i}: ${(x - at[i]!).toFixed(1)} >= 40`));
  });

  test(`${name}: many updates, several workers — never two reconciles of one key at once, last state seen`, async (t) => {
    const cluster = await setup(t);
    const names = ['k0', 'k1', 'k2', 'k3', 'k4'];
    for (const n of names) create(cluster.store, 'ns', n, 'v0');
    const inFlight = new Map<string, number>();
    const lastSeen = new Map<string, string | undefined>();
    let violations = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    await run(t, cluster, {
      workers: 4,
      reconciler: {
        async reconcile(key, ctx) {
          const n = (inFlight.get(key) ?? 0) + 1;
          inFlight.set(key, n);
          if (n > 1) violations++;
          maxConcurrent = Math.max(maxConcurrent, ++concurrent);
          await delay(1 + Math.random() * 8);
          lastSeen.set(key, ctx.object && specOf(ctx.object).image);
          concurrent--;
          inFlight.set(key, n - 1);
        },
      },
    });
    for (let i = 1; i <= 120; i++) {
      update(cluster.store, 'ns', names[i % names.length]!, `v${i}`);
      if (i % 10 === 0) await delay(3);
    }
    await eventually(() => {
      for (const n of names) assert.equal(lastSeen.get(`ns/${n}`), specOf(cluster.store.get(keyOf('ns', n))!).image);
      assert.equal(concurrent, 0);
    }, 15_000, 'every key reconciled at its last state');
    assert.equal(violations, 0, 'a key was reconciled twice at once');
    assert.ok(maxConcurrent > 1, `different keys ran concurrently (max ${maxConcurrent})`);
  });

  test(`${name}: every existing object is reconciled exactly once at start, and again after a restart`, async (t) => {
    const cluster = await setup(t);
    for (let i = 0; i < 10; i++) create(cluster.store, `ns${i % 3}`, `obj${i}`);
    const counts = new Map<string, number>();
    const reconciler = {
      async reconcile(key: string) {
        counts.set(key, (counts.get(key) ?? 0) + 1);
      },
    };
    const first = await run(t, cluster, { reconciler, workers: 3 });
    await eventually(() => assert.equal(counts.size, 10), 10_000, 'all reconciled');
    await delay(100);
    assert.deepEqual([...new Set(counts.values())], [1], 'each once');
    await first.manager.stop();

    await run(t, cluster, { reconciler, workers: 3 });
    await eventually(() => assert.deepEqual([...new Set(counts.values())], [2]), 10_000, 'all reconciled again');
    await delay(100);
    assert.deepEqual([...new Set(counts.values())], [2], 'each once more, no more');
  });

  test(`${name}: a secondary watch maps workspace changes to the sessions that use them`, async (t) => {
    const cluster = await setup(t);
    const ws = { resource: 'workspaces', namespace: 'ns', name: 'data' };
    assert.ok(cluster.store.create(ws, { apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'data', namespace: 'ns', uid: randomUUID() }, spec: {} }).ok);
    assert.ok(cluster.store.create(keyOf('ns', 'user'), { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'user', namespace: 'ns', uid: randomUUID() }, spec: { image: 'x', workspace: 'data' } }).ok);
    create(cluster.store, 'ns', 'other');
    const reconciled: string[] = [];
    let manager!: Manager;
    const mapped: ManagedControllerOptions['watches'] = [
      {
        resource: 'workspaces',
        map: (w) =>
          manager
            .informer('sessions')
            .list(w.metadata.namespace ?? '')
            .filter((s) => specOf(s).workspace === w.metadata.name)
            .map(objectKey),
      },
    ];
    ({ manager } = await run(t, cluster, {
      watches: mapped,
      reconciler: {
        async reconcile(key) {
          reconciled.push(key);
        },
      },
    }));
    await eventually(() => assert.deepEqual([...reconciled].sort(), ['ns/other', 'ns/user']), 10_000, 'initial');
    reconciled.length = 0;
    const cur = structuredClone(cluster.store.get(ws)!) as StoredObject;
    cur.spec = { reclaimPolicy: 'Delete' };
    assert.ok(cluster.store.update(ws, cur).ok);
    await eventually(() => assert.deepEqual(reconciled, ['ns/user']), 10_000, 'the user of the workspace');
    await delay(50);
    assert.deepEqual(reconciled, ['ns/user'], 'and nobody else');
    const { name: wsName, namespace } = splitKey('ns/data');
    assert.equal(wsName, 'data');
    assert.equal(namespace, 'ns');
  });

  test(`${name}: stop aborts in-flight reconciles, waits for them and leaves no timers or sockets`, async (t) => {
    // Handles of the previous test's server are released a moment after its close resolves.
    await eventually(() => assert.equal(sockets(), 0), 5_000, 'earlier sockets gone');
    const cluster = await setup(t);
    create(cluster.store, 'ns', 'slow');
    create(cluster.store, 'ns', 'later');
    const before = timers();
    const socketsBefore = sockets();
    const events: string[] = [];
    let slowStarted = false;
    const { manager, controller } = await run(t, cluster, {
      workers: 2,
      reconciler: {
        async reconcile(key, ctx) {
          if (key === 'ns/later') return { requeueAfterMs: 600_000 };
          slowStarted = true;
          await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
          await delay(20); // cleanup after the abort
          events.push('slow reconcile finished');
        },
      },
    });
    await eventually(() => assert.ok(slowStarted && controller.queue.metrics().waiting === 1), 10_000, 'slow in flight, later parked');
    await manager.stop();
    events.push('stop resolved');
    assert.deepEqual(events, ['slow reconcile finished', 'stop resolved']);
    assert.equal(timers(), before, 'no timer left behind');
    // The server's end of a connection goes a moment after the client's.
    await eventually(() => assert.equal(sockets(), socketsBefore), 1_000, 'no socket left behind');
  });
}
