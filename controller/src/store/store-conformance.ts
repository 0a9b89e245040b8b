// The behaviour every Store must have, as one suite run against each implementation.

import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ExpiredError, StoreReason, type ObjectKey, type Store, type StoreEvent, type StoredObject, type Watch } from './types.js';

export interface StoreFixture {
  store: Store;
  /** Closes the store and opens the same storage again; only for persistent implementations. */
  reopen?: () => Store;
  /** Closes whatever is open and removes the storage. */
  cleanup(): void;
}

export interface FixtureOptions {
  /** The store's wall clock (log ages for compaction). */
  now: () => number;
  /** Where the store reports watcher errors and trace lines. */
  log: (line: string) => void;
}

export type StoreFactory = (opts: FixtureOptions) => StoreFixture;

export function key(resource: string, namespace: string, name: string): ObjectKey {
  return { resource, namespace, name };
}

export function obj(k: ObjectKey, spec: Record<string, unknown> = {}): StoredObject {
  const metadata: StoredObject['metadata'] = { name: k.name, uid: `uid-${k.namespace}-${k.name}` };
  if (k.namespace !== '') metadata.namespace = k.namespace;
  return { apiVersion: 'sandkasten.dev/v1', kind: 'Thing', metadata, spec };
}

function rvOf(o: StoredObject): number {
  return Number(o.metadata.resourceVersion);
}

function mustOk(r: ReturnType<Store['create']>): StoredObject {
  assert.ok(r.ok, `write failed: ${JSON.stringify(r)}`);
  return r.object;
}

/** A compact view of events for assertions. */
function brief(e: StoreEvent): string {
  return `${e.type} ${e.object.metadata.namespace ?? ''}/${e.object.metadata.name} ${e.resourceVersion}`;
}

