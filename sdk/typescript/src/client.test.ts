// SandboxClient against a real API server: reads, writes, apply, typed errors, waits.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Image, Session, Workspace } from '@sandkasten/api-schemas';
import {
  AlreadyExistsError,
  ApiError,
  BadRequestError,
  ConflictError,
  InvalidError,
  NotFoundError,
  SandboxClient,
  TimeoutError,
  UnauthorizedError,
  UnknownKindError,
} from './index.js';
import { GV, liveServer, workspace, type LiveServer } from './testutil.js';

let srv: LiveServer;
let c: SandboxClient;

before(async () => {
  srv = await liveServer();
  c = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey });
});
after(async () => {
  c.close();
  await srv.cleanup();
});

describe('reads and writes', () => {
  test('create, get and list, typed by any name of the kind', async () => {
    const created = await c.create(workspace('r1', { labels: { team: 'a' } }));
    assert.equal(created.metadata.namespace, 'default');
    assert.match(created.metadata.uid!, /^[0-9a-f-]{36}$/);
    assert.equal(created.spec?.reclaimPolicy, 'Retain', 'the server fills in defaults');
    await c.create(workspace('r2', { labels: { team: 'b' } }));
    await c.create(workspace('r3', { namespace: 'other', labels: { team: 'a' } }));

    for (const kind of ['Workspace', 'workspaces', 'workspace', 'ws', 'WS', 'workspaces.sandkasten.dev'] as const) {
      const w: Workspace = await c.get(kind, 'r1');
      assert.equal(w.metadata.name, 'r1', kind);
    }
    const ws: Workspace = await c.get('ws', 'r3', { namespace: 'other' });
    assert.equal(ws.metadata.namespace, 'other');

    const names = (l: { items: { metadata: { namespace?: string; name?: string } }[] }) =>
      l.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
    assert.deepEqual(names(await c.list('workspaces')), ['default/r1', 'default/r2']);
    assert.deepEqual(names(await c.list('workspaces', { namespace: 'other' })), ['other/r3']);
    assert.deepEqual(names(await c.list('workspaces', { allNamespaces: true, labelSelector: 'team=a' })), ['default/r1', 'other/r3']);
    assert.deepEqual(names(await c.list('workspaces', { allNamespaces: true, labelSelector: { team: 'b' } })), ['default/r2']);
    assert.deepEqual(names(await c.list('ws', { fieldSelector: 'metadata.name=r2' })), ['default/r2']);
    const l = await c.list('ws', { allNamespaces: true, limit: 2 });
    assert.equal(l.items.length, 2);
    assert.ok(l.metadata.continue);
    const rest = await c.list('ws', { allNamespaces: true, limit: 2, continue: l.metadata.continue });
    assert.equal(rest.items.length, 1);
  });

  test('a client namespace applies to namespaced kinds only', async () => {
    const nc = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey, namespace: 'team-x' });
    try {
      const w = await nc.create(workspace('nsx'));
      assert.equal(w.metadata.namespace, 'team-x');
      const img = await nc.create({ apiVersion: GV, kind: 'Image', metadata: { name: 'img-ns' }, spec: { source: 'builtin://base' } } as Image);
      assert.equal(img.metadata.namespace, undefined, 'Images are cluster-scoped');
      const again: Image = await nc.get('img', 'img-ns', { namespace: 'ignored' });
      assert.equal(again.metadata.name, 'img-ns');
    } finally {
      nc.close();
    }
  });

  test('replace is conditional on resourceVersion; patch merge, json and status', async () => {
    const w = await c.create(workspace('p1'));
    const stale = structuredClone(w);
    w.spec = { reclaimPolicy: 'Delete' };
    const replaced = await c.replace(w);
    assert.equal(replaced.spec?.reclaimPolicy, 'Delete');
    assert.equal(replaced.metadata.generation, 2);
    stale.spec = { reclaimPolicy: 'Retain' };
    await assert.rejects(c.replace(stale), (e: unknown) => e instanceof ConflictError && e.code === 409 && e.reason === 'Conflict');

    const merged = await c.patch('ws', 'p1', { metadata: { labels: { x: '1' } } });
    assert.equal(merged.metadata.labels?.x, '1');
    const jp = await c.patch('ws', 'p1', [{ op: 'replace', path: '/spec/reclaimPolicy', value: 'Retain' }], { type: 'json' });
    assert.equal(jp.spec?.reclaimPolicy, 'Retain');
    const st = await c.patch('ws', 'p1', { status: { phase: 'Available' } }, { subresource: 'status' });
    assert.equal(st.status?.phase, 'Available');
    const ignored = await c.patch('ws', 'p1', { status: { phase: 'Failed' } });
    assert.equal(ignored.status?.phase, 'Available', 'writes to the object keep the stored status');
  });

  test('apply creates, configures, leaves unchanged, removes dropped fields; dry run writes nothing', async () => {
    const m = { apiVersion: GV, kind: 'Workspace', metadata: { name: 'ap1', labels: { a: '1', b: '2' } }, spec: { reclaimPolicy: 'Delete' } } as Workspace;
    const dry = await c.apply(m, { dryRun: true, fieldManager: 'test' });
    assert.equal(dry.metadata.name, 'ap1');
    await assert.rejects(c.get('ws', 'ap1'), NotFoundError);

    const first = await c.apply(m, { fieldManager: 'test' });
    const again = await c.apply(m, { fieldManager: 'test' });
    assert.equal(again.metadata.resourceVersion, first.metadata.resourceVersion, 'unchanged manifest, no write');
    await c.patch('ws', 'ap1', { metadata: { labels: { other: 'x' } } });
    const m2 = structuredClone(m);
    delete m2.metadata.labels!.b;
    const changed = await c.apply(m2, { fieldManager: 'test', force: true });
    assert.deepEqual(changed.metadata.labels, { a: '1', other: 'x' }, 'b (applied before, now dropped) goes; others\' labels stay');
    assert.notEqual(changed.metadata.resourceVersion, first.metadata.resourceVersion);
  });

  test('delete: dry run, preconditions, finalizers and waitForDeletion', async () => {
    const w = await c.create(workspace('d1'));
    await c.delete('ws', 'd1', { dryRun: true });
    assert.equal((await c.get('ws', 'd1')).metadata.uid, w.metadata.uid);
    await assert.rejects(c.delete('ws', 'd1', { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } }), ConflictError);
    const gone = await c.delete('ws', 'd1', { preconditions: { uid: w.metadata.uid } });
    assert.equal(gone.metadata.name, 'd1');
    await assert.rejects(c.get('ws', 'd1'), NotFoundError);
    await c.waitForDeletion('ws', 'd1', { timeoutMs: 1000 });

    await c.create(workspace('d2', { finalizers: ['test.sandkasten.dev/hold'] }));
    const pending = await c.delete('workspace', 'd2');
    assert.ok(pending.metadata.deletionTimestamp, 'held by a finalizer');
    const waiting = c.waitForDeletion('ws', 'd2', { timeoutMs: 5000 });
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(settled, false);
    await c.patch('ws', 'd2', [{ op: 'remove', path: '/metadata/finalizers' }], { type: 'json' });
    await waiting;
    await assert.rejects(c.get('ws', 'd2'), NotFoundError);
  });

  test('server warnings reach onWarning', async () => {
    const warnings: string[] = [];
    const wc = new SandboxClient({ baseUrl: srv.url, apiKey: srv.apiKey, onWarning: (w) => warnings.push(w) });
    try {
      await wc.create({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'warn1' }, spec: { bogus: 1 } } as never);
      assert.deepEqual(warnings, ['unknown field "spec.bogus"']);
      await assert.rejects(
        wc.create({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'warn2' }, spec: { bogus: 1 } } as never, { fieldValidation: 'Strict' }),
        BadRequestError,
      );
    } finally {
      wc.close();
    }
  });

  test('version', async () => {
    const v = await c.version();
    assert.equal(typeof v.gitVersion, 'string');
  });
});

