// The repository's manifests/ examples are valid: the GitOps syncer applies every one of them to a
// real API server (no controllers), and so does `skctl apply` — which, given the same directory,
// produces the same objects (one server-side apply), and with --prune -l prunes only what it
// applied and the selector matches.

import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GitOpsSyncStatus } from '@sandkasten/api-schemas';
import { parseConfigText, resolveConfig } from '../config/index.js';
import { scanDirectory } from './scan.js';
import { GV, REPO_MANIFESTS, session, setup, type Env } from './testutil.js';

let env: Env;
beforeEach(async () => {
  env = await setup();
});
afterEach(async () => {
  await env.cleanup();
});

/** The path of an object on the API. */
function path(kind: string, namespace: string, name: string): string {
  const plural = `${kind.toLowerCase()}s`;
  return namespace ? `/apis/${GV}/namespaces/${namespace}/${plural}/${name}` : `/apis/${GV}/${plural}/${name}`;
}

describe('manifests/', () => {
  it('has an example of every kind, each accepted by the API through GitOps', async () => {
    const scan = await scanDirectory(REPO_MANIFESTS);
    assert.deepEqual(scan.errors, []);
    const objects = scan.manifests.map((m) => `${m.info.kind}/${m.namespace}/${m.name}`).sort();
    assert.deepEqual(objects, ['Image//custom-rootfs', 'Image//python', 'Session/default/locked-down', 'Session/default/python-dev', 'Workspace/default/notebooks']);
    const sources = scan.manifests.filter((m) => m.info.kind === 'Image').map((m) => (m.object.spec as { source: string }).source);
    assert.ok(sources.some((s) => s.startsWith('oci://')) && sources.some((s) => s.startsWith('tar://')), 'a registry image and a tarball image');
    const locked = scan.manifests.find((m) => m.name === 'locked-down')!.object.spec as Record<string, Record<string, unknown>>;
    assert.equal(locked.securityProfile!.seccomp, 'strict');
    assert.equal(locked.network!.mode, 'none');

    const s = await env.start({ dir: REPO_MANIFESTS, prune: false, watch: false });
    const st = env.get('gitopssyncs', '', s.name)!.status as GitOpsSyncStatus;
    assert.equal(st.failed, 0, JSON.stringify(st.errors));
    assert.equal(st.applied, objects.length);
    for (const m of scan.manifests) {
      const r = await env.server.req('GET', path(m.info.kind, m.namespace, m.name));
      assert.equal(r.status, 200, `${m.file}: ${m.info.kind} ${m.name}`);
    }
  });

  it("is what the quickstart config's commented gitops section would follow", () => {
    const file = fileURLToPath(new URL('../../../sandkasten.yaml', import.meta.url));
    const text = readFileSync(file, 'utf8');
    assert.equal(resolveConfig(parseConfigText(text, file), file).gitops, undefined, 'off as shipped');
    const on = text.replace(/^# (gitops:\n)((?:#   .*\n)+)/m, (_m, head: string, body: string) => head + body.replace(/^# /gm, ''));
    assert.notEqual(on, text, 'the commented section is there');
    const gitops = resolveConfig(parseConfigText(on, file), file).gitops!;
    assert.equal(resolve(dirname(file), gitops.path), resolve(REPO_MANIFESTS));
    assert.equal(gitops.prune, true);
  });

  it('skctl apply accepts them too, with the same result', async () => {
    const r = await env.skctl(['apply', '-R', '-f', REPO_MANIFESTS, '-n', 'cli']);
    assert.equal(r.code, 0, r.stderr);
    await env.start({ dir: REPO_MANIFESTS, prune: false, watch: false });
    // The same manifests applied by skctl (into namespace cli) and by GitOps (into default).
    for (const name of ['python-dev', 'locked-down']) {
      assert.deepEqual(env.get('sessions', 'cli', name)!.spec, env.get('sessions', 'default', name)!.spec, name);
    }
    assert.deepEqual(env.get('workspaces', 'cli', 'notebooks')!.spec, env.get('workspaces', 'default', 'notebooks')!.spec);
  });
});

describe('skctl apply --prune -l, beside GitOps', () => {
  it('applies as GitOps does, and prunes only what it applied and the selector matches', async () => {
    const labelled = (name: string, app: string, spec: Record<string, unknown> = {}) => session(name, { ttlSeconds: 42, ...spec }, { labels: { app } });
    env.write('a.yaml', labelled('a', 'demo'));
    env.write('b.yaml', labelled('b', 'demo', { resources: { cpu: '500m', memory: '64Mi' } }));
    env.write('c.yaml', labelled('c', 'other'));
    let r = await env.skctl(['apply', '-f', env.dir, '-l', 'app=demo', '--prune', '-n', 'cli']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['session.sandkasten.dev/a created', 'session.sandkasten.dev/b created']);
    assert.equal(env.get('sessions', 'cli', 'c'), undefined, '-l applies only matching manifests');
    // A matching object skctl did not apply, and the GitOps copies of the same manifests.
    const post = await env.server.req('POST', `/apis/${GV}/namespaces/cli/sessions`, JSON.parse(labelled('bystander', 'demo')));
    assert.equal(post.status, 201, post.text);
    await env.start({ prune: true, watch: false });
    assert.deepEqual(env.get('sessions', 'cli', 'b')!.spec, env.get('sessions', 'default', 'b')!.spec, 'one apply: the same stored spec');

    env.remove('b.yaml');
    r = await env.skctl(['apply', '-f', env.dir, '-l', 'app=demo', '--prune', '-n', 'cli']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^session\.sandkasten\.dev\/b pruned$/m);
    assert.equal(env.get('sessions', 'cli', 'b'), undefined);
    assert.ok(env.get('sessions', 'cli', 'a'));
    assert.ok(env.get('sessions', 'cli', 'bystander'), 'an object skctl did not apply is never pruned');
  });
});
