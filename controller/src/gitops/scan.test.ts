// Reading a manifests directory: which files count, how documents and List items become objects,
// and what each kind of bad input reports.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryError, MAX_FILE_BYTES, parseManifests, scanDirectory } from './scan.js';
import { applySetId, syncObjectName } from './names.js';

const root = mkdtempSync(join(tmpdir(), 'sk-gitops-scan-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dir(files: Record<string, string>): string {
  const d = join(root, `d${n++}`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(d, rel, '..'), { recursive: true });
    writeFileSync(join(d, rel), text);
  }
  mkdirSync(d, { recursive: true });
  return d;
}

const ses = (name: string, extra = '') => `apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata:\n  name: ${name}\n${extra}`;

test('files: yaml, yml and json, recursively, sorted; dot files, dot directories and other files skipped', async () => {
  const d = dir({
    'b.yaml': ses('b'),
    'a/z.yml': ses('z'),
    'a/c.json': JSON.stringify({ apiVersion: 'sandkasten.dev/v1', kind: 'Workspace', metadata: { name: 'c' } }),
    'README.md': '# not a manifest',
    '.hidden.yaml': ses('hidden'),
    '.git/config.yaml': ses('git'),
    'x.yaml.bak': ses('bak'),
  });
  const r = await scanDirectory(d);
  assert.deepEqual(r.files, ['a/c.json', 'a/z.yml', 'b.yaml']);
  assert.deepEqual(r.manifests.map((m) => `${m.file}:${m.info.kind}/${m.namespace}/${m.name}`), ['a/c.json:Workspace/default/c', 'a/z.yml:Session/default/z', 'b.yaml:Session/default/b']);
  assert.deepEqual(r.errors, []);
});

test('documents, empty documents, List items, namespaces', () => {
  const text = [
    '# comment only',
    '---',
    ses('one'),
    '---',
    '',
    '---',
    'apiVersion: sandkasten.dev/v1\nkind: SessionList\nitems:\n  - apiVersion: sandkasten.dev/v1\n    kind: Session\n    metadata: {name: li, namespace: team}\n  - apiVersion: sandkasten.dev/v1\n    kind: Image\n    metadata: {name: img, namespace: ignored}\n    spec: {source: "builtin://base"}',
  ].join('\n');
  const r = parseManifests('f.yaml', text);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(
    r.manifests.map((m) => [m.document, m.fieldPrefix, m.info.kind, m.namespace, m.name]),
    [
      [0, '', 'Session', 'default', 'one'],
      [2, 'items[0].', 'Session', 'team', 'li'],
      [2, 'items[1].', 'Image', '', 'img'],
    ],
  );
  assert.equal((r.manifests[2]!.object.metadata as Record<string, unknown>).namespace, undefined, 'a namespace on a cluster-scoped kind is dropped, as kubectl does');
});

test('bad documents: each error has its document index and field', () => {
  const text = [
    ses('ok'),
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p}',
    'apiVersion: sandkasten.dev/v1\nkind: Event\nmetadata: {name: e}',
    'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata: {}',
    'apiVersion: sandkasten.dev/v1\nkind: Session\nmetadata: {generateName: g-}',
    '- just\n- a list',
    'a: b: c',
    'apiVersion: sandkasten.dev/v1\nkind: SessionList\nitems: [{apiVersion: sandkasten.dev/v1, kind: Session}]',
    'key: 1\nkey: 2',
  ].join('\n---\n');
  const r = parseManifests('bad.yaml', text);
  assert.deepEqual(r.manifests.map((m) => m.name), ['ok']);
  const byDoc = r.errors.map((e) => [e.document, e.field ?? '', e.message.replace(/: line \d+, column \d+: .*/, ': …')]);
  assert.deepEqual(byDoc, [
    [1, 'apiVersion', 'Unsupported value: "v1": supported values: "sandkasten.dev/v1"'],
    [2, 'kind', 'Unsupported value: "Event": supported values: "Session", "Workspace", "Image"'],
    [3, 'metadata.name', 'Required value: name is required'],
    [4, 'metadata.generateName', 'Forbidden: a manifest applied by GitOps needs a fixed name'],
    [5, '', 'expected a mapping with apiVersion, kind and metadata'],
    [6, '', 'invalid YAML: …'],
    [7, 'items[0].metadata', 'Required value: metadata with a name must be set'],
    [8, '', 'invalid YAML: …'],
  ]);
  assert.equal(r.unidentified, true);
  assert.ok(r.named.includes('Session/default/ok'));
});

