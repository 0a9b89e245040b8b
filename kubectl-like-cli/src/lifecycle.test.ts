// skctl describe, delete, diff and wait end to end.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NotFoundError } from '@sandkasten/client';
import type { Event } from '@sandkasten/api-schemas';
import { setup, sessionYaml, workspaceYaml, type Env } from './testutil.js';

let e: Env;
before(async () => {
  e = await setup();
});
after(() => e.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function event(obj: { kind: string; metadata: { name?: string; namespace?: string; uid?: string } }, reason: string, message: string, minutesAgo: number, count = 1) {
  const last = new Date(Date.now() - minutesAgo * 60_000).toISOString();
  const first = new Date(Date.now() - (minutesAgo + 10) * 60_000).toISOString();
  await e.client.create({
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Event',
    metadata: { name: `${obj.metadata.name}.${reason.toLowerCase()}`, namespace: obj.metadata.namespace ?? 'default' },
    involvedObject: { apiVersion: 'sandkasten.dev/v1', kind: obj.kind, name: obj.metadata.name!, namespace: obj.metadata.namespace, uid: obj.metadata.uid! },
    reason,
    message,
    type: reason === 'Failed' ? 'Warning' : 'Normal',
    count,
    firstTimestamp: count > 1 ? first : last,
    lastTimestamp: last,
    source: { component: 'session-controller' },
  } as Event);
}

test('describe: metadata, spec, status, a conditions table and the events, oldest first', async () => {
  const s = await e.client.create({
    apiVersion: 'sandkasten.dev/v1',
    kind: 'Session',
    metadata: { name: 'desc1', labels: { team: 'a', app: 'x' }, annotations: { note: 'hello' } },
    spec: { image: 'base', ttlSeconds: 600, env: [{ name: 'A', value: '1' }] },
  });
  await e.client.patch(
    'ses',
    'desc1',
    {
      status: {
        phase: 'Ready',
        observedGeneration: 1,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'RunnerReady', message: 'the runner answers', lastTransitionTime: new Date(Date.now() - 20 * 60_000).toISOString() },
          { type: 'SpecApplied', status: 'True', reason: 'Applied', message: '', lastTransitionTime: new Date(Date.now() - 30 * 60_000).toISOString() },
        ],
      },
    },
    { subresource: 'status' },
  );
  // Ages of 10 minutes and more print in whole minutes: robust on a slow machine.
  await event(s, 'Started', 'sandbox started', 30);
  await event(s, 'Scheduled', 'image resolved', 50, 4);
  // an event about another object with the same name pattern is not shown
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'desc2' }, spec: { image: 'base' } }).then((o) => event(o, 'Other', 'not mine', 1));

  const r = await e.skctl(['describe', 'session', 'desc1']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^Name: {9}desc1\nNamespace: {4}default\nLabels: {7}app=x\n {14}team=a\nAnnotations: {2}note: hello\nAPI Version: {2}sandkasten.dev\/v1\nKind: {9}Session\n/);
  assert.doesNotMatch(out, /last-applied/);
  assert.match(out, /\nMetadata:\n {2}Creation Timestamp: {2}\S+\n {2}Generation: {10}1\n/);
  assert.match(out, /\nSpec:\n {2}Image: {8}base\n {2}TTL Seconds: {2}600\n {2}Env:\n {4}- Name: {3}A\n {6}Value: {2}1\n/);
  assert.match(out, /\nStatus:\n {2}Phase: {16}Ready\n {2}Observed Generation: {2}1\n/);
  assert.match(out, /\nConditions:\n {2}Type {9}Status {2}Reason {7}Age {2}Message\n {2}---- {9}------ {2}------ {7}--- {2}-------\n {2}Ready {8}True {4}RunnerReady {2}20m {2}the runner answers\n {2}SpecApplied {2}True {4}Applied {6}30m\n/);
  const ev = out.slice(out.indexOf('\nEvents:\n'));
  assert.match(ev, /Type {4}Reason {5}Age {16}From {16}Message/);
  const lines = ev.trim().split('\n').slice(3);
  assert.equal(lines.length, 2, ev);
  assert.match(lines[0]!, /^ {2}Normal {2}Scheduled {2}50m \(x4 over 60m\) {2}session-controller {2}image resolved$/);
  assert.match(lines[1]!, /^ {2}Normal {2}Started {4}30m {16}session-controller {2}sandbox started$/);

  const none = await e.skctl(['describe', 'ses', 'desc2', '--no-show-events']);
  assert.doesNotMatch(none.stdout, /Events:/);
  const missing = await e.skctl(['describe', 'ses', 'nope']);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'Error from server (NotFound): sessions.sandkasten.dev "nope" not found\n');
});

