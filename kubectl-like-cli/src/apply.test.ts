// skctl apply end to end: the real binary against a real API server.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NotFoundError } from '@sandkasten/client';
import { setup, sessionYaml, workspaceYaml, type Env } from './testutil.js';

let e: Env;
before(async () => {
  e = await setup();
});
after(() => e.cleanup());

test('created, configured, unchanged; several documents in one file', async () => {
  const f = e.write('a/multi.yaml', `${sessionYaml('s1')}---\n${workspaceYaml('w1', 'spec:\n  reclaimPolicy: Delete\n')}---\n# only a comment\n`);
  let r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'session.sandkasten.dev/s1 created\nworkspace.sandkasten.dev/w1 created\n');
  const rv = (await e.client.get('ses', 's1')).metadata.resourceVersion;

  r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.stdout, 'session.sandkasten.dev/s1 unchanged\nworkspace.sandkasten.dev/w1 unchanged\n');
  assert.equal((await e.client.get('ses', 's1')).metadata.resourceVersion, rv, 'unchanged writes nothing');

  e.write('a/multi.yaml', `${sessionYaml('s1', 'spec:\n  image: base\n  ttlSeconds: 900\n')}---\n${workspaceYaml('w1', 'spec:\n  reclaimPolicy: Delete\n')}`);
  r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.stdout, 'session.sandkasten.dev/s1 configured\nworkspace.sandkasten.dev/w1 unchanged\n');
  assert.equal((await e.client.get('ses', 's1')).spec?.ttlSeconds, 900);

  // a field dropped from the manifest is removed
  e.write('a/multi.yaml', sessionYaml('s1'));
  r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.stdout, 'session.sandkasten.dev/s1 configured\n');
  assert.equal((await e.client.get('ses', 's1')).spec?.ttlSeconds, undefined);
});

test('directories (-R descends), standard input, List documents', async () => {
  e.write('tree/one.yaml', workspaceYaml('t1'));
  e.write('tree/two.json', JSON.stringify({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 't2' } }));
  e.write('tree/notes.txt', 'not a manifest');
  e.write('tree/sub/three.yml', workspaceYaml('t3'));
  let r = await e.skctl(['apply', '-f', `${e.dir}/tree`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/t1 created\nworkspace.sandkasten.dev/t2 created\n');
  r = await e.skctl(['apply', '-R', '-f', `${e.dir}/tree`]);
  // in the order of a lexical walk, as kubectl's: one.yaml, sub/three.yml, two.json
  assert.equal(r.stdout, 'workspace.sandkasten.dev/t1 unchanged\nworkspace.sandkasten.dev/t3 created\nworkspace.sandkasten.dev/t2 unchanged\n');

  r = await e.skctl(['apply', '-f', '-'], { input: workspaceYaml('t4') });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/t4 created\n');
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 't5' } }] });
  r = await e.skctl(['apply', '-f', '-', '-o', 'name'], { input: list });
  assert.equal(r.stdout, 'workspace.sandkasten.dev/t5\n');
});

test('--dry-run=server validates and writes nothing', async () => {
  const f = e.write('dry.yaml', sessionYaml('dry1'));
  let r = await e.skctl(['apply', '-f', f, '--dry-run=server']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'session.sandkasten.dev/dry1 created (server dry run)\n');
  await assert.rejects(e.client.get('ses', 'dry1'), NotFoundError);
  await e.skctl(['apply', '-f', f]);
  e.write('dry.yaml', sessionYaml('dry1', 'spec:\n  image: python\n'));
  r = await e.skctl(['apply', '-f', f, '--dry-run=server']);
  assert.equal(r.stdout, 'session.sandkasten.dev/dry1 configured (server dry run)\n');
  assert.equal((await e.client.get('ses', 'dry1')).spec?.image, 'base');
  e.write('dry.yaml', sessionYaml('dry1'));
  r = await e.skctl(['apply', '-f', f, '--dry-run=server']);
  assert.equal(r.stdout, 'session.sandkasten.dev/dry1 unchanged (server dry run)\n');
  r = await e.skctl(['apply', '-f', f, '--dry-run=client']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--dry-run=client is not supported/);
});

