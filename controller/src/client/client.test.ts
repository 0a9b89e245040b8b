// The in-process client against a real API server over the same store: what it writes is what
// HTTP clients read, its errors are the Statuses HTTP would answer, and watchers see its writes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Session } from '@sandkasten/api-schemas';
import { SESSIONS, startServer, type TestServer } from '../apiserver/testutil.js';
import type { StoreEvent } from '../store/types.js';
import { AlreadyExistsError, BadRequestError, Client, ConflictError, InvalidError, NotFoundError, retryOnConflict } from './index.js';

const session = (name: string, extra: Partial<Session> = {}): Session => ({
  apiVersion: 'sandkasten.dev/v1',
  kind: 'Session',
  metadata: { name, ...extra.metadata },
  spec: { image: 'base', ...extra.spec },
});

describe('in-process client', () => {
  let s: TestServer;
  let c: Client;
  before(async () => {
    s = await startServer();
    c = new Client(s.store);
  });
  after(() => s.cleanup());

  test('create applies defaults and server metadata; HTTP reads the same object', async () => {
    const created = await c.create('sessions', 'default', session('a', { metadata: { name: 'a', labels: { app: 'x' } } }));
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(created.metadata.resourceVersion);
    const r = await s.req('GET', `${SESSIONS}/a`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, created);
    // A private copy: changing it changes nothing stored.
    created.metadata.labels!.app = 'changed';
    assert.equal((await c.get('sessions', 'default', 'a')).metadata.labels?.app, 'x');
  });

  test('typed errors carry the Status HTTP answers with', async () => {
    await assert.rejects(c.get('sessions', 'default', 'nope'), (e: unknown) => {
      assert.ok(e instanceof NotFoundError);
      assert.equal(e.code, 404);
      assert.equal(e.status.message, 'sessions.sandkasten.dev "nope" not found');
      return true;
    });
    const http = await s.req('GET', `${SESSIONS}/nope`);
    await assert.rejects(c.get('sessions', 'default', 'nope'), (e: NotFoundError) => (assert.deepEqual(e.status, http.body), true));
    await assert.rejects(c.create('sessions', 'default', session('a')), AlreadyExistsError);
    await assert.rejects(c.create('sessions', 'default', session('Bad_Name')), (e: unknown) => {
      assert.ok(e instanceof InvalidError);
      assert.equal(e.code, 422);
      assert.equal(e.status.details?.causes?.[0]?.field, 'metadata.name');
      return true;
    });
    await assert.rejects(c.create('sessions', 'default', { ...session('u'), spec: { image: 'base', bogus: 1 } } as never), BadRequestError);
    await assert.rejects(c.list('sessions', 'default', { labelSelector: 'a in (' }), BadRequestError);
    assert.equal(await c.tryGet('sessions', 'default', 'nope'), undefined);
  });

  test('update: stale resourceVersion is a ConflictError; status is kept; generation grows with spec', async () => {
    const cur = await c.get('sessions', 'default', 'a');
    const stale = structuredClone(cur);
    cur.spec!.ttlSeconds = 60;
    const next = await c.update('sessions', cur);
    assert.equal(next.metadata.generation, 2);
    stale.spec!.ttlSeconds = 30;
    await assert.rejects(c.update('sessions', stale), (e: unknown) => e instanceof ConflictError && e.code === 409);
    // Status only through updateStatus.
    const withStatus = await c.updateStatus('sessions', { ...next, status: { phase: 'Pending' } });
    assert.equal(withStatus.status?.phase, 'Pending');
    assert.equal(withStatus.metadata.generation, 2);
    const again = await c.update('sessions', { ...withStatus, status: { phase: 'Ready' } });
    assert.equal(again.status?.phase, 'Pending');
    // An update that changes nothing writes nothing.
    assert.equal((await c.update('sessions', again)).metadata.resourceVersion, again.metadata.resourceVersion);
    await assert.rejects(c.updateStatus('sessions', { ...stale, status: { phase: 'Ready' } }), ConflictError);
  });

  test('patch and patchStatus merge', async () => {
    const p = await c.patch('sessions', 'default', 'a', { metadata: { labels: { tier: 'one' } }, spec: { ttlSeconds: 5 } });
    assert.deepEqual(p.metadata.labels, { app: 'x', tier: 'one' });
    assert.equal(p.spec?.ttlSeconds, 5);
    const ps = await c.patchStatus('sessions', 'default', 'a', { status: { message: 'hi' } });
    assert.equal(ps.status?.phase, 'Pending');
    assert.equal(ps.status?.message, 'hi');
    const j = await c.patch('sessions', 'default', 'a', [{ op: 'remove', path: '/metadata/labels/tier' }], { type: 'json' });
    assert.deepEqual(j.metadata.labels, { app: 'x' });
    await assert.rejects(c.patch('sessions', 'default', 'nope', {}), NotFoundError);
  });

  test('list filters by namespace and selectors', async () => {
    await c.create('sessions', 'other', session('b', { metadata: { name: 'b', labels: { app: 'y' } } }));
    assert.deepEqual((await c.list('sessions', 'default')).items.map((x) => x.metadata.name), ['a']);
    assert.deepEqual((await c.list('sessions')).items.map((x) => x.metadata.name), ['a', 'b']);
    assert.deepEqual((await c.list('sessions', undefined, { labelSelector: 'app=y' })).items.map((x) => x.metadata.name), ['b']);
    assert.deepEqual((await c.list('sessions', undefined, { fieldSelector: 'metadata.namespace=default' })).items.length, 1);
    assert.match((await c.list('sessions')).resourceVersion, /^\d+$/);
  });

  test('finalizers: add, delete marks, remove of the last one deletes; watchers see each write', async () => {
    const events: StoreEvent[] = [];
    const w = s.store.watch({ resource: 'sessions', namespace: 'other' }, (e) => events.push(e));
    try {
      const f1 = await c.addFinalizer('sessions', 'other', 'b', 'sandkasten.dev/sandbox');
      assert.deepEqual(f1.metadata.finalizers, ['sandkasten.dev/sandbox']);
      // Idempotent: nothing written the second time.
      assert.equal((await c.addFinalizer('sessions', 'other', 'b', 'sandkasten.dev/sandbox')).metadata.resourceVersion, f1.metadata.resourceVersion);
      await c.addFinalizer('sessions', 'other', 'b', 'example.com/two');
      const d = await c.delete('sessions', 'other', 'b');
      assert.equal(d.deleted, false);
      assert.ok(d.object.metadata.deletionTimestamp);
      await assert.rejects(c.addFinalizer('sessions', 'other', 'b', 'example.com/three'), InvalidError);
      const left = await c.removeFinalizer('sessions', 'other', 'b', 'example.com/two');
      assert.deepEqual(left?.metadata.finalizers, ['sandkasten.dev/sandbox']);
      assert.equal(await c.removeFinalizer('sessions', 'other', 'b', 'sandkasten.dev/sandbox'), undefined);
      assert.equal((await s.req('GET', `/apis/sandkasten.dev/v1/namespaces/other/sessions/b`)).status, 404);
      assert.equal(await c.removeFinalizer('sessions', 'other', 'b', 'sandkasten.dev/sandbox'), undefined);
      assert.deepEqual(
        events.map((e) => e.type),
        ['MODIFIED', 'MODIFIED', 'MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED'],
      );
    } finally {
      w.close();
    }
  });

  test('delete without finalizers; preconditions; dry run', async () => {
    await c.create('sessions', 'default', session('c'));
    const dry = await c.delete('sessions', 'default', 'c', { dryRun: true });
    assert.equal(dry.deleted, true);
    assert.ok(await c.tryGet('sessions', 'default', 'c'));
    await assert.rejects(c.delete('sessions', 'default', 'c', { preconditions: { uid: 'x' } }), ConflictError);
    const d = await c.delete('sessions', 'default', 'c');
    assert.equal(d.deleted, true);
    assert.equal(await c.tryGet('sessions', 'default', 'c'), undefined);
    await assert.rejects(c.delete('sessions', 'default', 'c'), NotFoundError);
  });

  test('retryOnConflict re-runs a read-modify-write that lost a race', async () => {
    let n = 0;
    const out = await retryOnConflict(async () => {
      const cur = await c.get('sessions', 'default', 'a');
      if (n++ === 0) await c.patch('sessions', 'default', 'a', { metadata: { annotations: { race: '1' } } });
      cur.metadata.annotations = { ...cur.metadata.annotations, mine: 'yes' };
      return c.update('sessions', cur);
    });
    assert.equal(n, 2);
    assert.deepEqual(out.metadata.annotations, { race: '1', mine: 'yes' });
  });

  test('cluster-scoped resources ignore the namespace', async () => {
    const img = await c.create('images', '', { apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'img' }, spec: { source: 'builtin://host' } } as never);
    assert.equal(img.metadata.namespace, undefined);
    assert.equal((await c.get('images', '', 'img')).metadata.name, 'img');
    assert.deepEqual((await c.list('images', 'ignored')).items.map((x) => x.metadata.name), ['img']);
  });
});
