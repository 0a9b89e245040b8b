// One suite for every ListerWatcher implementation: an informer over it must list into its cache,
// follow live changes, resume a broken watch without loss or duplication, and re-list after a
// 410 so that the cache converges. Writes always go to a real Store; the source under test
// (in-process or HTTP) only carries them to the informer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { ObjectKey, Store, StoredObject } from '../store/types.js';
import { Informer } from './informer.js';
import { objectKey, type ListerWatcher, type RuntimeObject } from './types.js';

export interface Source {
  /** Where the test writes. */
  store: Store;
  /** What the informer reads, backed by `store`. */
  lw: ListerWatcher;
  /** Breaks every open watch and refuses new lists/watches until reconnect(). */
  disconnect(): Promise<void>;
  reconnect(): Promise<void>;
  close(): Promise<void>;
}

export const resource = 'sessions';

export function session(namespace: string, name: string, image = 'x'): StoredObject {
  return {
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: { name, namespace, uid: randomUUID() },
    spec: { image },
  };
}

export function keyOf(namespace: string, name: string): ObjectKey {
  return { resource, namespace, name };
}

export function create(store: Store, namespace: string, name: string, image = 'x'): StoredObject {
  const r = store.create(keyOf(namespace, name), session(namespace, name, image));
  assert.ok(r.ok, `create ${namespace}/${name}`);
  return r.object;
}

export function update(store: Store, namespace: string, name: string, image: string): StoredObject {
  const cur = store.get(keyOf(namespace, name));
  assert.ok(cur, `update ${namespace}/${name}: exists`);
  const next = structuredClone(cur) as StoredObject;
  (next.spec as { image: string }).image = image;
  const r = store.update(keyOf(namespace, name), next);
  assert.ok(r.ok, `update ${namespace}/${name}`);
  return r.object;
}

export function remove(store: Store, namespace: string, name: string): void {
  assert.ok(store.delete(keyOf(namespace, name)).ok, `delete ${namespace}/${name}`);
}