test('describe an Image: cluster-scoped, events from "default"', async () => {
  const img = await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'py' }, spec: { source: 'oci://docker.io/library/python:3.12-slim' } });
  await event({ ...img, metadata: { ...img.metadata, namespace: undefined } }, 'Pulled', 'pulled 3 layers', 40);
  const r = await e.skctl(['describe', 'img', 'py']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /Namespace:/);
  assert.match(r.stdout, /\n {2}Normal {2}Pulled {2}40m {2}session-controller {2}pulled 3 layers\n/);
});

test('delete: by name, not found, --ignore-not-found, -l, -f, waiting for finalizers', async () => {
  for (const n of ['d1', 'd2', 'd3']) await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: n, labels: { grp: n === 'd3' ? 'y' : 'x' } } });
  let r = await e.skctl(['delete', 'ws', 'd1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev "d1" deleted\n');
  r = await e.skctl(['delete', 'ws', 'd1']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'Error from server (NotFound): workspaces.sandkasten.dev "d1" not found\n');
  r = await e.skctl(['delete', 'ws', 'd1', '--ignore-not-found']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
  r = await e.skctl(['delete', 'ws', '-l', 'grp=x', '--dry-run=server']);
  assert.equal(r.stdout, 'workspace.sandkasten.dev "d2" deleted (server dry run)\n');
  assert.ok(await e.client.get('ws', 'd2'));
  r = await e.skctl(['delete', 'ws', '-l', 'grp=x']);
  assert.equal(r.stdout, 'workspace.sandkasten.dev "d2" deleted\n');
  r = await e.skctl(['delete', 'ws']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no name was specified/);

  const f = e.write('del.yaml', `${workspaceYaml('d3')}---\n${sessionYaml('d4')}`);
  r = await e.skctl(['delete', '-f', f, '--ignore-not-found']);
  assert.equal(r.stdout, 'workspace.sandkasten.dev "d3" deleted\n');

  // A finalizer holds the object: delete waits until it is released.
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'held', finalizers: ['test.sandkasten.dev/hold'] } });
  const pending = e.skctl(['delete', 'ws', 'held']);
  // marked for deletion by skctl, and still there
  for (let i = 0; !(await e.client.get('ws', 'held')).metadata.deletionTimestamp; i++) {
    assert.ok(i < 400, 'skctl did not mark the object for deletion');
    await sleep(50);
  }
  await sleep(200);
  assert.equal((await e.client.get('ws', 'held')).metadata.name, 'held');
  await e.client.patch('ws', 'held', [{ op: 'remove', path: '/metadata/finalizers' }], { type: 'json' });
  r = await pending;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'workspace.sandkasten.dev "held" deleted\n');
  await assert.rejects(e.client.get('ws', 'held'), NotFoundError);

  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'held2', finalizers: ['test.sandkasten.dev/hold'] } });
  r = await e.skctl(['delete', 'ws', 'held2', '--wait=false']);
  assert.equal(r.code, 0, r.stderr);
  r = await e.skctl(['delete', 'ws', 'held2', '--timeout=300ms']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /timed out waiting for workspace.sandkasten.dev\/held2 to be deleted/);
  await e.client.patch('ws', 'held2', [{ op: 'remove', path: '/metadata/finalizers' }], { type: 'json' });
});

