// @kubernetes/client-node against the real server: KubernetesObjectApi (discovery-driven),
// CustomObjectsApi, and Watch — get, list, watch, create, patch (merge, JSON, apply), delete.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { session, startServer, type TestServer } from './testutil.js';

// @kubernetes/client-node 2.x loads undici 8, which needs Node >= 22 (it crashes at import on
// Node 20 unless undici is pinned to 7.x): report that as the skip reason rather than a crash.
// Probed in a child first: a failed import leaves rejections behind in this process.
let k8s: typeof import('@kubernetes/client-node') | undefined;
const probe = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('@kubernetes/client-node')"], {
  cwd: fileURLToPath(new URL('.', import.meta.url)),
  encoding: 'utf8',
  timeout: 30_000,
});
const unavailable: string | false =
  probe.status === 0
    ? false
    : `@kubernetes/client-node does not load on Node ${process.versions.node} (${(probe.stderr.match(/\w*Error: [^\n]*/) ?? ['?'])[0]}); pin undici ^7 for Node 20`;
if (!unavailable) k8s = await import('@kubernetes/client-node');

const group = 'sandkasten.dev';
const version = 'v1';
const plural = 'sessions';
const namespace = 'default';

type Session = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

describe('@kubernetes/client-node', { skip: unavailable }, () => {
  let s: TestServer;
  let kc: KubeConfig;
  before(async () => {
    s = await startServer({ apiKey: 'client-node-key' });
    kc = new k8s!.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'sk', server: s.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'client-node-key' }],
      contexts: [{ name: 'c', cluster: 'sk', user: 'u', namespace }],
      currentContext: 'c',
    });
  });
  after(async () => {
    await s.cleanup();
  });

  it('KubernetesObjectApi: create, read, list, patch (merge, apply), delete', async () => {
    const { KubernetesObjectApi, PatchStrategy } = k8s!;
    const api = KubernetesObjectApi.makeApiClient(kc);
    const created = await api.create<Session>({ ...session('cn-1', { labels: { app: 'cn' } }), metadata: { name: 'cn-1', namespace, labels: { app: 'cn' } } });
    assert.equal(created.metadata?.name, 'cn-1');
    assert.ok(created.metadata?.uid);
    const read = await api.read<Session>({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'cn-1', namespace } });
    assert.equal(read.metadata?.uid, created.metadata?.uid);
    const list = await api.list<Session>('sandkasten.dev/v1', 'Session', namespace, undefined, undefined, undefined, undefined, 'app=cn');
    assert.deepEqual(list.items.map((i) => i.metadata?.name), ['cn-1']);
    const merged = await api.patch<Session>(
      { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'cn-1', namespace }, spec: { ttlSeconds: 30 } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    assert.equal(merged.spec?.ttlSeconds, 30);
    assert.equal(merged.metadata?.generation, 2);
    const applied = await api.patch<Session>(
      { apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'cn-2', namespace }, spec: { image: 'base', ttlSeconds: 5 } },
      undefined,
      undefined,
      'client-node',
      true,
      PatchStrategy.ServerSideApply,
    );
    assert.equal(applied.metadata?.name, 'cn-2');
    assert.equal(applied.spec?.ttlSeconds, 5);
    await api.delete({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'cn-2', namespace } });
    await assert.rejects(api.read({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'cn-2', namespace } }), (e: { code?: number }) => e.code === 404);
  });

  it('CustomObjectsApi: create, get, list, patch (merge and JSON patch), delete', async () => {
    const { CustomObjectsApi, PatchStrategy, setHeaderOptions } = k8s!;
    const api = kc.makeApiClient(CustomObjectsApi);
    const created = (await api.createNamespacedCustomObject({ group, version, namespace, plural, body: session('co-1') })) as Session;
    assert.equal(created.metadata?.name, 'co-1');
    const got = (await api.getNamespacedCustomObject({ group, version, namespace, plural, name: 'co-1' })) as Session;
    assert.equal(got.metadata?.resourceVersion, created.metadata?.resourceVersion);
    const list = (await api.listNamespacedCustomObject({ group, version, namespace, plural })) as { kind: string; items: Session[] };
    assert.equal(list.kind, 'SessionList');
    assert.ok(list.items.some((i) => i.metadata?.name === 'co-1'));
    const merged = (await api.patchNamespacedCustomObject(
      { group, version, namespace, plural, name: 'co-1', body: { metadata: { labels: { patched: 'merge' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Session;
    assert.equal(merged.metadata?.labels?.patched, 'merge');
    const jp = (await api.patchNamespacedCustomObject(
      { group, version, namespace, plural, name: 'co-1', body: [{ op: 'add', path: '/spec/ttlSeconds', value: 9 }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )) as Session;
    assert.equal(jp.spec?.ttlSeconds, 9);
    const st = (await api.patchNamespacedCustomObjectStatus(
      { group, version, namespace, plural, name: 'co-1', body: { status: { phase: 'Ready' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as Session;
    assert.equal(st.status?.phase, 'Ready');
    await api.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'co-1' });
    await assert.rejects(api.getNamespacedCustomObject({ group, version, namespace, plural, name: 'co-1' }), (e: { code?: number }) => e.code === 404);
    await assert.rejects(api.createNamespacedCustomObject({ group, version, namespace, plural, body: { ...session('co-bad'), spec: { image: 'base', network: { mode: 'x' } } } }), (e: { code?: number }) => e.code === 422);
  });

  it('Watch: initial ADDED, then MODIFIED and DELETED', async () => {
    const { CustomObjectsApi, PatchStrategy, Watch, setHeaderOptions } = k8s!;
    const api = kc.makeApiClient(CustomObjectsApi);
    await api.createNamespacedCustomObject({ group, version, namespace, plural, body: session('wa-1') });
    const events: string[] = [];
    let resolveDeleted!: () => void;
    const deleted = new Promise<void>((r) => (resolveDeleted = r));
    const watch = new Watch(kc);
    const ctl = await watch.watch(
      `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      { fieldSelector: 'metadata.name=wa-1', allowWatchBookmarks: true },
      (type, obj: Session) => {
        events.push(`${type}:${obj.metadata?.name}`);
        if (type === 'DELETED') resolveDeleted();
      },
      () => {},
    );
    while (events.length < 1) await new Promise((r) => setTimeout(r, 20));
    await api.patchNamespacedCustomObject(
      { group, version, namespace, plural, name: 'wa-1', body: { spec: { ttlSeconds: 1 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await api.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'wa-1' });
    await deleted;
    ctl.abort();
    assert.deepEqual(events, ['ADDED:wa-1', 'MODIFIED:wa-1', 'DELETED:wa-1']);
  });
});