/** Polls `check` until it stops throwing (returns its value) or the deadline passes. */
export async function eventually<T>(check: () => T, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms: ${(err as Error).message}`);
    }
    await delay(5);
  }
}

interface Seen {
  type: 'add' | 'update' | 'delete';
  key: string;
  rv: number;
  image?: string;
}

/** Records every handler call of an informer. */
export function record(informer: Informer): Seen[] {
  const seen: Seen[] = [];
  const push = (type: Seen['type'], o: RuntimeObject) =>
    seen.push({ type, key: objectKey(o), rv: Number(o.metadata.resourceVersion), image: (o as { spec?: { image?: string } }).spec?.image });
  informer.addEventHandler({
    onAdd: (o) => push('add', o),
    onUpdate: (_old, o) => push('update', o),
    onDelete: (o) => push('delete', o),
  });
  return seen;
}

/** The cache as `key => image@rv`, for comparing with the store. */
function snapshot(objs: Array<RuntimeObject | StoredObject>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objs) out[objectKey(o as RuntimeObject)] = `${(o as { spec?: { image?: string } }).spec?.image}@${o.metadata.resourceVersion}`;
  return out;
}

export function assertConverged(informer: Informer, store: Store): void {
  assert.deepEqual(snapshot(informer.list()), snapshot(store.list(resource).items));
}

const fastBackoff = { initialMs: 10, maxMs: 200 };

export function listerWatcherConformance(name: string, open: () => Promise<Source>): void {
  const setup = async (t: { after(fn: () => Promise<void>): void }) => {
    const src = await open();
    const informer = new Informer({ listerWatcher: src.lw, backoff: fastBackoff });
    t.after(async () => {
      await informer.stop();
      await src.close();
    });
    return { src, store: src.store, informer };
  };

  test(`${name}: the first list fills the cache and syncs`, async (t) => {
    const { store, informer } = await setup(t);
    create(store, 'a', 's1');
    create(store, 'a', 's2');
    create(store, 'b', 's1');
    assert.equal(informer.hasSynced(), false);
    const seen = record(informer);
    informer.start();
    await informer.waitForSync({ timeoutMs: 10_000 });
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(informer.keys().sort(), ['a/s1', 'a/s2', 'b/s1']);
    assert.deepEqual(seen.map((s) => `${s.type} ${s.key}`).sort(), ['add a/s1', 'add a/s2', 'add b/s1']);
    assert.equal(informer.resourceVersion, String(store.currentResourceVersion()));
    assert.equal(informer.list('b').length, 1);
    assert.equal(informer.get('a/s2')?.metadata.name, 's2');
    assertConverged(informer, store);

    // A handler registered after the sync still hears about every cached object.
    const late = record(informer);
    assert.equal(late.length, 3);
  });

  test(`${name}: live adds, updates and deletes reach the cache and the handlers in order`, async (t) => {
    const { store, informer } = await setup(t);
    create(store, 'a', 'keep');
    const seen = record(informer);
    informer.start();
    await informer.waitForSync({ timeoutMs: 10_000 });
    seen.length = 0;

    create(store, 'a', 'x');
    update(store, 'a', 'x', 'y');
    update(store, 'a', 'keep', 'k2');
    remove(store, 'a', 'x');
    await eventually(() => assert.equal(seen.length, 4), 10_000, 'four events');
    assert.deepEqual(
      seen.map((s) => `${s.type} ${s.key} ${s.image}`),
      ['add a/x x', 'update a/x y', 'update a/keep k2', 'delete a/x y'],
    );
    assertConverged(informer, store);
    assert.equal(informer.resourceVersion, String(store.currentResourceVersion()));
    assert.equal(informer.lists, 1);

    const cached = informer.get('a/keep')!;
    assert.ok(Object.isFrozen(cached) && Object.isFrozen(cached.metadata), 'cached objects are frozen');
    assert.throws(() => ((cached.metadata as { name: string }).name = 'other'), TypeError);
  });

  test(`${name}: a broken watch resumes from its last resourceVersion without loss or duplication`, async (t) => {
    const { src, store, informer } = await setup(t);
    for (const n of ['a', 'b', 'c']) create(store, 'ns', n);
    const seen = record(informer);
    informer.start();
    await informer.waitForSync({ timeoutMs: 10_000 });
    seen.length = 0;
    const watchesBefore = informer.watches;

    await src.disconnect();
    create(store, 'ns', 'd');
    update(store, 'ns', 'a', 'a2');
    remove(store, 'ns', 'b');
    update(store, 'ns', 'a', 'a3');
    await delay(50); // the informer retries against the dead source meanwhile
    await src.reconnect();

    await eventually(() => assertConverged(informer, store), 10_000, 'convergence');
    await delay(50); // room for a duplicate to show up, if there were one
    assert.deepEqual(
      seen.map((s) => `${s.type} ${s.key} ${s.image}`),
      ['add ns/d x', 'update ns/a a2', 'delete ns/b x', 'update ns/a a3'],
    );
    const rvs = seen.map((s) => s.rv);
    assert.deepEqual(rvs, [...rvs].sort((x, y) => x - y), 'in resourceVersion order');
    assert.equal(new Set(rvs).size, rvs.length, 'no event delivered twice');
    assert.equal(informer.lists, 1, 'resumed without a re-list');
    assert.ok(informer.watches > watchesBefore, 'a new watch was opened');

    // Still live after the resume.
    create(store, 'ns', 'e');
    await eventually(() => assert.ok(informer.get('ns/e')), 10_000, 'live after resume');
  });

  test(`${name}: a compacted resourceVersion (410) re-lists and the cache converges`, async (t) => {
    const { src, store, informer } = await setup(t);
    for (const n of ['keep', 'change', 'gone1', 'gone2']) create(store, 'ns', n);
    const seen = record(informer);
    informer.start();
    await informer.waitForSync({ timeoutMs: 10_000 });
    seen.length = 0;

    await src.disconnect();
    remove(store, 'ns', 'gone1');
    remove(store, 'ns', 'gone2');
    update(store, 'ns', 'change', 'changed');
    create(store, 'ns', 'new');
    create(store, 'ns', 'brief');
    remove(store, 'ns', 'brief'); // born and gone while away: never seen at all
    await delay(10); // compact(…, 0) keeps rows written in the current millisecond
    store.compact(0, 0);
    assert.ok(store.oldestResourceVersion() > Number(informer.resourceVersion), 'history is gone');
    await src.reconnect();

    await eventually(() => assertConverged(informer, store), 10_000, 'convergence');
    await delay(50);
    assert.equal(informer.lists, 2, 'exactly one re-list');
    assert.deepEqual(
      seen.map((s) => `${s.type} ${s.key}`).sort(),
      ['add ns/new', 'delete ns/gone1', 'delete ns/gone2', 'update ns/change'],
      'deleted objects removed with onDelete, the unchanged one left alone',
    );
    assert.equal(informer.resourceVersion, String(store.currentResourceVersion()));

    create(store, 'ns', 'after');
    await eventually(() => assert.ok(informer.get('ns/after')), 10_000, 'watching again after the re-list');
  });

  test(`${name}: waitForSync times out while the source is down; stop ends everything`, async (t) => {
    const { src, informer } = await setup(t);
    await src.disconnect();
    informer.start();
    await assert.rejects(informer.waitForSync({ timeoutMs: 100 }), /not synced after 100 ms/);
    const pending = informer.waitForSync();
    await informer.stop();
    await assert.rejects(pending, /stopped before sync/);
    assert.ok(informer.lists >= 2, 'the list was retried');
    await src.reconnect();
  });
}
