// The routes as the API presents them: discovery lists the subresources, other paths stay 404.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isRoot, json, startHarness, type Harness } from './testutil.js';

describe('subresource routes', { skip: !isRoot && 'needs root (the runner runs in its own namespaces)', timeout: 30_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    await h.session('s');
  });
  after(() => h?.close());

  test('discovery lists sessions/exec, /fs, /attach and /stats with their verbs', async () => {
    const list = await json(await h.fetch(`${h.url}/apis/sandkasten.dev/v1`));
    const byName = new Map<string, { verbs: string[] }>(list.resources.map((r: { name: string; verbs: string[] }) => [r.name, r]));
    assert.deepEqual(byName.get('sessions/exec')?.verbs, ['create']);
    assert.deepEqual(byName.get('sessions/fs')?.verbs, ['create', 'delete', 'get', 'update']);
    assert.deepEqual(byName.get('sessions/attach')?.verbs, ['get']);
    assert.deepEqual(byName.get('sessions/stats')?.verbs, ['get']);
    assert.ok(byName.has('sessions/status'));
    assert.ok(!byName.has('workspaces/exec'));
    const agg = await json(await h.fetch(`${h.url}/apis`, { headers: { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' } }));
    const sessions = agg.items[0].versions[0].resources.find((r: { resource: string }) => r.resource === 'sessions');
    assert.deepEqual(
      sessions.subresources.map((s: { subresource: string }) => s.subresource),
      ['status', 'exec', 'fs', 'attach', 'stats'],
    );
  });

  test('other subresources and workspaces are not served', async () => {
    for (const path of ['sessions/s/logs', 'workspaces/s/exec']) {
      const r = await h.fetch(`${h.url}/apis/sandkasten.dev/v1/namespaces/default/${path}`, { method: 'POST', body: '{}' });
      assert.equal(r.status, 404, path);
      assert.equal((await json(r)).reason, 'NotFound');
    }
    const r = await h.fetch(h.sub('s', 'stats'), { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    await r.text();
  });
});
