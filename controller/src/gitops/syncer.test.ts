// The GitOps syncer against a real API server and store (no controllers), with real files in a
// temp directory, a real git repository and chokidar watching: every change becomes one sync, a
// broken file keeps its objects, prune touches only its own applyset, a restart deletes nothing.

import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GitOpsSyncStatus } from '@sandkasten/api-schemas';
import { LAST_APPLIED } from '../apiserver/registry.js';
import { APPLYSET_LABEL, SOURCE_ANNOTATION } from './names.js';
import { GV, session, setup, sleep, waitFor, type Env } from './testutil.js';

const SES = 'sessions';
const status = (env: Env, name: string) => env.get('gitopssyncs', '', name)?.status as GitOpsSyncStatus;
const spec = (env: Env, name: string, ns = 'default') => env.get(SES, ns, name)?.spec as Record<string, unknown> | undefined;
/** Long enough for a second (unwanted) sync to show: the debounce's quiet period and max wait, and then some. */
const SETTLE_MS = 2_500;

let env: Env;
beforeEach(async () => {
  env = await setup();
});
afterEach(async () => {
  await env.cleanup();
});

describe('gitops syncer', () => {
  it('follows files being added, changed, renamed and deleted', async () => {
    env.write('a.yaml', session('a', { ttlSeconds: 60 }));
    env.write('keep.yaml', session('keep'));
    env.write('notes.txt', 'not a manifest');
    env.write('.hidden.yaml', session('hidden'));
    env.write('.git-like/x.yaml', session('in-dot-dir'));
    const s = await env.start();
    assert.equal(env.syncCount(s), 1);
    const a = env.get(SES, 'default', 'a')!;
    assert.equal((a.metadata.labels as Record<string, string>)[APPLYSET_LABEL], s.applySet);
    assert.equal((a.metadata.annotations as Record<string, string>)[SOURCE_ANNOTATION], 'a.yaml');
    assert.ok(JSON.parse((a.metadata.annotations as Record<string, string>)[LAST_APPLIED]!).gitops, 'applied by the gitops field manager');
    assert.equal(env.get(SES, 'default', 'hidden'), undefined, 'dot files are skipped');
    assert.equal(env.get(SES, 'default', 'in-dot-dir'), undefined, 'dot directories are skipped');
    assert.equal(status(env, s.name).objects, 2);

    // add
    env.write('sub/dir/w.json', JSON.stringify({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'w' } }));
    await env.syncs(s, 2);
    assert.ok(env.get('workspaces', 'default', 'w'));
    // change
    env.write('a.yaml', session('a', { ttlSeconds: 90 }));
    await env.syncs(s, 3);
    assert.equal(spec(env, 'a')!.ttlSeconds, 90);
    assert.equal(env.get(SES, 'default', 'a')!.metadata.generation, 2);
    // rename: the object stays (same uid), its source follows
    const rec = env.record([SES]);
    env.rename('a.yaml', 'moved/a.yml');
    await env.syncs(s, 4);
    const moved = env.get(SES, 'default', 'a')!;
    assert.equal(moved.metadata.uid, a.metadata.uid);
    assert.equal((moved.metadata.annotations as Record<string, string>)[SOURCE_ANNOTATION], 'moved/a.yml');
    assert.deepEqual(rec.events.map((e) => e.type), ['MODIFIED']);
    rec.stop();
    // delete: pruned
    env.remove('sub');
    await env.syncs(s, 5);
    assert.equal(env.get('workspaces', 'default', 'w'), undefined);
    assert.equal(status(env, s.name).pruned, 1);
    // a file that is not a manifest changes nothing
    env.write('notes.txt', 'still not a manifest');
    await sleep(SETTLE_MS);
    assert.equal(env.syncCount(s), 5);
  });

  it('a branch switch in a git repository touching 100 files is one sync', async () => {
    for (let i = 0; i < 100; i++) env.write(`s${String(i).padStart(3, '0')}.yaml`, session(`s${i}`, { ttlSeconds: 100 }));
    env.git(['init', '-q']);
    env.git(['add', '.']);
    env.git(['commit', '-q', '-m', 'main']);
    env.git(['checkout', '-q', '-b', 'other']);
    for (let i = 0; i < 100; i++) {
      const f = `s${String(i).padStart(3, '0')}.yaml`;
      if (i < 10) env.remove(f);
      else env.write(f, session(`s${i}`, { ttlSeconds: 200 }));
    }
    for (let i = 100; i < 110; i++) env.write(`s${i}.yaml`, session(`s${i}`, { ttlSeconds: 200 }));
    env.git(['add', '-A']);
    env.git(['commit', '-q', '-m', 'other']);
    const otherCommit = env.git(['rev-parse', 'HEAD']).trim();
    env.git(['checkout', '-q', 'main']);
    const mainCommit = env.git(['rev-parse', 'HEAD']).trim();

    const s = await env.start();
    let st = status(env, s.name);
    assert.equal(st.commit, mainCommit);
    assert.equal(st.shortCommit, mainCommit.slice(0, 7));
    assert.equal(st.branch, 'main');
    assert.equal(st.applied, 100);

    env.git(['checkout', '-q', 'other']);
    await env.syncs(s, 2);
    await sleep(SETTLE_MS);
    assert.equal(env.syncCount(s), 2, 'exactly one sync for the whole checkout');
    st = status(env, s.name);
    assert.equal(st.commit, otherCommit);
    assert.equal(st.branch, 'other');
    assert.deepEqual([st.applied, st.unchanged, st.pruned, st.failed], [100, 0, 10, 0]);
    for (let i = 0; i < 10; i++) assert.equal(env.get(SES, 'default', `s${i}`), undefined, `s${i} pruned`);
    for (let i = 10; i < 110; i++) assert.equal(spec(env, `s${i}`)!.ttlSeconds, 200, `s${i}`);
    const events = env.server.store.list('events', 'default').items.filter((e) => (e.involvedObject as { name: string }).name === s.name);
    assert.ok(
      events.some((e) => e.reason === 'Synced' && e.type === 'Normal' && e.message === `applied 100, unchanged 0, pruned 10, failed 0 at commit ${otherCommit.slice(0, 7)}`),
      JSON.stringify(events.map((e) => e.message)),
    );
  });

  it('a broken file keeps its objects; the good files next to it are applied; errors name file, document and field', async () => {
    env.write('good.yaml', session('good', { ttlSeconds: 10 }));
    env.write('multi.yaml', `${session('m1', { ttlSeconds: 10 })}\n---\n${JSON.stringify({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'm2' } })}\n`);
    env.write('later-broken.yaml', session('lb'));
    const s = await env.start();
    assert.ok(env.get(SES, 'default', 'm1') && env.get('workspaces', 'default', 'm2') && env.get(SES, 'default', 'lb'));
    const rec = env.record([SES, 'workspaces']);

    env.write('good.yaml', session('good', { ttlSeconds: 20 }));
    // m1 changes, but m2 in the same file is invalid: neither applies
    env.write('multi.yaml', `${session('m1', { ttlSeconds: 30 })}\n---\n${JSON.stringify({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'm2' }, spec: { reclaimPolicy: 'Sometimes' } })}\n`);
    env.write('later-broken.yaml', 'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata: {name: lb\nspec: {}\n');
    env.write('pod.yaml', 'apiVersion: sandkasten.dev/v1\nkind: Pod\nmetadata: {name: p}\n');
    env.write('typo.yaml', `---\n# first document empty\n---\n${session('t', { imagee: 'x' })}\n`);
    env.write('new-good.yaml', session('new-good'));
    await env.syncs(s, 2);
    await sleep(SETTLE_MS);

    assert.equal(spec(env, 'good')!.ttlSeconds, 20, 'a good file next to broken ones is applied');
    assert.ok(env.get(SES, 'default', 'new-good'));
    assert.equal(spec(env, 'm1')!.ttlSeconds, 10, 'the valid document of a broken file keeps its last applied state');
    assert.ok(env.get('workspaces', 'default', 'm2'));
    assert.ok(env.get(SES, 'default', 'lb'), 'the object of a file that stopped parsing is not pruned');
    assert.equal(env.get(SES, 'default', 't'), undefined);
    assert.deepEqual(
      rec.events.filter((e) => e.type === 'DELETED'),
      [],
      'nothing deleted',
    );
    rec.stop();

    const st = status(env, s.name);
    assert.equal(st.failed, 4);
    const errs = Object.fromEntries(st.errors!.map((e) => [e.file, e]));
    assert.deepEqual(errs['multi.yaml'], {
      file: 'multi.yaml',
      document: 1,
      field: 'spec.reclaimPolicy',
      message: 'Unsupported value: "Sometimes": supported values: "Retain", "Delete"',
    });
    assert.equal(errs['later-broken.yaml']!.document, 0);
    assert.match(errs['later-broken.yaml']!.message, /^invalid YAML: line \d+, column \d+: /);
    assert.deepEqual(errs['pod.yaml'], { file: 'pod.yaml', document: 0, field: 'kind', message: 'Unsupported value: "Pod": supported values: "Session", "Workspace", "Image"' });
    assert.deepEqual(errs['typo.yaml'], { file: 'typo.yaml', document: 1, field: 'spec.imagee', message: 'unknown field "spec.imagee"' });
    const synced = st.conditions!.find((c) => c.type === 'Synced')!;
    const degraded = st.conditions!.find((c) => c.type === 'Degraded')!;
    assert.deepEqual([synced.status, synced.reason, degraded.status, degraded.reason], ['False', 'ManifestErrors', 'True', 'ManifestErrors']);
    const warnings = env.server.store.list('events', 'default').items.filter((e) => e.reason === 'SyncFailed' && e.type === 'Warning');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.message as string, /^4 manifests failed: \S+\.yaml\[\d\]: .* \(and 3 more\)$/);

    // fixed: everything applies, the conditions recover
    env.write('multi.yaml', `${session('m1', { ttlSeconds: 30 })}\n---\n${JSON.stringify({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'm2' }, spec: { reclaimPolicy: 'Delete' } })}\n`);
    env.write('later-broken.yaml', session('lb', { ttlSeconds: 5 }));
    env.remove('pod.yaml');
    env.write('typo.yaml', session('t'));
    await env.syncs(s, 3);
    const fixed = status(env, s.name);
    assert.equal(fixed.failed, 0);
    assert.equal(fixed.errors, undefined);
    assert.equal(spec(env, 'm1')!.ttlSeconds, 30);
    assert.equal(spec(env, 'lb')!.ttlSeconds, 5);
    assert.equal(fixed.conditions!.find((c) => c.type === 'Synced')!.status, 'True');
    assert.equal(fixed.conditions!.find((c) => c.type === 'Degraded')!.status, 'False');
  });

  it('a renamed file that is also broken keeps the objects of the file it replaced', async () => {
    env.write('a.yaml', session('a'));
    env.write('b.yaml', session('b'));
    const s = await env.start();
    env.rename('a.yaml', 'renamed.yaml');
    env.write('renamed.yaml', 'kind: Session\nmetadata: [unclosed\n');
    await env.syncs(s, 2);
    assert.ok(env.get(SES, 'default', 'a'), 'its content is unknown, so a might be in it: not pruned');
    assert.equal(status(env, s.name).failed, 1);
  });

  it('two quick saves are one sync, with the final content', async () => {
    env.write('keep.yaml', session('keep'));
    const s = await env.start();
    env.write('q.yaml', session('q', { ttlSeconds: 10 }));
    await sleep(50);
    env.write('q.yaml', session('q', { ttlSeconds: 20 }));
    await env.syncs(s, 2);
    await sleep(SETTLE_MS);
    assert.equal(env.syncCount(s), 2);
    const q = env.get(SES, 'default', 'q')!;
    assert.equal((q.spec as { ttlSeconds: number }).ttlSeconds, 20);
    assert.equal(q.metadata.generation, 1, 'created with the final content, never with the first');
  });

  it('prunes only objects of its own applyset that the gitops manager applied', async () => {
    env.write('shared.yaml', session('shared'));
    env.write('keep.yaml', session('keep'));
    const s = await env.start();
    const post = async (ns: string, body: unknown) => {
      const r = await env.server.req('POST', `/apis/${GV}/namespaces/${ns}/sessions`, body);
      assert.equal(r.status, 201, r.text);
    };
    const apply = async (ns: string, name: string, manager: string, labels: Record<string, string>) => {
      const r = await env.server.req('PATCH', `/apis/${GV}/namespaces/${ns}/sessions/${name}?fieldManager=${manager}`, JSON.stringify({ apiVersion: GV, kind: 'Session', metadata: { name, labels } }), {
        'content-type': 'application/apply-patch+yaml',
      });
      assert.equal(r.status, 201, r.text);
    };
    // Same kind and name in another namespace, made by another client.
    await post('other', JSON.parse(session('shared')));
    // Our label copied onto an object made with POST (never applied by gitops).
    await post('default', JSON.parse(session('copied-label', {}, { labels: { [APPLYSET_LABEL]: s.applySet } })));
    // Applied by "gitops" but for another directory's applyset.
    await apply('default', 'other-set', 'gitops', { [APPLYSET_LABEL]: 'gitops-deadbeef' });
    // Applied by skctl, no label.
    await apply('default', 'by-skctl', 'skctl', {});
    const rec = env.record([SES]);
    env.remove('shared.yaml');
    await env.syncs(s, 2);
    assert.equal(env.get(SES, 'default', 'shared'), undefined, 'its own object is pruned');
    for (const [ns, name] of [
      ['other', 'shared'],
      ['default', 'copied-label'],
      ['default', 'other-set'],
      ['default', 'by-skctl'],
      ['default', 'keep'],
    ] as const) {
      assert.ok(env.get(SES, ns, name), `${ns}/${name} untouched`);
    }
    assert.deepEqual(
      rec.events.filter((e) => e.type === 'DELETED').map((e) => `${e.object.metadata.namespace}/${e.object.metadata.name}`),
      ['default/shared'],
    );
    rec.stop();
    assert.equal(status(env, s.name).pruned, 1);
  });

  it('prune: false keeps objects whose manifests are gone and reports them as orphaned', async () => {
    env.write('a.yaml', session('a'));
    env.write('ws.yaml', JSON.stringify({ apiVersion: GV, kind: 'Workspace', metadata: { name: 'w', namespace: 'team' } }));
    env.write('keep.yaml', session('keep'));
    const s = await env.start({ prune: false });
    env.remove('a.yaml');
    env.remove('ws.yaml');
    await env.syncs(s, 2);
    assert.ok(env.get(SES, 'default', 'a'));
    assert.ok(env.get('workspaces', 'team', 'w'));
    const st = status(env, s.name);
    assert.equal(st.orphaned, 2);
    assert.equal(st.pruned, 0);
    assert.deepEqual(st.orphans, [
      { kind: 'Session', namespace: 'default', name: 'a', file: 'a.yaml' },
      { kind: 'Workspace', namespace: 'team', name: 'w', file: 'ws.yaml' },
    ]);
    const synced = st.conditions!.find((c) => c.type === 'Synced')!;
    assert.equal(synced.status, 'True');
    assert.match(synced.message!, /2 orphaned \(prune is off\)/);
    assert.equal((env.get('gitopssyncs', '', s.name)!.spec as { prune: boolean }).prune, false);
    // Turning prune on (a new syncer, as after a config change and restart) deletes them.
    await s.stop();
    const s2 = await env.start({ prune: true });
    assert.equal(env.get(SES, 'default', 'a'), undefined);
    assert.equal(status(env, s2.name).pruned, 2);
  });

  it('an empty directory prunes nothing', async () => {
    env.write('a.yaml', session('a'));
    const s = await env.start();
    env.remove('a.yaml');
    await env.syncs(s, 2);
    assert.ok(env.get(SES, 'default', 'a'));
    assert.match(status(env, s.name).conditions![0]!.message!, /declares no objects, so the 1 it applied before were not pruned/);
  });

  it('a restart with the directory intact deletes nothing and changes nothing', async () => {
    for (let i = 0; i < 50; i++) env.write(`d${i % 5}/s${i}.yaml`, session(`s${i}`));
    const first = await env.start();
    assert.equal(status(env, first.name).applied, 50);
    await first.stop();
    const rec = env.record([SES]);
    const second = await env.start();
    assert.equal(second.name, first.name);
    assert.equal(env.syncCount(second), 2);
    const st = status(env, second.name);
    assert.deepEqual([st.applied, st.unchanged, st.pruned, st.failed], [0, 50, 0, 0]);
    await sleep(500);
    assert.deepEqual(rec.events, [], 'no Session was written at all');
    rec.stop();
  });

  it('syncs again every interval', async () => {
    env.write('a.yaml', session('a'));
    const s = await env.start({ intervalSeconds: 1, watch: false });
    env.write('b.yaml', session('b'));
    await env.syncs(s, 2, 5_000);
    assert.ok(env.get(SES, 'default', 'b'));
  });

  it('a missing directory is reported and nothing is pruned; it is picked up once it exists', async () => {
    env.write('a.yaml', session('a'));
    const s = await env.start({ intervalSeconds: 1 });
    env.remove('.');
    await env.syncs(s, 2, 5_000);
    const st = status(env, s.name);
    assert.equal(st.failed, 1);
    assert.match(st.errors![0]!.message, /cannot read directory .*: no such file or directory/);
    assert.equal(st.conditions!.find((c) => c.type === 'Synced')!.reason, 'DirectoryUnreadable');
    assert.ok(env.get(SES, 'default', 'a'));
    env.write('b.yaml', session('b'));
    await waitFor(() => env.get(SES, 'default', 'b'), 'b applied once the directory is back', 5_000);
    assert.equal(status(env, s.name).failed, 0);
  });
});