describe('typed errors carry the Status', () => {
  test('NotFound', async () => {
    const e = await c.get('ses', 'nope').catch((x: unknown) => x);
    assert.ok(e instanceof NotFoundError && e instanceof ApiError);
    assert.equal(e.code, 404);
    assert.equal(e.reason, 'NotFound');
    assert.equal(e.status.kind, 'Status');
    assert.match(e.message, /sessions?.* "nope" not found/);
  });

  test('AlreadyExists', async () => {
    await c.create(workspace('dup'));
    await assert.rejects(c.create(workspace('dup')), (e: unknown) => e instanceof AlreadyExistsError && e.code === 409);
  });

  test('Invalid, with a cause per field', async () => {
    const bad = { apiVersion: GV, kind: 'Session', metadata: { name: 'Bad_Name' }, spec: { image: 'base', network: { mode: 'bridgee' } } } as unknown as Session;
    const e = await c.create(bad).catch((x: unknown) => x);
    assert.ok(e instanceof InvalidError);
    assert.equal(e.code, 422);
    const fields = e.causes.map((x) => x.field).sort();
    assert.deepEqual(fields, ['metadata.name', 'spec.network.mode']);
    const mode = e.causes.find((x) => x.field === 'spec.network.mode')!;
    assert.equal(mode.reason, 'FieldValueNotSupported');
    assert.match(mode.message!, /Unsupported value: "bridgee"/);
    assert.equal(e.details?.kind, 'Session');
  });

  test('Unauthorized with a wrong key or none', async () => {
    for (const apiKey of ['wrong', undefined]) {
      const u = new SandboxClient({ baseUrl: srv.url, apiKey });
      await assert.rejects(u.list('sessions'), (e: unknown) => e instanceof UnauthorizedError && e.code === 401);
      u.close();
    }
  });

  test('BadRequest for a malformed selector; UnknownKindError before any request', async () => {
    await assert.rejects(c.list('ws', { labelSelector: 'a in (' }), BadRequestError);
    await assert.rejects(c.get('pods', 'x'), (e: unknown) => e instanceof UnknownKindError && /resource type "pods"/.test(e.message));
    await assert.rejects(
      c.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
      (e: unknown) => e instanceof UnknownKindError && /no matches for kind "ConfigMap" in version "v1"/.test(e.message),
    );
  });
});