test('diff: exit 0 without changes, 1 with a unified diff, 2 on errors', async () => {
  const f = e.write('diff.yaml', sessionYaml('df1', 'spec:\n  image: base\n  ttlSeconds: 600\n'));
  let r = await e.skctl(['diff', '-f', f]);
  assert.equal(r.code, 1, 'a new object is a difference');
  assert.match(r.stdout, /^--- LIVE\/sandkasten.dev.v1.Session.default.df1\n\+\+\+ MERGED\/sandkasten.dev.v1.Session.default.df1\n/);
  assert.match(r.stdout, /^\+ {2}ttlSeconds: 600$/m);
  await e.skctl(['apply', '-f', f]);
  r = await e.skctl(['diff', '-f', f]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  e.write('diff.yaml', sessionYaml('df1', 'spec:\n  image: base\n  ttlSeconds: 900\n'));
  r = await e.skctl(['diff', '-f', f]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^- {2}ttlSeconds: 600\n\+ {2}ttlSeconds: 900$/m);
  assert.doesNotMatch(r.stdout, /last-applied/);
  assert.equal((await e.client.get('ses', 'df1')).spec?.ttlSeconds, 600, 'diff changes nothing');

  e.write('diff-bad.yaml', sessionYaml('df2', 'spec:\n  image: base\n  network:\n    mode: nope\n'));
  r = await e.skctl(['diff', '-f', `${e.dir}/diff-bad.yaml`]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /spec.network.mode: Unsupported value: "nope"/);
  r = await e.skctl(['diff', '-f', `${e.dir}/none.yaml`]);
  assert.equal(r.code, 2);
  r = await e.skctl(['diff', '-f', f], { env: { SANDKASTEN_SERVER: 'http://127.0.0.1:1' } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /connection refused/);
});

test('wait: a condition set by a status write, a jsonpath value, deletion, a timeout', async () => {
  await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'w1' }, spec: { image: 'base' } });
  const waiting = e.skctl(['wait', 'ses', 'w1', '--for=condition=Ready', '--timeout=10s']);
  await sleep(500);
  await e.client.patch('ses', 'w1', { status: { phase: 'Starting' } }, { subresource: 'status' });
  await e.client.patch(
    'ses',
    'w1',
    { status: { phase: 'Ready', conditions: [{ type: 'Ready', status: 'True', reason: 'RunnerReady', message: '', lastTransitionTime: new Date().toISOString() }] } },
    { subresource: 'status' },
  );
  let r = await waiting;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'session.sandkasten.dev/w1 condition met\n');

  r = await e.skctl(['wait', 'ses/w1', "--for=jsonpath={.status.phase}=Ready"]);
  assert.equal(r.stdout, 'session.sandkasten.dev/w1 condition met\n');
  const t0 = Date.now();
  r = await e.skctl(['wait', 'ses', 'w1', '--for=jsonpath={.status.phase}=Failed', '--timeout=500ms']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: timed out waiting for the \{\.status\.phase\}=Failed on session.sandkasten.dev\/w1$/m);
  assert.ok(Date.now() - t0 < 5000);

  r = await e.skctl(['wait', 'ses', 'nope', '--for=condition=Ready']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /NotFound/);
  r = await e.skctl(['wait', 'ses', 'w1', '--for=bogus']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /invalid --for "bogus"/);

  const gone = e.skctl(['wait', 'ses', 'w1', '--for=delete', '--timeout=10s']);
  await sleep(500);
  await e.client.delete('ses', 'w1');
  r = await gone;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'session.sandkasten.dev/w1 deleted\n');
  r = await e.skctl(['wait', 'ses', 'w1', '--for=delete']);
  assert.equal(r.stdout, 'session.sandkasten.dev/w1 deleted\n', 'already gone');
});