test('--prune -l deletes only what this manager applied, matching the selector, missing from the set', async () => {
  const ns = 'prune';
  const m = (name: string, app: string) => workspaceYaml(name, `  namespace: ${ns}\n  labels:\n    app: ${app}\n`);
  e.write('prune/a.yaml', m('p1', 'demo'));
  e.write('prune/b.yaml', m('p2', 'demo'));
  e.write('prune/c.yaml', m('other-app', 'else'));
  let r = await e.skctl(['apply', '-f', `${e.dir}/prune`]);
  assert.equal(r.code, 0, r.stderr);
  // Not applied (created directly), but matching: never pruned.
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'handmade', namespace: ns, labels: { app: 'demo' } } });

  e.write('prune/b.yaml', '# p2 removed\n');
  r = await e.skctl(['apply', '-f', `${e.dir}/prune`, '-l', 'app=demo', '--prune', '--dry-run=server']);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/p1 unchanged (server dry run)\nworkspace.sandkasten.dev/p2 pruned (server dry run)\n');
  assert.ok(await e.client.get('ws', 'p2', { namespace: ns }), 'a dry run prunes nothing');

  r = await e.skctl(['apply', '-f', `${e.dir}/prune`, '-l', 'app=demo', '--prune']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/p1 unchanged\nworkspace.sandkasten.dev/p2 pruned\n', 'other-app does not match -l: neither applied nor pruned');
  const names = (await e.client.list('ws', { namespace: ns })).items.map((x) => x.metadata.name).sort();
  assert.deepEqual(names, ['handmade', 'other-app', 'p1']);

  r = await e.skctl(['apply', '-f', `${e.dir}/prune`, '--prune']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--prune requires a label selector/);
});

test('errors: each invalid field on its own line, exit 1; other manifests still applied', async () => {
  const f = e.write(
    'bad.yaml',
    `${sessionYaml('Bad_Name', 'spec:\n  image: base\n  network:\n    mode: bridgee\n')}---\n${workspaceYaml('fine1')}`,
  );
  const r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/fine1 created\n');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], 'error: Session.sandkasten.dev "Bad_Name" is invalid:');
  assert.ok(lines.includes('  * spec.network.mode: Unsupported value: "bridgee": supported values: "none", "host", "bridge"'), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('  * metadata.name: Invalid value: "Bad_Name"')), r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

  const k = e.write('kind.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n');
  const r2 = await e.skctl(['apply', '-f', k]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /error: no matches for kind "ConfigMap" in version "v1".*\(from .*kind\.yaml\)/);

  const y = e.write('broken.yaml', 'apiVersion: [\n');
  const r3 = await e.skctl(['apply', '-f', y]);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /^error: error parsing .*broken\.yaml/);

  const r4 = await e.skctl(['apply', '-f', `${e.dir}/missing.yaml`]);
  assert.equal(r4.code, 1);
  assert.match(r4.stderr, /the path ".*missing.yaml" does not exist/);

  const ns = e.write('ns.yaml', workspaceYaml('nsw', '  namespace: team-a\n'));
  const r5 = await e.skctl(['apply', '-f', ns, '-n', 'team-b']);
  assert.equal(r5.code, 1);
  assert.match(r5.stderr, /the namespace from the provided object "team-a" does not match the namespace "team-b"/);
  const r6 = await e.skctl(['apply', '-f', ns]);
  assert.equal(r6.stdout, 'workspace.sandkasten.dev/nsw created\n');
  assert.equal((await e.client.get('ws', 'nsw', { namespace: 'team-a' })).metadata.namespace, 'team-a');
});

test('a namespace on a cluster-scoped kind is dropped, as kubectl does', async () => {
  const f = e.write('img.yaml', 'apiVersion: sandkasten.dev/v1\nkind: Image\nmetadata:\n  name: nsimg\n  namespace: foo\nspec:\n  source: builtin://base\n');
  const r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.stdout, 'image.sandkasten.dev/nsimg created\n', r.stderr);
  assert.equal((await e.client.get('img', 'nsimg')).metadata.namespace, undefined);
  assert.equal((await e.skctl(['diff', '-f', f])).code, 0);
});

test('unknown fields: a warning on stderr, the object applied', async () => {
  const f = e.write('warn.yaml', workspaceYaml('warn1', 'spec:\n  bogus: 1\n'));
  const r = await e.skctl(['apply', '-f', f]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, 'workspace.sandkasten.dev/warn1 created\n');
  assert.match(r.stderr, /^Warning: unknown field "spec.bogus"$/m);
});
