// skctl get end to end, in every output format.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { setup, startSkctl, type Env } from './testutil.js';

let e: Env;
before(async () => {
  e = await setup();
  const c = e.client;
  await c.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'alpha', labels: { team: 'a' } }, spec: { image: 'base' } });
  await c.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'beta', labels: { team: 'b', tier: 'x' } }, spec: { image: 'python', network: { mode: 'host' } } });
  await c.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'gamma', namespace: 'other', labels: { team: 'a' } }, spec: { image: 'base' } });
  await c.patch('ses', 'alpha', { status: { phase: 'Ready', expireTime: new Date(Date.now() + 600_000).toISOString() } }, { subresource: 'status' });
  await c.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'data' }, spec: { reclaimPolicy: 'Delete' } });
  await c.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Image', metadata: { name: 'base' }, spec: { source: 'builtin://base' } });
});
after(() => e.cleanup());

const rows = (s: string) => s.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));

test('table: printer columns, aligned, with kubectl ages', async () => {
  const r = await e.skctl(['get', 'sessions']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  // widths: the longest cell + 3, at least 6 (NAME: alpha+3 = 8, IMAGE: python+3 = 9)
  assert.equal(lines[0], 'NAME    PHASE   IMAGE    AGE');
  assert.match(lines[1]!, /^alpha {3}Ready {3}base {5}\d+s$/);
  assert.match(lines[2]!, /^beta {12}python {3}\d+s$/);
  assert.equal(lines.length, 3, 'gamma is in another namespace');
  // every column starts at the same offset on every line
  const col = (l: string, word: string) => l.indexOf(word);
  assert.equal(col(lines[0]!, 'IMAGE'), col(lines[1]!, 'base'));
  assert.equal(lines[0]!.lastIndexOf('AGE'), lines[2]!.lastIndexOf(' ') + 1);
});

test('kinds by plural, singular, short name, Kind and group-qualified', async () => {
  const want = (await e.skctl(['get', 'sessions', '-o', 'name'])).stdout;
  assert.equal(want, 'session.sandkasten.dev/alpha\nsession.sandkasten.dev/beta\n');
  for (const k of ['session', 'ses', 'sess', 'Session', 'sessions.sandkasten.dev']) assert.equal((await e.skctl(['get', k, '-o', 'name'])).stdout, want, k);
  assert.equal((await e.skctl(['get', 'ws', '-o', 'name'])).stdout, 'workspace.sandkasten.dev/data\n');
  assert.equal((await e.skctl(['get', 'img', '-o', 'name'])).stdout, 'image.sandkasten.dev/base\n');
  assert.equal((await e.skctl(['get', 'ses/alpha', 'ws/data', '-o', 'name'])).stdout, 'session.sandkasten.dev/alpha\nworkspace.sandkasten.dev/data\n');
  const r = await e.skctl(['get', 'pods']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'error: the server doesn\'t have a resource type "pods"\n');
});

test('-o wide, --show-labels, --no-headers, -A, -l, --field-selector', async () => {
  let r = await e.skctl(['get', 'ses', '-o', 'wide']);
  assert.match(r.stdout.split('\n')[0]!, /^NAME\s+PHASE\s+IMAGE\s+AGE\s+NETWORK\s+EXPIRES\s+REASON$/);
  assert.match(r.stdout, /alpha\s+Ready\s+base\s+\d+s\s+none\s+in \d+m(\d+s)?\n/, 'a future time reads "in …"');
  assert.match(r.stdout, /beta\s+python\s+\d+s\s+host\n/);

  r = await e.skctl(['get', 'ses', '--show-labels', '--no-headers']);
  assert.deepEqual(rows(r.stdout).map((x) => [x[0], x.at(-1)]), [
    ['alpha', 'team=a'],
    ['beta', 'team=b,tier=x'],
  ]);

  r = await e.skctl(['get', 'ses', '-A']);
  assert.deepEqual(rows(r.stdout).map((x) => `${x[0]}/${x[1]}`), ['NAMESPACE/NAME', 'default/alpha', 'default/beta', 'other/gamma']);

  r = await e.skctl(['get', 'ses', '-A', '-l', 'team=a', '-o', 'name']);
  assert.equal(r.stdout, 'session.sandkasten.dev/alpha\nsession.sandkasten.dev/gamma\n');
  r = await e.skctl(['get', 'ses', '-l', 'team in (b,c),tier', '-o', 'name']);
  assert.equal(r.stdout, 'session.sandkasten.dev/beta\n');
  r = await e.skctl(['get', 'ses', '--field-selector', 'metadata.name=beta', '-o', 'name']);
  assert.equal(r.stdout, 'session.sandkasten.dev/beta\n');
  r = await e.skctl(['get', 'ses', '-n', 'other', '-o', 'name']);
  assert.equal(r.stdout, 'session.sandkasten.dev/gamma\n');

  r = await e.skctl(['get', 'ses', '-l', 'team=zzz']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'No resources found in default namespace.\n');
  r = await e.skctl(['get', 'ses', '-l', 'a in (']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error from server \(BadRequest\): /);

  // Images are cluster-scoped: no NAMESPACE column even with -A
  r = await e.skctl(['get', 'images', '-A']);
  assert.match(r.stdout.split('\n')[0]!, /^NAME\s+PHASE\s+SOURCE\s+PROGRESS\s+SIZE\s+AGE$/);
});

test('several kinds: one table each, names qualified', async () => {
  const r = await e.skctl(['get', 'ses,ws']);
  assert.equal(r.code, 0, r.stderr);
  const [ses, ws] = r.stdout.split('\n\n');
  assert.match(ses!, /^NAME\s+PHASE\s+IMAGE\s+AGE\nsession.sandkasten.dev\/alpha /);
  assert.match(ws!, /^NAME\s+PHASE\s+SIZE\s+AGE\nworkspace.sandkasten.dev\/data /);
  const all = await e.skctl(['get', 'all', '-o', 'name']);
  assert.equal(all.stdout, 'session.sandkasten.dev/alpha\nsession.sandkasten.dev/beta\nworkspace.sandkasten.dev/data\nimage.sandkasten.dev/base\n');
});

test('-o json and yaml: one object by name, a List otherwise', async () => {
  let r = await e.skctl(['get', 'ses', 'alpha', '-o', 'json']);
  const one = JSON.parse(r.stdout) as { kind: string; metadata: { name: string }; status: { phase: string } };
  assert.equal(one.kind, 'Session');
  assert.equal(one.status.phase, 'Ready');
  assert.match(r.stdout, /^{\n {4}"apiVersion": "sandkasten.dev\/v1",\n {4}"kind": "Session",/, 'kubectl layout: sorted keys, 4 spaces');
  r = await e.skctl(['get', 'ses', '-o', 'json']);
  const list = JSON.parse(r.stdout) as { kind: string; items: { metadata: { name: string } }[] };
  assert.equal(list.kind, 'List');
  assert.deepEqual(list.items.map((x) => x.metadata.name), ['alpha', 'beta']);
  r = await e.skctl(['get', 'ses', 'beta', '-o', 'yaml']);
  const y = parse(r.stdout) as { spec: { image: string; network: { mode: string } }; metadata: { labels: Record<string, string> } };
  assert.equal(y.spec.image, 'python');
  assert.equal(y.spec.network.mode, 'host');
  assert.deepEqual(y.metadata.labels, { team: 'b', tier: 'x' });
  r = await e.skctl(['get', 'ses', '-l', 'team=zzz', '-o', 'yaml']);
  assert.deepEqual(parse(r.stdout), { apiVersion: 'v1', items: [], kind: 'List', metadata: { resourceVersion: '' } });
});

test('-o jsonpath and custom-columns', async () => {
  let r = await e.skctl(['get', 'ses', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.spec.image}{"\\n"}{end}']);
  assert.equal(r.stdout, 'alpha=base\nbeta=python\n');
  r = await e.skctl(['get', 'ses', 'alpha', '-o', 'jsonpath={.status.phase}']);
  assert.equal(r.stdout, 'Ready');
  r = await e.skctl(['get', 'ses', '-o', 'jsonpath={.items[?(@.spec.image=="python")].metadata.name}']);
  assert.equal(r.stdout, 'beta');
  r = await e.skctl(['get', 'ses', '-o', 'custom-columns=NAME:.metadata.name,NET:.spec.network.mode,PHASE:.status.phase']);
  assert.deepEqual(rows(r.stdout), [
    ['NAME', 'NET', 'PHASE'],
    ['alpha', 'none', 'Ready'],
    ['beta', 'host', '<none>'],
  ]);
  r = await e.skctl(['get', 'ses', '-o', 'jsonpath={.items[0'], {});
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*unclosed/);
  r = await e.skctl(['get', 'ses', '-o', 'yamll']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unable to match a printer suitable for the output format "yamll", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml/);
});

test('a missing name: the server\'s message, exit 1; the found ones still printed', async () => {
  let r = await e.skctl(['get', 'ses', 'alpha', 'nope', '-o', 'name']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'session.sandkasten.dev/alpha\n');
  assert.equal(r.stderr, 'Error from server (NotFound): sessions.sandkasten.dev "nope" not found\n');
  r = await e.skctl(['get', 'ses', 'nope', '--ignore-not-found']);
  assert.equal(r.code, 0);
  r = await e.skctl(['get', 'ses'], { env: { SANDKASTEN_API_KEY: 'wrong' } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error from server \(Unauthorized\): /);
});

test('-w prints the table, then a row per change', async () => {
  const w = startSkctl(e, ['get', 'ses', '-w']);
  try {
    await w.waitFor(/beta.*\n/);
    await e.client.create({ apiVersion: 'sandkasten.dev/v1', kind: 'Session', metadata: { name: 'delta' }, spec: { image: 'base' } });
    await w.waitFor(/delta/);
    await e.client.patch('ses', 'delta', { status: { phase: 'Starting' } }, { subresource: 'status' });
    await w.waitFor(/delta\s+Starting/);
    await e.client.delete('ses', 'delta');
    await w.waitFor(/delta[^\n]*\n[^]*delta[^\n]*\n[^]*delta/);
  } finally {
    assert.equal(await w.stop(), 0, 'Ctrl-C ends the watch cleanly');
  }
  const lines = w.output().trimEnd().split('\n');
  assert.match(lines[0]!, /^NAME\s+PHASE\s+IMAGE\s+AGE$/);
  assert.equal(lines.filter((l) => l.startsWith('NAME')).length, 1, 'one header');
  assert.deepEqual(lines.slice(3).map((l) => l.split(/\s+/).slice(0, 2).join(' ')), ['delta base', 'delta Starting', 'delta Starting']);

  const ev = startSkctl(e, ['get', 'ses', 'alpha', '-w', '--output-watch-events', '-o', 'wide']);
  try {
    await ev.waitFor(/ADDED\s+alpha/);
    await e.client.patch('ses', 'alpha', { metadata: { labels: { touched: 'yes' } } });
    await ev.waitFor(/MODIFIED\s+alpha/);
  } finally {
    await ev.stop();
  }
  assert.match(ev.output(), /^EVENT\s+NAME\s+PHASE/);
});