test('duplicates across files: the later one is the error; held keys and broken files', async () => {
  const d = dir({ 'a.yaml': ses('dup'), 'b.yaml': `${ses('dup')}\n---\n${ses('other')}`, 'c.yaml': ses('c', 'spec: [unclosed\n') });
  const r = await scanDirectory(d);
  assert.deepEqual(r.manifests.map((m) => m.name), ['dup']);
  assert.deepEqual(r.errors[0], {
    file: 'b.yaml',
    document: 0,
    field: 'metadata.name',
    message: 'Duplicate value: Session default/dup is also declared in a.yaml (document 0)',
  });
  assert.deepEqual([...r.broken].sort(), ['b.yaml', 'c.yaml']);
  assert.deepEqual([...r.unknown], ['c.yaml']);
  assert.ok(r.heldKeys.has('Session/default/other'), 'objects named by a broken file are held');
});

test('symbolic links are followed only to files inside the directory', async () => {
  const outside = join(root, 'secret.yaml');
  writeFileSync(outside, 'password: hunter2\n');
  const d = dir({ 'real/x.yaml': ses('x') });
  symlinkSync(outside, join(d, 'leak.yaml'));
  symlinkSync(join(d, 'real/x.yaml'), join(d, 'inside.yaml'));
  symlinkSync(join(d, 'real'), join(d, 'dir-link.yaml'));
  symlinkSync(join(d, 'nowhere'), join(d, 'dangling.yaml'));
  const r = await scanDirectory(d);
  const byFile = Object.fromEntries(r.errors.map((e) => [e.file, e.message]));
  assert.deepEqual(byFile, {
    'leak.yaml': 'symbolic link to a file outside the directory: not followed',
    'dir-link.yaml': 'symbolic link to something other than a file: not followed',
    'dangling.yaml': 'cannot follow symbolic link: no such file or directory',
    'real/x.yaml': 'Duplicate value: Session default/x is also declared in inside.yaml (document 0)',
  });
  assert.doesNotMatch(JSON.stringify(r), /hunter2/);
  // inside.yaml is followed: it and real/x.yaml declare the same object.
  assert.deepEqual(r.manifests.map((m) => `${m.file}:${m.name}`), ['inside.yaml:x']);
});

test('a file over the size limit is an error, not read', async () => {
  const d = dir({ 'big.yaml': `${ses('big')}\n# ${'x'.repeat(MAX_FILE_BYTES)}\n` });
  const r = await scanDirectory(d);
  assert.deepEqual(r.errors, [{ file: 'big.yaml', message: `cannot read: file is larger than ${MAX_FILE_BYTES} bytes` }]);
  assert.deepEqual([...r.unknown], ['big.yaml']);
});

test('a missing or unreadable directory is a DirectoryError', async () => {
  await assert.rejects(scanDirectory(join(root, 'nope')), (e: unknown) => e instanceof DirectoryError && /no such file or directory/.test(e.message));
  const f = join(root, 'plain-file');
  writeFileSync(f, '');
  await assert.rejects(scanDirectory(f), DirectoryError);
});

test('names: DNS-1123, stable, distinct per directory', () => {
  assert.match(syncObjectName('/srv/My Manifests!'), /^my-manifests-[0-9a-f]{8}$/);
  assert.match(syncObjectName('/'), /^gitops-[0-9a-f]{8}$/);
  assert.ok(syncObjectName(`/x/${'a'.repeat(100)}`).length <= 63);
  assert.equal(syncObjectName('/a/manifests'), syncObjectName('/a/manifests'));
  assert.notEqual(syncObjectName('/a/manifests'), syncObjectName('/b/manifests'));
  assert.match(applySetId('/a/manifests'), /^gitops-[0-9a-f]{8}$/);
});
