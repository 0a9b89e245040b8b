// The resource API over HTTP against a real server and SQLite store: verbs, server-owned fields,
// status split, patch/apply, finalizers, dry runs, validation, errors, auth, selectors, discovery.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GV, SESSIONS, WatchStream, session, startServer, type TestServer } from './testutil.js';

const IMAGES = `/apis/${GV}/images`;
const MERGE = { 'content-type': 'application/merge-patch+json' };
const JSONPATCH = { 'content-type': 'application/json-patch+json' };
const APPLY = { 'content-type': 'application/apply-patch+yaml' };

function assertStatus(body: { kind: string; apiVersion: string; status: string; code: number; reason: string; message: string }, code: number, reason: string) {
  assert.equal(body.kind, 'Status');
  assert.equal(body.apiVersion, 'v1');
  assert.equal(body.status, 'Failure');
  assert.equal(body.code, code);
  assert.equal(body.reason, reason, body.message);
  assert.equal(typeof body.message, 'string');
  assert.doesNotMatch(body.message, /\n\s+at /, 'no stack trace');
}

describe('apiserver', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.cleanup();
  });

  describe('create / get / list / update / delete', () => {
    it('creates with server-owned metadata and ignores client values for them', async () => {
      const body = session('crud-a', { labels: { app: 'x' } }) as Record<string, unknown>;
      (body.metadata as Record<string, unknown>).uid = 'client-uid';
      (body.metadata as Record<string, unknown>).resourceVersion = '999';
      (body.metadata as Record<string, unknown>).generation = 42;
      (body.metadata as Record<string, unknown>).creationTimestamp = '2000-01-01T00:00:00Z';
      body.status = { phase: 'Ready' };
      const r = await s.req('POST', SESSIONS, body);
      assert.equal(r.status, 201, r.text);
      const m = r.body.metadata;
      assert.match(m.uid, /^[0-9a-f-]{36}$/);
      assert.notEqual(m.uid, 'client-uid');
      assert.match(m.resourceVersion, /^\d+$/);
      assert.notEqual(m.resourceVersion, '999');
      assert.equal(m.generation, 1);
      assert.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.notEqual(m.creationTimestamp, '2000-01-01T00:00:00Z');
      assert.equal(m.namespace, 'default');
      assert.equal(r.body.status, undefined, 'status is not writable on create');
      const g = await s.req('GET', `${SESSIONS}/crud-a`);
      assert.equal(g.status, 200);
      assert.deepEqual(g.body, r.body);
    });

    it('answers 409 AlreadyExists for a taken name', async () => {
      const r = await s.req('POST', SESSIONS, session('crud-a'));
      assert.equal(r.status, 409);
      assertStatus(r.body, 409, 'AlreadyExists');
      assert.equal(r.body.message, 'sessions.sandkasten.dev "crud-a" already exists');
      assert.equal(r.body.details.name, 'crud-a');
    });

    it('generates names from generateName with a 5-character suffix', async () => {
      const body = { apiVersion: GV, kind: 'Session', metadata: { generateName: 'gen-' }, spec: { image: 'base' } };
      const a = await s.req('POST', SESSIONS, body);
      const b = await s.req('POST', SESSIONS, body);
      assert.equal(a.status, 201, a.text);
      assert.match(a.body.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.notEqual(a.body.metadata.name, b.body.metadata.name);
      const none = await s.req('POST', SESSIONS, { apiVersion: GV, kind: 'Session', metadata: {}, spec: {} });
      assert.equal(none.status, 422);
      assert.equal(none.body.details.causes[0].field, 'metadata.name');
    });

    it('lists with apiVersion/kind on the list and every item', async () => {
      const r = await s.req('GET', SESSIONS);
      assert.equal(r.status, 200);
      assert.equal(r.body.kind, 'SessionList');
      assert.equal(r.body.apiVersion, GV);
      assert.match(r.body.metadata.resourceVersion, /^\d+$/);
      assert.ok(r.body.items.length >= 3);
      for (const i of r.body.items) {
        assert.equal(i.kind, 'Session');
        assert.equal(i.apiVersion, GV);
      }
      const all = await s.req('GET', `/apis/${GV}/sessions`);
      assert.equal(all.status, 200);
      assert.equal(all.body.items.length, r.body.items.length);
      const other = await s.req('GET', `/apis/${GV}/namespaces/other/sessions`);
      assert.deepEqual(other.body.items, []);
    });

    it('rejects a body whose namespace, kind or apiVersion does not match the path', async () => {
      const wrongNs = { ...session('ns-x'), metadata: { name: 'ns-x', namespace: 'other' } };
      let r = await s.req('POST', SESSIONS, wrongNs);
      assert.equal(r.status, 400);
      assertStatus(r.body, 400, 'BadRequest');
      r = await s.req('POST', SESSIONS, { ...session('k-x'), kind: 'Workspace' });
      assert.equal(r.status, 400);
      r = await s.req('POST', SESSIONS, { ...session('k-x'), apiVersion: 'v1' });
      assert.equal(r.status, 400);
      r = await s.req('POST', SESSIONS, { metadata: { name: 'k-x' } });
      assert.equal(r.status, 400);
      r = await s.req('POST', `/apis/${GV}/sessions`, session('k-y'));
      assert.equal(r.status, 405);
    });

    it('updates with PUT; a stale resourceVersion is 409; without one it is unconditional', async () => {
      const c = await s.req('POST', SESSIONS, session('put-a'));
      const obj = c.body;
      obj.spec.ttlSeconds = 100;
      const u = await s.req('PUT', `${SESSIONS}/put-a`, obj);
      assert.equal(u.status, 200, u.text);
      assert.equal(u.body.spec.ttlSeconds, 100);
      assert.ok(Number(u.body.metadata.resourceVersion) > Number(obj.metadata.resourceVersion));
      obj.spec.ttlSeconds = 200;
      const stale = await s.req('PUT', `${SESSIONS}/put-a`, obj);
      assert.equal(stale.status, 409);
      assertStatus(stale.body, 409, 'Conflict');
      assert.match(stale.body.message, /the object has been modified/);
      delete obj.metadata.resourceVersion;
      const uncond = await s.req('PUT', `${SESSIONS}/put-a`, obj);
      assert.equal(uncond.status, 200);
      assert.equal(uncond.body.spec.ttlSeconds, 200);
      const missing = await s.req('PUT', `${SESSIONS}/nope`, session('nope'));
      assert.equal(missing.status, 404);
      assertStatus(missing.body, 404, 'NotFound');
      const mismatch = await s.req('PUT', `${SESSIONS}/put-a`, session('other-name'));
      assert.equal(mismatch.status, 400);
    });

    it('lets exactly one of two concurrent PUTs from the same resourceVersion win', async () => {
      const c = await s.req('POST', SESSIONS, session('race'));
      const rv = c.body.metadata.resourceVersion;
      const put = (ttl: number) => s.req('PUT', `${SESSIONS}/race`, { ...c.body, spec: { image: 'base', ttlSeconds: ttl }, metadata: { ...c.body.metadata, resourceVersion: rv } });
      const results = await Promise.all([put(1), put(2), put(3), put(4)]);
      const codes = results.map((r) => r.status).sort();
      assert.deepEqual(codes, [200, 409, 409, 409]);
      const winner = results.find((r) => r.status === 200)!;
      const g = await s.req('GET', `${SESSIONS}/race`);
      assert.equal(g.body.spec.ttlSeconds, winner.body.spec.ttlSeconds);
    });

    it('bumps generation only when spec changes', async () => {
      const c = await s.req('POST', SESSIONS, session('gen-bump'));
      assert.equal(c.body.metadata.generation, 1);
      let r = await s.req('PATCH', `${SESSIONS}/gen-bump`, { metadata: { labels: { a: 'b' } } }, MERGE);
      assert.equal(r.body.metadata.generation, 1);
      r = await s.req('PATCH', `${SESSIONS}/gen-bump`, { spec: { ttlSeconds: 5 } }, MERGE);
      assert.equal(r.body.metadata.generation, 2);
      r = await s.req('PATCH', `${SESSIONS}/gen-bump/status`, { status: { phase: 'Ready' } }, MERGE);
      assert.equal(r.body.metadata.generation, 2);
      const before = r.body.metadata.resourceVersion;
      r = await s.req('PATCH', `${SESSIONS}/gen-bump`, { spec: { ttlSeconds: 5 } }, MERGE);
      assert.equal(r.body.metadata.generation, 2);
      assert.equal(r.body.metadata.resourceVersion, before, 'a no-op write does not bump resourceVersion');
    });

    it('rejects changes to immutable metadata', async () => {
      await s.req('POST', SESSIONS, session('immut'));
      const r = await s.req('PATCH', `${SESSIONS}/immut`, { metadata: { uid: 'x' } }, MERGE);
      assert.equal(r.status, 422);
      assert.equal(r.body.details.causes[0].field, 'metadata.uid');
      assert.match(r.body.details.causes[0].message, /field is immutable/);
      const n = await s.req('PATCH', `${SESSIONS}/immut`, [{ op: 'replace', path: '/metadata/name', value: 'y' }], JSONPATCH);
      assert.equal(n.status, 422);
      assert.equal(n.body.details.causes[0].field, 'metadata.name');
      const ts = await s.req('PATCH', `${SESSIONS}/immut`, { metadata: { creationTimestamp: '2000-01-01T00:00:00Z', generation: 7 } }, MERGE);
      assert.equal(ts.status, 200);
      assert.notEqual(ts.body.metadata.creationTimestamp, '2000-01-01T00:00:00Z');
      assert.equal(ts.body.metadata.generation, 1);
    });
  });

  describe('status subresource', () => {
    it('ignores status on main writes and writes only status through /status', async () => {
      await s.req('POST', SESSIONS, session('st'));
      let r = await s.req('PATCH', `${SESSIONS}/st/status`, { status: { phase: 'Ready' }, spec: { ttlSeconds: 9 }, metadata: { labels: { x: 'y' } } }, MERGE);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status.phase, 'Ready');
      assert.equal(r.body.spec.ttlSeconds, undefined, 'spec unchanged by /status');
      assert.equal(r.body.metadata.labels, undefined, 'metadata unchanged by /status');
      r = await s.req('PATCH', `${SESSIONS}/st`, { status: { phase: 'Failed' }, spec: { ttlSeconds: 9 } }, MERGE);
      assert.equal(r.body.status.phase, 'Ready', 'status unchanged by main write');
      assert.equal(r.body.spec.ttlSeconds, 9);
      const full = r.body;
      full.status = { phase: 'Expired' };
      full.spec.ttlSeconds = 10;
      r = await s.req('PUT', `${SESSIONS}/st/status`, full);
      assert.equal(r.status, 200);
      assert.equal(r.body.status.phase, 'Expired');
      assert.equal(r.body.spec.ttlSeconds, 9);
      const g = await s.req('GET', `${SESSIONS}/st/status`);
      assert.equal(g.body.status.phase, 'Expired');
      const stale = await s.req('PUT', `${SESSIONS}/st/status`, full);
      assert.equal(stale.status, 409, 'status writes honour resourceVersion');
      const bad = await s.req('PATCH', `${SESSIONS}/st/status`, { status: { phase: 'Nonsense' } }, MERGE);
      assert.equal(bad.status, 422);
      const del = await s.req('DELETE', `${SESSIONS}/st/status`);
      assert.equal(del.status, 405);
    });
  });

  describe('patch', () => {
    it('merge-patch (RFC 7386): merges objects, null deletes', async () => {
      await s.req('POST', SESSIONS, session('mp', { labels: { a: '1', b: '2' }, spec: { ttlSeconds: 5 } }));
      const r = await s.req('PATCH', `${SESSIONS}/mp`, { metadata: { labels: { a: null, c: '3' } }, spec: { ttlSeconds: null } }, MERGE);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.metadata.labels, { b: '2', c: '3' });
      assert.equal(r.body.spec.ttlSeconds, undefined);
    });

    it('json-patch (RFC 6902): ops apply; a failed test is 422, a malformed patch 400', async () => {
      await s.req('POST', SESSIONS, session('jp', { spec: { ttlSeconds: 5 } }));
      let r = await s.req('PATCH', `${SESSIONS}/jp`, [
        { op: 'test', path: '/spec/ttlSeconds', value: 5 },
        { op: 'replace', path: '/spec/ttlSeconds', value: 6 },
        { op: 'add', path: '/metadata/labels', value: { k: 'v' } },
      ], JSONPATCH);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.spec.ttlSeconds, 6);
      assert.deepEqual(r.body.metadata.labels, { k: 'v' });
      r = await s.req('PATCH', `${SESSIONS}/jp`, [{ op: 'test', path: '/spec/ttlSeconds', value: 5 }], JSONPATCH);
      assert.equal(r.status, 422);
      assertStatus(r.body, 422, 'Invalid');
      assert.match(r.body.message, /test operation failed/);
      r = await s.req('PATCH', `${SESSIONS}/jp`, [{ op: 'remove', path: '/spec/nothing/here' }], JSONPATCH);
      assert.equal(r.status, 422);
      r = await s.req('PATCH', `${SESSIONS}/jp`, { op: 'replace' }, JSONPATCH);
      assert.equal(r.status, 400);
      r = await s.req('PATCH', `${SESSIONS}/jp`, [{ op: 'frobnicate', path: '/spec' }], JSONPATCH);
      assert.equal(r.status, 400);
      r = await s.req('PATCH', `${SESSIONS}/jp`, [{ op: 'add', path: '/__proto__/polluted', value: 1 }], JSONPATCH);
      assert.ok(r.status >= 400 && r.status < 500);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('answers 415 for strategic merge patch and unknown patch types; 404 for a missing object', async () => {
      let r = await s.req('PATCH', `${SESSIONS}/jp`, { spec: {} }, { 'content-type': 'application/strategic-merge-patch+json' });
      assert.equal(r.status, 415);
      assertStatus(r.body, 415, 'UnsupportedMediaType');
      assert.match(r.body.message, /strategic merge patch is not supported/);
      r = await s.req('PATCH', `${SESSIONS}/jp`, { spec: {} }, { 'content-type': 'text/plain' });
      assert.equal(r.status, 415);
      r = await s.req('PATCH', `${SESSIONS}/absent`, { spec: {} }, MERGE);
      assert.equal(r.status, 404);
    });
  });

  describe('apply (application/apply-patch+yaml)', () => {
    const manifest = (extra = '') => `apiVersion: sandkasten.dev/v1
kind: Session
metadata:
  name: ap
  labels:
    owner: gitops
    team: a
spec:
  image: base
  ttlSeconds: 60
${extra}`;

    it('needs a fieldManager', async () => {
      const r = await s.req('PATCH', `${SESSIONS}/ap`, manifest(), APPLY);
      assert.equal(r.status, 400);
      assert.match(r.body.message, /fieldManager is required/);
    });

    it('creates when absent (201), re-apply unchanged writes nothing', async () => {
      const r = await s.req('PATCH', `${SESSIONS}/ap?fieldManager=gitops&force=true`, manifest(), APPLY);
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.spec.ttlSeconds, 60);
      assert.ok(r.body.metadata.annotations['sandkasten.dev/last-applied']);
      const again = await s.req('PATCH', `${SESSIONS}/ap?fieldManager=gitops`, manifest(), APPLY);
      assert.equal(again.status, 200);
      assert.equal(again.body.metadata.resourceVersion, r.body.metadata.resourceVersion);
    });

    it('removes a dropped field, keeps status and fields set by others', async () => {
      await s.req('PATCH', `${SESSIONS}/ap/status`, { status: { phase: 'Ready' } }, MERGE);
      await s.req('PATCH', `${SESSIONS}/ap`, { metadata: { labels: { 'added-by': 'controller' } } }, MERGE);
      const dropped = manifest().replace('  ttlSeconds: 60\n', '').replace('    team: a\n', '');
      const r = await s.req('PATCH', `${SESSIONS}/ap?fieldManager=gitops`, dropped, APPLY);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.spec.ttlSeconds, undefined, 'dropped spec field removed');
      assert.deepEqual(r.body.metadata.labels, { owner: 'gitops', 'added-by': 'controller' });
      assert.equal(r.body.status.phase, 'Ready');
      assert.equal(r.body.metadata.generation, 2);
    });

    it('accepts JSON as the apply body and validates it', async () => {
      const r = await s.req('PATCH', `${SESSIONS}/ap?fieldManager=gitops`, JSON.stringify({ apiVersion: GV, kind: 'Session', metadata: { name: 'ap' }, spec: { image: 'base', network: { mode: 'nope' } } }), APPLY);
      assert.equal(r.status, 422);
      const y = await s.req('PATCH', `${SESSIONS}/ap?fieldManager=gitops`, 'apiVersion: [unclosed', APPLY);
      assert.equal(y.status, 400);
      const wrongName = await s.req('PATCH', `${SESSIONS}/ap?fieldManager=gitops`, manifest().replace('name: ap', 'name: zz'), APPLY);
      assert.equal(wrongName.status, 400);
    });
  });

  describe('delete and finalizers', () => {
    it('deletes without finalizers: 200 with the object, then 404', async () => {
      await s.req('POST', SESSIONS, session('del-a'));
      const r = await s.req('DELETE', `${SESSIONS}/del-a?propagationPolicy=Background&gracePeriodSeconds=0`);
      assert.equal(r.status, 200);
      assert.equal(r.body.metadata.name, 'del-a');
      assert.equal((await s.req('GET', `${SESSIONS}/del-a`)).status, 404);
      assert.equal((await s.req('DELETE', `${SESSIONS}/del-a`)).status, 404);
      const bad = await s.req('DELETE', `${SESSIONS}/x?propagationPolicy=Sometimes`);
      assert.equal(bad.status, 400);
    });

    it('honours DeleteOptions preconditions', async () => {
      const c = await s.req('POST', SESSIONS, session('del-pre'));
      let r = await s.req('DELETE', `${SESSIONS}/del-pre`, { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'wrong' } });
      assert.equal(r.status, 409);
      r = await s.req('DELETE', `${SESSIONS}/del-pre`, { preconditions: { resourceVersion: '1' } });
      assert.equal(r.status, 409);
      r = await s.req('DELETE', `${SESSIONS}/del-pre`, { preconditions: { uid: c.body.metadata.uid, resourceVersion: c.body.metadata.resourceVersion } });
      assert.equal(r.status, 200);
    });

    it('with finalizers: 202 + deletionTimestamp, stays until the last finalizer goes (then DELETED)', async () => {
      const c = await s.req('POST', SESSIONS, session('fin', { finalizers: ['sandkasten.dev/cleanup', 'example.com/other'] }));
      assert.equal(c.status, 201, c.text);
      const w = await WatchStream.open(s, `${SESSIONS}?watch=1&fieldSelector=metadata.name%3Dfin&resourceVersion=${c.body.metadata.resourceVersion}`);
      const d = await s.req('DELETE', `${SESSIONS}/fin`);
      assert.equal(d.status, 202);
      assert.match(d.body.metadata.deletionTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const g = await s.req('GET', `${SESSIONS}/fin`);
      assert.equal(g.status, 200);
      assert.equal(g.body.metadata.deletionTimestamp, d.body.metadata.deletionTimestamp);
      const again = await s.req('DELETE', `${SESSIONS}/fin`);
      assert.equal(again.status, 202);
      assert.equal(again.body.metadata.resourceVersion, d.body.metadata.resourceVersion, 'repeated delete changes nothing');
      const add = await s.req('PATCH', `${SESSIONS}/fin`, { metadata: { finalizers: ['sandkasten.dev/cleanup', 'example.com/other', 'new.dev/x'] } }, MERGE);
      assert.equal(add.status, 422, 'no new finalizers while deleting');
      assert.match(add.body.message, /no new finalizers/);
      let r = await s.req('PATCH', `${SESSIONS}/fin`, [{ op: 'remove', path: '/metadata/finalizers/1' }], JSONPATCH);
      assert.equal(r.status, 200);
      assert.equal((await s.req('GET', `${SESSIONS}/fin`)).status, 200);
      r = await s.req('PATCH', `${SESSIONS}/fin`, { metadata: { finalizers: null } }, MERGE);
      assert.equal(r.status, 200, r.text);
      assert.equal((await s.req('GET', `${SESSIONS}/fin`)).status, 404);
      const types = (await w.waitFor(4)).map((e) => e.type);
      assert.deepEqual(types, ['MODIFIED', 'MODIFIED', 'MODIFIED', 'DELETED']);
      w.close();
    });

    it('deletecollection deletes what the selector matches', async () => {
      for (const n of ['dc-1', 'dc-2', 'dc-3']) await s.req('POST', SESSIONS, session(n, { labels: { dc: n === 'dc-3' ? 'keep' : 'go' } }));
      const r = await s.req('DELETE', `${SESSIONS}?labelSelector=dc%3Dgo`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name).sort(), ['dc-1', 'dc-2']);
      assert.equal((await s.req('GET', `${SESSIONS}/dc-3`)).status, 200);
      assert.equal((await s.req('GET', `${SESSIONS}/dc-1`)).status, 404);
    });
  });

  describe('dryRun=All', () => {
    it('computes every write and persists nothing', async () => {
      await s.req('POST', SESSIONS, session('dry', { finalizers: ['sandkasten.dev/x'] }));
      const rv0 = s.store.currentResourceVersion();
      const before = (await s.req('GET', `${SESSIONS}/dry`)).body;
      const c = await s.req('POST', `${SESSIONS}?dryRun=All`, session('dry-new'));
      assert.equal(c.status, 201);
      assert.equal(c.body.metadata.name, 'dry-new');
      const dup = await s.req('POST', `${SESSIONS}?dryRun=All`, session('dry'));
      assert.equal(dup.status, 409);
      const u = await s.req('PUT', `${SESSIONS}/dry?dryRun=All`, { ...before, spec: { image: 'base', ttlSeconds: 7 } });
      assert.equal(u.status, 200);
      assert.equal(u.body.spec.ttlSeconds, 7);
      assert.equal(u.body.metadata.generation, 2);
      const p = await s.req('PATCH', `${SESSIONS}/dry?dryRun=All`, { spec: { ttlSeconds: 8 } }, MERGE);
      assert.equal(p.body.spec.ttlSeconds, 8);
      const st = await s.req('PATCH', `${SESSIONS}/dry/status?dryRun=All`, { status: { phase: 'Ready' } }, MERGE);
      assert.equal(st.body.status.phase, 'Ready');
      const ap = await s.req('PATCH', `${SESSIONS}/dry-ap?dryRun=All&fieldManager=m`, 'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata: {name: dry-ap}\nspec: {image: base}\n', APPLY);
      assert.equal(ap.status, 201);
      const d = await s.req('DELETE', `${SESSIONS}/dry?dryRun=All`);
      assert.equal(d.status, 202);
      assert.ok(d.body.metadata.deletionTimestamp);
      const dc = await s.req('DELETE', `${SESSIONS}?dryRun=All`);
      assert.equal(dc.status, 200);
      assert.ok(dc.body.items.length > 0);
      assert.equal(s.store.currentResourceVersion(), rv0, 'nothing written');
      assert.deepEqual((await s.req('GET', `${SESSIONS}/dry`)).body, before);
      assert.equal((await s.req('GET', `${SESSIONS}/dry-new`)).status, 404);
      const bad = await s.req('POST', `${SESSIONS}?dryRun=Some`, session('dry-x'));
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /dryRun/);
    });
  });

  describe('validation', () => {
    it('answers 422 with a cause per bad field', async () => {
      const r = await s.req('POST', SESSIONS, {
        apiVersion: GV,
        kind: 'Session',
        metadata: { name: 'Bad_Name', labels: { 'bad key!': 'v' } },
        spec: { image: 'base', ttlSeconds: -1, network: { mode: 'sideways' } },
      });
      assert.equal(r.status, 422);
      assertStatus(r.body, 422, 'Invalid');
      const fields = r.body.details.causes.map((c: { field: string }) => c.field);
      for (const f of ['metadata.name', 'metadata.labels', 'spec.ttlSeconds', 'spec.network.mode']) assert.ok(fields.includes(f), `${f} in ${fields}`);
      assert.match(r.body.message, /^Session\.sandkasten\.dev "Bad_Name" is invalid: \[/);
      assert.match(r.body.message, /spec\.network\.mode: Unsupported value: "sideways"/);
      assert.equal(r.body.details.kind, 'Session');
      assert.equal(r.body.details.group, 'sandkasten.dev');
    });

    it('reports each bad finalizer once', async () => {
      const bad = async (finalizers: unknown) => {
        const body = session('fin-bad') as { metadata: Record<string, unknown> };
        body.metadata.finalizers = finalizers;
        const r = await s.req('POST', SESSIONS, body);
        assert.equal(r.status, 422, r.text);
        return r.body.details.causes as { field: string; reason: string }[];
      };
      assert.deepEqual(
        (await bad(['Not A Name!'])).map((c) => `${c.field} ${c.reason}`),
        ['metadata.finalizers[0] FieldValueInvalid'],
      );
      assert.deepEqual(
        (await bad(['example.com/a', 'example.com/a'])).map((c) => `${c.field} ${c.reason}`),
        ['metadata.finalizers[1] FieldValueDuplicate'],
      );
      assert.deepEqual((await bad('example.com/a')).map((c) => c.field), ['metadata.finalizers']);
      assert.deepEqual((await bad([7])).map((c) => c.field), ['metadata.finalizers[0]']);
    });

    it('unknown fields: Strict rejects, Warn (default) warns and prunes, Ignore prunes silently', async () => {
      const body = session('uf', { spec: { foo: 1 } });
      let r = await s.req('POST', `${SESSIONS}?fieldValidation=Strict`, body);
      assert.equal(r.status, 400);
      assert.equal(r.body.message, 'strict decoding error: unknown field "spec.foo"');
      r = await s.req('POST', SESSIONS, body);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('warning'), '299 - "unknown field \\"spec.foo\\""');
      assert.equal(r.body.spec.foo, undefined, 'pruned');
      r = await s.req('PATCH', `${SESSIONS}/uf?fieldValidation=Ignore`, { spec: { bar: 2 } }, MERGE);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('warning'), null);
      assert.equal(r.body.spec.bar, undefined);
      r = await s.req('POST', `${SESSIONS}?fieldValidation=Loose`, body);
      assert.equal(r.status, 400);
    });
  });

  describe('errors', () => {
    it('malformed JSON and YAML are 400, wrong content types 415, oversized bodies 413', async () => {
      let r = await s.req('POST', SESSIONS, '{"apiVersion": ', { 'content-type': 'application/json' });
      assert.equal(r.status, 400);
      assertStatus(r.body, 400, 'BadRequest');
      r = await s.req('POST', SESSIONS, 'a: [1, 2', { 'content-type': 'application/yaml' });
      assert.equal(r.status, 400);
      r = await s.req('POST', SESSIONS, 'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata: {name: yml}\nspec: {image: base}\n', { 'content-type': 'application/yaml' });
      assert.equal(r.status, 201, 'YAML bodies are accepted');
      r = await s.req('POST', SESSIONS, '<xml/>', { 'content-type': 'application/xml' });
      assert.equal(r.status, 415);
      assertStatus(r.body, 415, 'UnsupportedMediaType');
      r = await s.req('POST', SESSIONS, '[1,2]');
      assert.equal(r.status, 400);
      r = await s.req('POST', SESSIONS, 'null');
      assert.equal(r.status, 400);
      r = await s.req('POST', SESSIONS, '');
      assert.equal(r.status, 400);
      const big = JSON.stringify({ ...session('big'), metadata: { name: 'big', annotations: { a: 'x'.repeat(4 * 1024 * 1024) } } });
      r = await s.req('POST', SESSIONS, big);
      assert.equal(r.status, 413);
      assertStatus(r.body, 413, 'RequestEntityTooLarge');
    });

    it('unknown paths are 404, wrong methods 405, bad query values 400, all as Status', async () => {
      for (const p of ['/nope', `/apis/${GV}/gizmos`, `/apis/${GV}/namespaces/default/gizmos/x`, `/apis/${GV}/namespaces/default/images/x`, `/apis/other.dev/v1`, `${SESSIONS}/a/b/c/d`]) {
        const r = await s.req('GET', p);
        assert.equal(r.status, 404, p);
        assertStatus(r.body, 404, 'NotFound');
      }
      let r = await s.req('POST', `${SESSIONS}/x`, session('x'));
      assert.equal(r.status, 405);
      assertStatus(r.body, 405, 'MethodNotAllowed');
      r = await s.req('DELETE', '/apis');
      assert.equal(r.status, 405);
      r = await s.req('GET', `${SESSIONS}?limit=abc`);
      assert.equal(r.status, 400);
      r = await s.req('GET', `${SESSIONS}?labelSelector=${encodeURIComponent('a in (b')}`);
      assert.equal(r.status, 400);
      r = await s.req('GET', `${SESSIONS}?fieldSelector=spec.image%3Dx`);
      assert.equal(r.status, 400);
      r = await s.req('GET', `/apis/${GV}/namespaces/Bad_NS/sessions`);
      assert.equal(r.status, 400);
      r = await s.req('GET', `${SESSIONS}?watch=1&resourceVersion=abc`);
      assert.equal(r.status, 400);
    });
  });

  describe('label and field selectors', () => {
    before(async () => {
      const objs: [string, Record<string, string>][] = [
        ['sel-1', { env: 'prod', tier: 'web' }],
        ['sel-2', { env: 'dev', tier: 'web' }],
        ['sel-3', { env: 'dev' }],
        ['sel-4', { other: 'x', n: '5' }],
      ];
      for (const [n, labels] of objs) {
        const r = await s.req('POST', `/apis/${GV}/namespaces/sel/sessions`, session(n, { labels }));
        assert.equal(r.status, 201, r.text);
      }
    });
    const names = async (sel: string, field = '') => {
      const r = await s.req('GET', `/apis/${GV}/namespaces/sel/sessions?labelSelector=${encodeURIComponent(sel)}${field ? `&fieldSelector=${encodeURIComponent(field)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      return r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name).sort();
    };
    it('supports every operator', async () => {
      assert.deepEqual(await names('env=prod'), ['sel-1']);
      assert.deepEqual(await names('env==dev'), ['sel-2', 'sel-3']);
      assert.deepEqual(await names('env!=dev'), ['sel-1', 'sel-4']);
      assert.deepEqual(await names('env in (prod, dev)'), ['sel-1', 'sel-2', 'sel-3']);
      assert.deepEqual(await names('env notin (prod)'), ['sel-2', 'sel-3', 'sel-4']);
      assert.deepEqual(await names('tier'), ['sel-1', 'sel-2']);
      assert.deepEqual(await names('!tier'), ['sel-3', 'sel-4']);
      assert.deepEqual(await names('env=dev,tier'), ['sel-2']);
      assert.deepEqual(await names('env in (dev),!tier'), ['sel-3']);
      assert.deepEqual(await names('n>4'), ['sel-4']);
      assert.deepEqual(await names('n<4'), []);
    });
    it('filters by metadata.name and metadata.namespace', async () => {
      assert.deepEqual(await names('', 'metadata.name=sel-2'), ['sel-2']);
      assert.deepEqual(await names('', 'metadata.name!=sel-2'), ['sel-1', 'sel-3', 'sel-4']);
      assert.deepEqual(await names('env=dev', 'metadata.name=sel-1'), []);
      const r = await s.req('GET', `/apis/${GV}/sessions?fieldSelector=metadata.namespace%3Dsel`);
      assert.equal(r.body.items.length, 4);
    });
    it('pages with limit and continue', async () => {
      const base = `/apis/${GV}/namespaces/sel/sessions`;
      const p1 = await s.req('GET', `${base}?limit=3`);
      assert.equal(p1.body.items.length, 3);
      assert.equal(p1.body.metadata.remainingItemCount, 1);
      const p2 = await s.req('GET', `${base}?limit=3&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
      assert.deepEqual(p2.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['sel-4']);
      assert.equal(p2.body.metadata.continue, undefined);
      assert.equal((await s.req('GET', `${base}?continue=garbage`)).status, 400);
    });
  });

  describe('tables', () => {
    it('renders a meta.k8s.io Table from printer columns', async () => {
      const r = await s.req('GET', `/apis/${GV}/namespaces/sel/sessions`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
      assert.equal(r.status, 200);
      assert.equal(r.body.kind, 'Table');
      assert.equal(r.body.apiVersion, 'meta.k8s.io/v1');
      const cols = r.body.columnDefinitions.map((c: { name: string }) => c.name);
      assert.deepEqual(cols.slice(0, 4), ['Name', 'Phase', 'Image', 'Age']);
      assert.equal(r.body.rows.length, 4);
      assert.equal(r.body.rows[0].cells[0], 'sel-1');
      assert.equal(r.body.rows[0].cells[2], 'base');
      assert.match(r.body.rows[0].cells[3], /^\d+s$/);
      assert.equal(r.body.rows[0].object.kind, 'PartialObjectMetadata');
      const one = await s.req('GET', `/apis/${GV}/namespaces/sel/sessions?fieldSelector=metadata.name%3Dsel-1&includeObject=Object`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
      assert.equal(one.body.rows.length, 1);
      assert.equal(one.body.rows[0].object.kind, 'Session');
      const single = await s.req('GET', `/apis/${GV}/namespaces/sel/sessions/sel-2`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
      assert.equal(single.body.kind, 'Table');
      assert.deepEqual(single.body.rows.map((row: { cells: unknown[] }) => row.cells[0]), ['sel-2']);
    });
  });

  describe('cluster-scoped images', () => {
    it('serves the verbs without a namespace', async () => {
      const img = { apiVersion: GV, kind: 'Image', metadata: { name: 'img-a' }, spec: { source: 'builtin://base' } };
      let r = await s.req('POST', IMAGES, img);
      assert.equal(r.status, 201, r.text);
      assert.equal(r.body.metadata.namespace, undefined);
      r = await s.req('GET', `${IMAGES}/img-a`);
      assert.equal(r.status, 200);
      r = await s.req('PATCH', `${IMAGES}/img-a/status`, { status: { phase: 'Ready' } }, MERGE);
      assert.equal(r.status, 200, r.text);
      r = await s.req('POST', IMAGES, { ...img, metadata: { name: 'img-b', namespace: 'default' } });
      assert.equal(r.status, 422);
      r = await s.req('DELETE', `${IMAGES}/img-a`);
      assert.equal(r.status, 200);
    });
  });

  describe('discovery and OpenAPI', () => {
    it('serves the discovery documents', async () => {
      const apis = await s.req('GET', '/apis');
      assert.equal(apis.body.kind, 'APIGroupList');
      assert.equal(apis.body.groups[0].name, 'sandkasten.dev');
      assert.equal(apis.body.groups[0].preferredVersion.groupVersion, GV);
      const g = await s.req('GET', '/apis/sandkasten.dev');
      assert.equal(g.body.kind, 'APIGroup');
      const rl = await s.req('GET', `/apis/${GV}`);
      assert.equal(rl.body.kind, 'APIResourceList');
      const byName = new Map(rl.body.resources.map((r: { name: string }) => [r.name, r]));
      const ses = byName.get('sessions') as Record<string, unknown>;
      assert.equal(ses.kind, 'Session');
      assert.equal(ses.namespaced, true);
      assert.equal(ses.singularName, 'session');
      assert.ok((ses.verbs as string[]).includes('watch'));
      assert.ok((ses.shortNames as string[]).length > 0);
      assert.ok(byName.has('sessions/status'));
      assert.equal((byName.get('images') as Record<string, unknown>).namespaced, false);
      const agg = await s.req('GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
      assert.equal(agg.body.kind, 'APIGroupDiscoveryList');
      assert.match(agg.headers.get('content-type')!, /as=APIGroupDiscoveryList/);
      assert.equal((await s.req('GET', '/api')).body.kind, 'APIVersions');
      const v = await s.req('GET', '/version');
      assert.equal(v.body.major, '1');
      assert.match(v.body.gitVersion, /^v1\./);
    });

    it('serves OpenAPI v2 and v3 with group-version-kind tags', async () => {
      const v2 = await s.req('GET', '/openapi/v2');
      assert.equal(v2.body.swagger, '2.0');
      const sd = v2.body.definitions['dev.sandkasten.v1.Session'];
      assert.deepEqual(sd['x-kubernetes-group-version-kind'], [{ group: 'sandkasten.dev', kind: 'Session', version: 'v1' }]);
      const idx = await s.req('GET', '/openapi/v3');
      const rel = idx.body.paths['apis/sandkasten.dev/v1'].serverRelativeURL;
      const v3 = await s.req('GET', rel);
      assert.equal(v3.body.openapi, '3.0.0');
      assert.ok(v3.body.components.schemas['dev.sandkasten.v1.Session'].properties.spec);
      const patch = v3.body.paths[`/apis/${GV}/namespaces/{namespace}/sessions/{name}`].patch;
      assert.ok(patch.parameters.some((p: { name: string }) => p.name === 'fieldValidation'));
      assert.doesNotMatch(JSON.stringify(v3.body), /"\$id"|"definitions"|"type":\[/);
    });
  });
});

describe('authentication', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ apiKey: 'sekret-key' });
  });
  after(async () => {
    await s.cleanup();
  });
  it('401 without or with a wrong token, 200 with the right one; health endpoints open', async () => {
    const url = s.url + SESSIONS;
    let r = await fetch(url);
    assert.equal(r.status, 401);
    const body = (await r.json()) as { reason: string; kind: string };
    assert.equal(body.kind, 'Status');
    assert.equal(body.reason, 'Unauthorized');
    for (const h of ['Bearer wrong', 'Bearer sekret-ke', 'Bearer sekret-key-x', 'Basic c2VrcmV0LWtleQ==', 'sekret-key', 'Bearer']) {
      r = await fetch(url, { headers: { authorization: h } });
      assert.equal(r.status, 401, h);
    }
    r = await fetch(url, { headers: { authorization: 'Bearer sekret-key' } });
    assert.equal(r.status, 200);
    r = await fetch(s.url + '/apis', { headers: { authorization: 'bearer sekret-key' } });
    assert.equal(r.status, 200);
    for (const p of ['/healthz', '/readyz', '/livez']) {
      r = await fetch(s.url + p);
      assert.equal(r.status, 200, p);
    }
    assert.equal((await fetch(s.url + '/openapi/v2')).status, 401);
  });
});

describe('open API (empty api_key)', () => {
  it('serves without a token', async () => {
    const s = await startServer({ apiKey: '' });
    try {
      const r = await fetch(s.url + SESSIONS);
      assert.equal(r.status, 200);
    } finally {
      await s.cleanup();
    }
  });
  it('refuses to listen on a non-loopback address', async () => {
    const s = await startServer({ apiKey: '' });
    try {
      await assert.rejects(s.api.listen('0.0.0.0:0'), /refusing to listen/);
    } finally {
      await s.cleanup();
    }
  });
});