describe('waitFor', () => {
  const ready = (status: 'True' | 'False') => ({
    status: { phase: status === 'True' ? 'Available' : 'Pending', conditions: [{ type: 'Ready', status, reason: 'Test', message: '', lastTransitionTime: new Date().toISOString() }] },
  });

  test('resolves when a status write makes the condition true', async () => {
    await c.create(workspace('w1'));
    const p = c.waitFor('ws', 'w1', { condition: 'Ready', timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await c.patch('ws', 'w1', ready('False'), { subresource: 'status' });
    await c.patch('ws', 'w1', { metadata: { labels: { touched: 'yes' } } });
    await c.patch('ws', 'w1', ready('True'), { subresource: 'status' });
    const obj = await p;
    assert.equal(obj.status?.phase, 'Available');
    // already true: at once
    const again = await c.waitFor('workspace', 'w1', { condition: 'ready=true', timeoutMs: 1000 });
    assert.equal(again.metadata.name, 'w1');
    // Ready=False does not hold now
    await assert.rejects(c.waitFor('ws', 'w1', { condition: 'Ready=False', timeoutMs: 300 }), TimeoutError);
  });

  test('a predicate; a timeout; a missing object; deletion while waiting', async () => {
    await c.create(workspace('w2'));
    const p = c.waitFor('ws', 'w2', { condition: (w) => w.metadata.labels?.go === 'now', timeoutMs: 5000 });
    await c.patch('ws', 'w2', { metadata: { labels: { go: 'now' } } });
    assert.equal((await p).metadata.labels?.go, 'now');

    const t0 = Date.now();
    const e = await c.waitFor('ws', 'w2', { condition: 'Ready', timeoutMs: 300 }).catch((x: unknown) => x);
    assert.ok(e instanceof TimeoutError, String(e));
    assert.match(e.message, /timed out after 300ms waiting for condition Ready on workspace.sandkasten.dev\/w2/);
    assert.ok(Date.now() - t0 < 2000);

    await assert.rejects(c.waitFor('ws', 'missing', { condition: 'Ready', timeoutMs: 1000 }), NotFoundError);

    const q = c.waitFor('ws', 'w2', { condition: 'Ready', timeoutMs: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    await c.delete('ws', 'w2');
    await assert.rejects(q, (x: unknown) => x instanceof NotFoundError && /deleted while waiting/.test(x.message));
  });

  test('an aborted signal ends the wait with its reason', async () => {
    await c.create(workspace('w3'));
    const ac = new AbortController();
    const p = c.waitFor('ws', 'w3', { condition: 'Ready', timeoutMs: 0, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop waiting')), 50);
    await assert.rejects(p, /stop waiting/);
  });
});