export function storeConformance(name: string, factory: StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let clock = 1_000_000;
    let logged: string[] = [];
    let fx: StoreFixture;
    let s: Store;
    const open = (): void => {
      clock = 1_000_000;
      logged = [];
      fx = factory({ now: () => clock, log: (l) => logged.push(l) });
      s = fx.store;
    };
    afterEach(() => fx?.cleanup());

    test('create, get, getRaw: rv set, input untouched, output frozen', () => {
      open();
      assert.equal(s.currentResourceVersion(), 0);
      const k = key('sessions', 'default', 'a');
      const input = obj(k, { image: 'x' });
      const before = structuredClone(input);
      const created = mustOk(s.create(k, input));
      assert.deepEqual(input, before, 'the caller’s object is not modified');
      assert.equal(created.metadata.resourceVersion, '1');
      assert.equal(s.currentResourceVersion(), 1);
      assert.deepEqual(created, { ...before, metadata: { ...before.metadata, resourceVersion: '1' } });
      const got = s.get(k);
      assert.deepEqual(got, created);
      assert.deepEqual(JSON.parse(s.getRaw(k)!), created);
      const stored = s.get(k)!;
      assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored.metadata) && Object.isFrozen(stored['spec']));
      assert.throws(() => {
        (got!.metadata as { name: string }).name = 'b';
      }, TypeError);
      (input.spec as Record<string, unknown>)['image'] = 'changed later';
      assert.equal((s.get(k)!['spec'] as Record<string, unknown>)['image'], 'x', 'the store kept no reference to the input');
      assert.equal(s.get(key('sessions', 'default', 'missing')), undefined);
      assert.equal(s.getRaw(key('sessions', 'other', 'a')), undefined);
      assert.equal(s.get(key('workspaces', 'default', 'a')), undefined);
    });

    test('create: AlreadyExists, and the counter does not move', () => {
      open();
      const k = key('sessions', 'default', 'a');
      mustOk(s.create(k, obj(k)));
      assert.deepEqual(s.create(k, obj(k, { other: true })), { ok: false, reason: StoreReason.AlreadyExists });
      assert.equal(s.currentResourceVersion(), 1);
      // Same name in another namespace or resource is another key.
      mustOk(s.create(key('sessions', 'ns2', 'a'), obj(key('sessions', 'ns2', 'a'))));
      mustOk(s.create(key('workspaces', 'default', 'a'), obj(key('workspaces', 'default', 'a'))));
    });

    test('update: expected rv, Conflict with the current object, unconditional, NotFound', () => {
      open();
      const k = key('sessions', 'default', 'a');
      const v1 = mustOk(s.create(k, obj(k, { n: 1 })));
      const v2 = mustOk(s.update(k, obj(k, { n: 2 }), rvOf(v1)));
      assert.equal(rvOf(v2), 2);
      assert.deepEqual(s.get(k)!['spec'], { n: 2 });
      const stale = s.update(k, obj(k, { n: 3 }), rvOf(v1));
      assert.equal(stale.ok, false);
      assert.ok(!stale.ok && stale.reason === StoreReason.Conflict);
      assert.deepEqual(stale.current, v2);
      const v3 = mustOk(s.update(k, obj(k, { n: 4 })));
      assert.equal(rvOf(v3), 3);
      // The incoming metadata.resourceVersion is not trusted: the store sets its own.
      const withRv = obj(k, { n: 5 });
      withRv.metadata.resourceVersion = '999';
      assert.equal(mustOk(s.update(k, withRv)).metadata.resourceVersion, '4');
      assert.deepEqual(s.update(key('sessions', 'default', 'nope'), obj(key('sessions', 'default', 'nope'))), {
        ok: false,
        reason: StoreReason.NotFound,
      });
      assert.equal(s.currentResourceVersion(), 4);
    });

    test('two updates from the same rv: exactly one wins', () => {
      open();
      const k = key('sessions', 'default', 'a');
      const base = rvOf(mustOk(s.create(k, obj(k))));
      const results = [s.update(k, obj(k, { by: 'A' }), base), s.update(k, obj(k, { by: 'B' }), base)];
      assert.equal(results.filter((r) => r.ok).length, 1);
      assert.equal(results.filter((r) => !r.ok && r.reason === StoreReason.Conflict).length, 1);
      assert.deepEqual(s.get(k)!['spec'], { by: 'A' });
    });

    test('delete: last state with the delete’s rv, then NotFound; Conflict on a stale rv', () => {
      open();
      const k = key('sessions', 'default', 'a');
      const v1 = mustOk(s.create(k, obj(k, { n: 1 })));
      const v2 = mustOk(s.update(k, obj(k, { n: 2 })));
      const stale = s.delete(k, rvOf(v1));
      assert.ok(!stale.ok && stale.reason === StoreReason.Conflict);
      assert.deepEqual(stale.current, v2);
      const del = mustOk(s.delete(k, rvOf(v2)));
      assert.equal(del.metadata.resourceVersion, '3');
      assert.deepEqual(del['spec'], { n: 2 });
      assert.equal(s.get(k), undefined);
      assert.deepEqual(s.delete(k), { ok: false, reason: StoreReason.NotFound });
      assert.deepEqual(s.update(k, obj(k)), { ok: false, reason: StoreReason.NotFound });
      // The name is free again; the counter never goes back.
      assert.equal(mustOk(s.create(k, obj(k))).metadata.resourceVersion, '4');
      assert.equal(s.list('sessions').items.length, 1);
    });

    test('resourceVersion is one strictly increasing counter across resources', () => {
      open();
      const seen: number[] = [];
      for (let i = 0; i < 30; i++) {
        const k = key(['sessions', 'workspaces', 'images'][i % 3]!, i % 3 === 2 ? '' : 'ns', `o${i}`);
        seen.push(rvOf(mustOk(s.create(k, obj(k)))));
        if (i % 4 === 0) seen.push(rvOf(mustOk(s.update(k, obj(k, { i })))));
      }
      assert.deepEqual(seen, seen.map((_, i) => i + 1));
      assert.equal(s.currentResourceVersion(), seen.length);
    });

    test('list: sorted by namespace then name, namespace filter, revision, raw', () => {
      open();
      const names = ['b', 'a', 'c', 'a-1', 'Z', 'aa'];
      const spaces = ['prod', 'dev', '', 'dev-2'];
      const shuffled: ObjectKey[] = [];
      for (const ns of spaces) for (const n of names) shuffled.push(key('sessions', ns, n));
      shuffled.sort((x, y) => ((x.name.charCodeAt(0) * 7 + x.namespace.length * 13) % 11) - ((y.name.charCodeAt(0) * 7 + y.namespace.length * 13) % 11));
      for (const k of shuffled) mustOk(s.create(k, obj(k)));
      mustOk(s.create(key('workspaces', 'dev', 'w'), obj(key('workspaces', 'dev', 'w'))));
      const expected = [...spaces].sort().flatMap((ns) => [...names].sort().map((n) => `${ns}/${n}`));
      const all = s.list('sessions');
      assert.deepEqual(all.items.map((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`), expected);
      assert.equal(all.resourceVersion, s.currentResourceVersion());
      const dev = s.list('sessions', 'dev');
      assert.deepEqual(dev.items.map((o) => o.metadata.name), [...names].sort());
      assert.ok(dev.items.every((o) => o.metadata.namespace === 'dev'));
      assert.deepEqual(s.list('sessions', '').items.map((o) => o.metadata.name), [...names].sort());
      assert.deepEqual(s.list('sessions', 'nope').items, []);
      assert.deepEqual(s.list('nothing').items, []);
      const raw = s.listRaw('sessions');
      assert.equal(raw.resourceVersion, all.resourceVersion);
      assert.deepEqual(raw.items.map((t) => JSON.parse(t)), all.items);
      // The result is the caller's: changing the array does not change the store.
      all.items.length = 0;
      assert.equal(s.list('sessions').items.length, names.length * spaces.length);
      // Deletes and updates keep the order.
      mustOk(s.delete(key('sessions', 'dev', 'a')));
      mustOk(s.update(key('sessions', 'dev', 'b'), obj(key('sessions', 'dev', 'b'), { x: 1 })));
      assert.deepEqual(s.list('sessions', 'dev').items.map((o) => o.metadata.name), ['Z', 'a-1', 'aa', 'b', 'c']);
    });

    test('writes check that the key matches the object', () => {
      open();
      const k = key('sessions', 'default', 'a');
      assert.throws(() => s.create(k, obj(key('sessions', 'default', 'b'))), TypeError);
      assert.throws(() => s.create(k, obj(key('sessions', 'other', 'a'))), TypeError);
      assert.throws(() => s.create(key('images', '', 'i'), obj(key('images', 'ns', 'i'))), TypeError);
      assert.throws(() => s.create(key('', 'default', 'a'), obj(k)), TypeError);
      assert.throws(() => s.create(k, { apiVersion: 'v1', kind: 'X' } as unknown as StoredObject), TypeError);
      assert.equal(s.currentResourceVersion(), 0);
      mustOk(s.create(key('images', '', 'i'), obj(key('images', '', 'i'))));
    });

    test('watch without a revision: only future events, filtered by resource and namespace', () => {
      open();
      const k0 = key('sessions', 'a', 'before');
      mustOk(s.create(k0, obj(k0)));
      const all: string[] = [];
      const nsA: string[] = [];
      const ws: string[] = [];
      s.watch({ resource: 'sessions' }, (e) => all.push(brief(e)));
      s.watch({ resource: 'sessions', namespace: 'a' }, (e) => nsA.push(brief(e)));
      s.watch({ resource: 'workspaces' }, (e) => ws.push(brief(e)));
      const ka = key('sessions', 'a', 'x');
      const kb = key('sessions', 'b', 'y');
      mustOk(s.create(ka, obj(ka)));
      mustOk(s.create(kb, obj(kb)));
      mustOk(s.update(ka, obj(ka, { n: 1 })));
      mustOk(s.delete(kb));
      mustOk(s.create(key('workspaces', 'a', 'w'), obj(key('workspaces', 'a', 'w'))));
      assert.deepEqual(all, ['ADDED a/x 2', 'ADDED b/y 3', 'MODIFIED a/x 4', 'DELETED b/y 5']);
      assert.deepEqual(nsA, ['ADDED a/x 2', 'MODIFIED a/x 4']);
      assert.deepEqual(ws, ['ADDED a/w 6']);
    });

    test('watch events: the object, its raw text and rv agree; DELETED carries the last state', () => {
      open();
      const events: StoreEvent[] = [];
      s.watch({ resource: 'sessions' }, (e) => events.push(e));
      const k = key('sessions', 'n', 'a');
      const created = mustOk(s.create(k, obj(k, { v: 1 })));
      const deleted = mustOk(s.delete(k));
      assert.equal(events.length, 2);
      assert.deepEqual(events[0]!.object, created);
      assert.deepEqual(events[1]!.object, deleted);
      assert.deepEqual(events[1]!.object['spec'], { v: 1 });
      for (const e of events) {
        assert.equal(rvOf(e.object), e.resourceVersion);
        assert.deepEqual(JSON.parse(e.raw), e.object);
        assert.ok(Object.isFrozen(e.object));
      }
    });

    test('watch from a revision: replay then live, no gap and no repeat', () => {
      open();
      const keys = ['a', 'b', 'c'].map((n) => key('sessions', 'n', n));
      for (const k of keys) mustOk(s.create(k, obj(k)));
      mustOk(s.update(keys[0]!, obj(keys[0]!, { n: 1 })));
      mustOk(s.delete(keys[1]!));
      const got: string[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 2 }, (e) => got.push(brief(e)));
      assert.deepEqual(got, ['ADDED n/c 3', 'MODIFIED n/a 4', 'DELETED n/b 5'], 'replay is synchronous');
      mustOk(s.create(keys[1]!, obj(keys[1]!)));
      assert.deepEqual(got.slice(3), ['ADDED n/b 6']);
      // From 0: everything, in order.
      const full: number[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 0 }, (e) => full.push(e.resourceVersion));
      assert.deepEqual(full, [1, 2, 3, 4, 5, 6]);
      // From the current revision: nothing replayed, the next write arrives.
      const fromNow: number[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: s.currentResourceVersion() }, (e) => fromNow.push(e.resourceVersion));
      assert.deepEqual(fromNow, []);
      mustOk(s.update(keys[2]!, obj(keys[2]!, { z: 1 })));
      assert.deepEqual(fromNow, [7]);
      assert.deepEqual(full, [1, 2, 3, 4, 5, 6, 7]);
      // Namespace filter applies to the replay too.
      mustOk(s.create(key('sessions', 'm', 'q'), obj(key('sessions', 'm', 'q'))));
      const onlyM: string[] = [];
      s.watch({ resource: 'sessions', namespace: 'm', sinceResourceVersion: 0 }, (e) => onlyM.push(brief(e)));
      assert.deepEqual(onlyM, ['ADDED m/q 8']);
    });

    test('watch: a write from inside a callback reaches every watcher in rv order', () => {
      open();
      const first: number[] = [];
      const second: number[] = [];
      const k1 = key('sessions', 'n', 'one');
      const k2 = key('sessions', 'n', 'two');
      s.watch({ resource: 'sessions' }, (e) => {
        first.push(e.resourceVersion);
        if (e.object.metadata.name === 'one' && e.type === 'ADDED') mustOk(s.create(k2, obj(k2)));
      });
      s.watch({ resource: 'sessions' }, (e) => second.push(e.resourceVersion));
      mustOk(s.create(k1, obj(k1)));
      assert.deepEqual(first, [1, 2]);
      assert.deepEqual(second, [1, 2], 'the nested write did not overtake the outer one');
      assert.ok(s.get(k2));
    });

    test('watch: writes from callbacks during replay come after the replay', () => {
      open();
      for (let i = 0; i < 5; i++) mustOk(s.create(key('sessions', 'n', `o${i}`), obj(key('sessions', 'n', `o${i}`))));
      const other: number[] = [];
      s.watch({ resource: 'sessions' }, (e) => other.push(e.resourceVersion));
      const got: string[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 1 }, (e) => {
        got.push(brief(e));
        if (e.resourceVersion === 2) mustOk(s.update(key('sessions', 'n', 'o0'), obj(key('sessions', 'n', 'o0'), { x: 1 })));
        if (e.resourceVersion === 3) mustOk(s.delete(key('sessions', 'n', 'o4')));
      });
      assert.deepEqual(got, ['ADDED n/o1 2', 'ADDED n/o2 3', 'ADDED n/o3 4', 'ADDED n/o4 5', 'MODIFIED n/o0 6', 'DELETED n/o4 7']);
      assert.deepEqual(other, [6, 7]);
    });

    test('watch opened inside a callback starts after what it replayed, without repeats', () => {
      open();
      const inner: number[] = [];
      let opened = false;
      s.watch({ resource: 'sessions' }, (e) => {
        if (opened) return;
        opened = true;
        // Opened while event e is being delivered: from "now" it must not see e again.
        s.watch({ resource: 'sessions' }, (x) => inner.push(x.resourceVersion));
        // And from 0 it sees e once, in the replay.
        const replayed: number[] = [];
        s.watch({ resource: 'sessions', sinceResourceVersion: 0 }, (x) => replayed.push(x.resourceVersion));
        assert.deepEqual(replayed, [e.resourceVersion]);
      });
      const k = key('sessions', 'n', 'a');
      mustOk(s.create(k, obj(k)));
      mustOk(s.update(k, obj(k)));
      assert.deepEqual(inner, [2]);
    });

    test('watch: a throwing callback is reported and breaks nothing', () => {
      open();
      const good: number[] = [];
      let bad = 0;
      s.watch({ resource: 'sessions' }, () => {
        bad++;
        throw new Error('boom');
      });
      s.watch({ resource: 'sessions' }, (e) => good.push(e.resourceVersion));
      const k = key('sessions', 'n', 'a');
      const r = s.create(k, obj(k));
      assert.ok(r.ok);
      mustOk(s.update(k, obj(k)));
      assert.deepEqual(good, [1, 2]);
      assert.equal(bad, 2, 'the failing watcher still gets later events');
      assert.ok(logged.some((l) => l.includes('boom')), 'the error was reported');
      // Throwing during replay is survived too.
      const replayed: number[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 0 }, (e) => {
        replayed.push(e.resourceVersion);
        throw new Error('replay boom');
      });
      assert.deepEqual(replayed, [1, 2]);
    });

    test('watch close: stops delivery, idempotent, allowed inside a callback', () => {
      open();
      const got: number[] = [];
      const w = s.watch({ resource: 'sessions' }, (e) => got.push(e.resourceVersion));
      const k = key('sessions', 'n', 'a');
      mustOk(s.create(k, obj(k)));
      w.close();
      w.close();
      mustOk(s.update(k, obj(k)));
      assert.deepEqual(got, [1]);
      const once: number[] = [];
      let self: Watch | undefined;
      self = s.watch({ resource: 'sessions', sinceResourceVersion: 0 }, (e) => {
        once.push(e.resourceVersion);
        self?.close();
      });
      mustOk(s.update(k, obj(k)));
      // Closing during replay: the handle is not returned yet, so the first replayed event cannot
      // close it; it closes on the next delivery.
      assert.deepEqual(once, [1, 2, 3]);
      mustOk(s.update(k, obj(k)));
      assert.deepEqual(once, [1, 2, 3]);
    });

    test('watch: bad revisions are refused', () => {
      open();
      const k = key('sessions', 'n', 'a');
      mustOk(s.create(k, obj(k)));
      for (const bad of [-1, 1.5, Number.NaN]) {
        assert.throws(() => s.watch({ resource: 'sessions', sinceResourceVersion: bad }, () => {}), TypeError);
      }
      assert.throws(() => s.watch({ resource: 'sessions', sinceResourceVersion: 2 }, () => {}), ExpiredError);
      assert.throws(() => s.watch({ resource: '' }, () => {}), TypeError);
    });

    test('compact: keeps the newest N and the young; watch before the cut is Expired', () => {
      open();
      const ks = Array.from({ length: 10 }, (_, i) => key('sessions', 'n', `o${i}`));
      for (const k of ks) mustOk(s.create(k, obj(k))); // rv 1..10 at t0
      clock += 60_000;
      for (const k of ks.slice(0, 5)) mustOk(s.update(k, obj(k, { v: 2 }))); // rv 11..15 at t0+60s
      assert.equal(s.oldestResourceVersion(), 0);

      assert.equal(s.compact(0, 120_000), 0); // everything is younger than 2 minutes
      assert.equal(s.oldestResourceVersion(), 0);

      assert.equal(s.compact(12, 30_000), 3); // the age bound would cut 1..10, the count bound keeps 4..15
      assert.equal(s.oldestResourceVersion(), 3);
      assert.throws(() => s.watch({ resource: 'sessions', sinceResourceVersion: 2 }, () => {}), (e: unknown) => {
        assert.ok(e instanceof ExpiredError);
        assert.equal(e.requested, 2);
        assert.equal(e.oldest, 3);
        return true;
      });
      const resumed: number[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 3 }, (e) => resumed.push(e.resourceVersion));
      assert.deepEqual(resumed, Array.from({ length: 12 }, (_, i) => i + 4), 'resuming at the bound replays all that is left');

      // Count no longer binds: the age bound keeps the young 11..15; maxRows slices the cut.
      assert.equal(s.compact(0, 30_000, 4), 4);
      assert.equal(s.oldestResourceVersion(), 7);
      assert.equal(s.compact(0, 30_000, 4), 3);
      assert.equal(s.oldestResourceVersion(), 10);
      assert.equal(s.compact(0, 30_000, 4), 0);
      s.compact(); // defaults: keeps 1000 events, nothing to do
      assert.equal(s.oldestResourceVersion(), 10);

      clock += 60_000;
      s.compact(2, 0); // keep only the newest two
      assert.equal(s.oldestResourceVersion(), 13);
      // Current state is untouched by compaction, and the counter goes on.
      assert.equal(s.list('sessions').items.length, 10);
      assert.equal(s.get(ks[9]!)!.metadata.resourceVersion, '10');
      assert.equal(mustOk(s.update(ks[9]!, obj(ks[9]!))).metadata.resourceVersion, '16');
      s.compact(0, 0); // rv 16 was written this very millisecond: it is not older than 0 ms
      assert.equal(s.oldestResourceVersion(), 15);
      clock += 1;
      s.compact(0, 0);
      assert.equal(s.oldestResourceVersion(), 16);
      const fromNow: number[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 16 }, (e) => fromNow.push(e.resourceVersion));
      mustOk(s.delete(ks[0]!));
      assert.deepEqual(fromNow, [17]);
      assert.throws(() => s.compact(-1), TypeError);
      assert.throws(() => s.compact(0, 0, 0), TypeError);
    });

    test('restart: the counter resumes and watch history survives', (t) => {
      open();
      if (fx.reopen === undefined) return t.skip('not persistent');
      const ks = Array.from({ length: 5 }, (_, i) => key('sessions', 'n', `o${i}`));
      for (const k of ks) mustOk(s.create(k, obj(k)));
      mustOk(s.delete(ks[4]!)); // rv 6, the newest row
      s = fx.reopen();
      assert.equal(s.currentResourceVersion(), 6);
      assert.equal(s.list('sessions').items.length, 4);
      assert.deepEqual(s.get(ks[0]!)!.metadata.resourceVersion, '1');
      assert.ok(Object.isFrozen(s.get(ks[0]!)));
      const history: string[] = [];
      s.watch({ resource: 'sessions', sinceResourceVersion: 3 }, (e) => history.push(brief(e)));
      assert.deepEqual(history, ['ADDED n/o3 4', 'ADDED n/o4 5', 'DELETED n/o4 6']);
      assert.equal(mustOk(s.create(ks[4]!, obj(ks[4]!))).metadata.resourceVersion, '7');
      assert.deepEqual(history.at(-1), 'ADDED n/o4 7');

      // Compact everything away, including the newest row: the counter still never goes back.
      clock += 1_000;
      s.compact(0, 0);
      assert.equal(s.oldestResourceVersion(), 7);
      mustOk(s.delete(ks[4]!)); // rv 8
      clock += 1;
      s.compact(0, 0);
      s = fx.reopen();
      assert.equal(s.currentResourceVersion(), 8);
      assert.equal(s.oldestResourceVersion(), 8);
      assert.throws(() => s.watch({ resource: 'sessions', sinceResourceVersion: 5 }, () => {}), ExpiredError);
      assert.equal(mustOk(s.create(ks[4]!, obj(ks[4]!))).metadata.resourceVersion, '9');
    });

    test('closed store refuses calls; close is idempotent', () => {
      open();
      const k = key('sessions', 'n', 'a');
      mustOk(s.create(k, obj(k)));
      s.close();
      s.close();
      assert.throws(() => s.get(k));
      assert.throws(() => s.create(k, obj(k)));
      assert.throws(() => s.watch({ resource: 'sessions' }, () => {}));
    });
  });
}
